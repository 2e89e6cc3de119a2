/**
 * What the word-based text encoders (`text/rnn`, `text/ngram`) share before their tensors: the prepared
 * value (a tokenized text), its checks, tokenizing a raw input, and fitting the word vocabulary.
 */
import { InvalidInputError, checkRawInput, describeValue } from '@mmfuse/core/base';
import type { PrepareContext, RawInputSpec } from '@mmfuse/core/base';
import type { Tokenizer } from './tokenizer.js';
import { Vocabulary } from './vocabulary.js';

/** What `prepare` returns: plain data, so it can be cached and sent to workers. */
export interface PreparedText {
  /** Tokens after cleaning, at most `tokenizer.maxLength`. */
  tokens: string[];
  /** True when the text was longer than `tokenizer.maxLength` tokens (the rest was dropped). */
  truncated: boolean;
}

export function isPreparedText(v: unknown): v is PreparedText {
  return typeof v === 'object' && v !== null && Array.isArray((v as PreparedText).tokens) && typeof (v as PreparedText).truncated === 'boolean';
}

/** Refuse (InvalidInputError naming the value's index) a batch value that has no token list: what `collate` needs. */
export function checkTokenized(v: unknown, i: number): asserts v is { tokens: string[] } {
  if (typeof v !== 'object' || v === null || !Array.isArray((v as PreparedText).tokens)) throw new InvalidInputError(`collate: value ${i} is ${describeValue(v)}, not a prepared text`, { sample: i });
}

/** A raw text input tokenized: refused (naming sample and field) when it is not a string or is over `input.maxBytes`. */
export async function tokenizeInput(raw: unknown, ctx: PrepareContext, input: RawInputSpec, tokenizer: () => Promise<Tokenizer>): Promise<PreparedText> {
  if (typeof raw !== 'string') {
    throw new InvalidInputError(`expected text (a string), got ${describeValue(raw)}`, { sample: ctx.sample, field: ctx.field });
  }
  checkRawInput(raw, input, ctx);
  return (await tokenizer()).tokenize(raw);
}

/** The word vocabulary of a training set's prepared texts. */
export function fitVocabulary(values: readonly PreparedText[], options: { minFrequency: number; maxVocabSize: number }): Vocabulary {
  values.forEach((v, i) => {
    if (!isPreparedText(v)) throw new InvalidInputError(`fit: value ${i} is ${describeValue(v)}, not a prepared text (call prepare first)`, { sample: i });
  });
  return Vocabulary.fit(values.map((v) => v.tokens), { minFrequency: options.minFrequency, maxVocabSize: options.maxVocabSize });
}
