/**
 * @mmfuse/text-rnn: tokenizers (word, character, CJK-aware, subword) and the `text/rnn` encoder
 * (embedding + stacked, optionally bidirectional LSTM/GRU) and the frozen `text/pretrained` encoder (a local
 * transformers.js model). Importing this module registers both encoders; `@mmfuse/text-rnn/tokenizers` has
 * the tokenizers alone, with no side effects.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { TEXT_MAX_BYTES, textPretrainedOptionsSchema, textRnnOptionsSchema } from './options.js';
import { TextRnnEncoder } from './text-rnn-encoder.js';
import type { TextRnnEncoderConfig } from './text-rnn-encoder.js';
import { TextPretrainedEncoder } from './text-pretrained-encoder.js';
import type { TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';

export * from './tokenizers.js';
export { TEXT_MAX_BYTES, charNgramOptionsSchema, textPretrainedOptionsSchema, textRnnOptionsSchema, tokenizerOptionsSchema } from './options.js';

export { RecurrentLayer } from './recurrent-layer.js';
export type { RecurrentApplyOptions, RecurrentCell, RecurrentLayerArgs, RecurrentOutput } from './recurrent-layer.js';
export { TextRnnEncoder } from './text-rnn-encoder.js';
export type { EmbeddingLookup, PreparedText, TextRnnEncoderConfig } from './text-rnn-encoder.js';
export { TextPretrainedEncoder } from './text-pretrained-encoder.js';
export type { PreparedTextEmbedding, TextPooling, TextPretrainedEncoderConfig } from './text-pretrained-encoder.js';

declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'text/rnn': TextRnnEncoderConfig;
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
  kind: TextPretrainedEncoder.kind,
  modality: 'text',
  options: textPretrainedOptionsSchema,
  input: { kind: 'text', maxBytes: TEXT_MAX_BYTES },
  factory: (options) => new TextPretrainedEncoder(options),
  description: 'text: frozen token/sentence embeddings from a local transformers.js model folder',
});
