/**
 * @mmfuse/text-rnn: tokenizers (word, character, CJK-aware, subword) and the `text/rnn` encoder
 * (embedding + stacked, optionally bidirectional LSTM/GRU), the `text/ngram` encoder (fastText-style hashed
 * n-grams), the frozen `text/pretrained` encoder (a local transformers.js model) and the frozen `text/use`
 * encoder (the Universal Sentence Encoder lite). Importing this module registers the four encoders; `@mmfuse/text-rnn/tokenizers` has
 * the tokenizers alone, with no side effects.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { TEXT_MAX_BYTES, textNgramOptionsSchema, textPretrainedOptionsSchema, textRnnOptionsSchema, textUseOptionsSchema } from './options.js';
import { TextNgramEncoder } from './text-ngram-encoder.js';
import type { TextNgramEncoderConfig } from './text-ngram-encoder.js';
import { TextRnnEncoder } from './text-rnn-encoder.js';
import type { TextRnnEncoderConfig } from './text-rnn-encoder.js';
import { TextPretrainedEncoder } from './text-pretrained-encoder.js';
import type { TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';
import { TextUseEncoder } from './text-use-encoder.js';
import type { TextUseEncoderConfig } from './text-use-encoder.js';

export * from './tokenizers.js';
export { TEXT_MAX_BYTES, charNgramOptionsSchema, ngramCharOptionsSchema, textNgramOptionsSchema, textPretrainedOptionsSchema, textRnnOptionsSchema, textUseOptionsSchema, tokenizerOptionsSchema } from './options.js';

export { RecurrentLayer } from './recurrent-layer.js';
export type { RecurrentApplyOptions, RecurrentCell, RecurrentLayerArgs, RecurrentOutput } from './recurrent-layer.js';
export { TextRnnEncoder } from './text-rnn-encoder.js';
export type { EmbeddingLookup, PreparedText, TextRnnEncoderConfig } from './text-rnn-encoder.js';
export { TextNgramEncoder } from './text-ngram-encoder.js';
export type { NgramCharOptions, NgramOutput, ResolvedTextNgramConfig, TextNgramEncoderConfig } from './text-ngram-encoder.js';
export { TextPretrainedEncoder } from './text-pretrained-encoder.js';
export type { TextPooling, TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';
export type { PreparedTextEmbedding } from './frozen-text-encoder.js';
export { TextUseEncoder, USE_MODEL_PACKAGE, defaultUseModelPath } from './text-use-encoder.js';
export type { TextUseEncoderConfig } from './text-use-encoder.js';

declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'text/rnn': TextRnnEncoderConfig;
    'text/ngram': TextNgramEncoderConfig;
    'text/pretrained': TextPretrainedEncoderConfig;
    'text/use': TextUseEncoderConfig;
  }
}

registerEncoderOnce({
  kind: TextRnnEncoder.kind,
  modality: 'text',
  options: textRnnOptionsSchema,
  input: { kind: 'text', maxBytes: TEXT_MAX_BYTES },
  factory: (options) => new TextRnnEncoder(options),
  description: 'text: word/char/CJK/subword tokens → embedding → (bi)LSTM/GRU sequence',
});
registerEncoderOnce({
  kind: TextNgramEncoder.kind,
  modality: 'text',
  options: textNgramOptionsSchema,
  input: { kind: 'text', maxBytes: TEXT_MAX_BYTES },
  factory: (options) => new TextNgramEncoder(options),
  description: 'text: fastText-style mean of hashed word and character n-gram embeddings (pooled or per token)',
});
registerEncoderOnce({
  kind: TextPretrainedEncoder.kind,
  modality: 'text',
  options: textPretrainedOptionsSchema,
  input: { kind: 'text', maxBytes: TEXT_MAX_BYTES },
  factory: (options) => new TextPretrainedEncoder(options),
  description: 'text: frozen token/sentence embeddings from a local transformers.js model folder',
});
registerEncoderOnce({
  kind: TextUseEncoder.kind,
  modality: 'text',
  options: textUseOptionsSchema,
  input: { kind: 'text', maxBytes: TEXT_MAX_BYTES },
  factory: (options) => new TextUseEncoder(options),
  description: 'text: frozen English sentence embedding (Universal Sentence Encoder lite, TensorFlow.js graph model)',
});
