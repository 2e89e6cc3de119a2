/**
 * @mmfuse/text-rnn: tokenizers (word, character, CJK-aware, subword) and the `text/rnn` encoder
 * (embedding + stacked, optionally bidirectional LSTM/GRU), the `text/ngram` encoder (fastText-style hashed
 * n-grams) and the frozen `text/pretrained` encoder (a local
 * transformers.js model). Importing this module registers the three encoders; `@mmfuse/text-rnn/tokenizers` has
 * the tokenizers alone, with no side effects.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { TEXT_MAX_BYTES, textNgramOptionsSchema, textPretrainedOptionsSchema, textRnnOptionsSchema } from './options.js';
import { TextNgramEncoder } from './text-ngram-encoder.js';
import type { TextNgramEncoderConfig } from './text-ngram-encoder.js';
import { TextRnnEncoder } from './text-rnn-encoder.js';
import type { TextRnnEncoderConfig } from './text-rnn-encoder.js';
import { TextPretrainedEncoder } from './text-pretrained-encoder.js';
import type { TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';

export * from './tokenizers.js';
export { TEXT_MAX_BYTES, charNgramOptionsSchema, ngramCharOptionsSchema, textNgramOptionsSchema, textPretrainedOptionsSchema, textRnnOptionsSchema, tokenizerOptionsSchema } from './options.js';

export { RecurrentLayer } from './recurrent-layer.js';
export type { RecurrentApplyOptions, RecurrentCell, RecurrentLayerArgs, RecurrentOutput } from './recurrent-layer.js';
export { TextRnnEncoder } from './text-rnn-encoder.js';
export type { EmbeddingLookup, PreparedText, TextRnnEncoderConfig } from './text-rnn-encoder.js';
export { TextNgramEncoder } from './text-ngram-encoder.js';
export type { NgramCharOptions, NgramOutput, ResolvedTextNgramConfig, TextNgramEncoderConfig } from './text-ngram-encoder.js';
export { TextPretrainedEncoder } from './text-pretrained-encoder.js';
export type { PreparedTextEmbedding, TextPooling, TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';

declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'text/rnn': TextRnnEncoderConfig;
    'text/ngram': TextNgramEncoderConfig;
    'text/pretrained': TextPretrainedEncoderConfig;
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
