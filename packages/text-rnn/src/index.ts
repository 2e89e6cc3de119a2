/**
 * @mmfuse/text-rnn: tokenizers (word, character, CJK-aware, subword) and the `text/rnn` encoder
 * (embedding + stacked, optionally bidirectional LSTM/GRU) and the frozen `text/pretrained` encoder (a local
 * transformers.js model). Importing this module registers both encoders.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { TextRnnEncoder } from './text-rnn-encoder.js';
import type { TextRnnEncoderConfig } from './text-rnn-encoder.js';
import { TextPretrainedEncoder } from './text-pretrained-encoder.js';
import type { TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';

export { normalizeText, replaceLoneSurrogates } from './normalize-text.js';
export type { NormalizeTextOptions } from './normalize-text.js';
export { CLS_ID, PAD_ID, RESERVED_TOKENS, UNKNOWN_ID, Vocabulary } from './vocabulary.js';
export type { VocabularyFitOptions } from './vocabulary.js';
export { Tokenizer } from './tokenizer.js';
export type { TokenizedText, TokenizerOptions, TokenizerType } from './tokenizer.js';
export { WordTokenizer } from './word-tokenizer.js';
export { CharTokenizer } from './char-tokenizer.js';
export { CjkTokenizer, isCjkCharacter } from './cjk-tokenizer.js';
export { SubwordTokenizer } from './subword-tokenizer.js';
export type { SubwordTokenizerOptions } from './subword-tokenizer.js';
export { TOKENIZER_TYPES, createTokenizer, tokenizerFromJSON } from './create-tokenizer.js';
export type { TokenizerConfig } from './create-tokenizer.js';
export { charNgramIds } from './char-ngrams.js';
export type { CharNgramOptions } from './char-ngrams.js';
export { RecurrentLayer } from './recurrent-layer.js';
export type { RecurrentApplyOptions, RecurrentCell, RecurrentLayerArgs, RecurrentOutput } from './recurrent-layer.js';
export { TextRnnEncoder } from './text-rnn-encoder.js';
export type { EmbeddingLookup, PreparedText, TextRnnEncoderConfig } from './text-rnn-encoder.js';
export { TextPretrainedEncoder } from './text-pretrained-encoder.js';
export type { PreparedTextEmbedding, TextPooling, TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';

registerEncoderOnce(TextRnnEncoder.kind, 'text', (config) => new TextRnnEncoder(config as TextRnnEncoderConfig), 'text: word/char/CJK/subword tokens → embedding → (bi)LSTM/GRU sequence');
registerEncoderOnce(TextPretrainedEncoder.kind, 'text', (config) => new TextPretrainedEncoder(config as unknown as TextPretrainedEncoderConfig), 'text: frozen token/sentence embeddings from a local transformers.js model folder');
