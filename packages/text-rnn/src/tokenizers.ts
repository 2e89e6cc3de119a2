/**
 * `@mmfuse/text-rnn/tokenizers`: text normalization, the word, character, CJK and subword tokenizers, the
 * SentencePiece unigram segmenter and the input side of the Universal Sentence Encoder lite, the
 * vocabulary and hashed character n-grams. Side-effect free: importing it registers no encoder and does
 * not load TensorFlow.js (a subword tokenizer loads transformers.js only when created).
 */
export { normalizeText, replaceLoneSurrogates } from './normalize-text.js';
export type { NormalizeTextOptions } from './normalize-text.js';
export { CLS_ID, PAD_ID, RESERVED_TOKENS, UNKNOWN_ID, Vocabulary } from './vocabulary.js';
export type { VocabularyFitOptions } from './vocabulary.js';
export { Tokenizer } from './tokenizer.js';
export type { TokenizedText, TokenizerOptions, TokenizerType } from './tokenizer.js';
export { WordTokenizer } from './word-tokenizer.js';
export { CharTokenizer } from './char-tokenizer.js';
export { CjkTokenizer, isCjkCharacter } from './cjk-tokenizer.js';
export type { CjkSplit, CjkTokenizerOptions } from './cjk-tokenizer.js';
export { SubwordTokenizer } from './subword-tokenizer.js';
export type { SubwordTokenizerOptions } from './subword-tokenizer.js';
export { TOKENIZER_TYPES, createTokenizer, tokenizerFromJSON } from './create-tokenizer.js';
export type { TokenizerConfig } from './create-tokenizer.js';
export { charNgramIds } from './char-ngrams.js';
export type { CharNgramOptions } from './char-ngrams.js';
export { DEFAULT_TEXT_CORRUPTION, corruptText, resolveTextCorruption } from './corrupt-text.js';
export type { ResolvedTextCorruption, TextCorruptionOptions } from './corrupt-text.js';
export { collateTexts } from './collate-texts.js';
export type { CollateTextsOptions } from './collate-texts.js';
export { resolveCharNgramOptions } from './char-ngrams.js';
export { collateNgrams } from './collate-ngrams.js';
export type { CollatedNgrams, NgramFeatureOptions } from './collate-ngrams.js';
export { SENTENCEPIECE_SPACE, SentencePieceUnigram } from './sentencepiece.js';
export type { SentencePieceOptions } from './sentencepiece.js';
export { USE_DIM, USE_GRAPH_MAX_TOKENS, USE_RESERVED_PIECES, useSparseInputs, useTokenIds } from './use-input.js';
