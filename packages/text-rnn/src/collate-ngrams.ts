/**
 * The features of `text/ngram` for a batch of tokenized texts, as plain arrays: the table row of every
 * feature (a word of the vocabulary, a hashed word n-gram, a hashed character n-gram) and the output step it
 * belongs to. TensorFlow.js-free, so the encoder's `collate` and a browser page preparing inputs for the
 * exported ONNX graph compute the same rows.
 */
import { hashString } from '@mmfuse/core/base';
import { charNgramIds } from './char-ngrams.js';
import { checkTokenized } from './prepared-text.js';
import { UNKNOWN_ID } from './vocabulary.js';
import type { Vocabulary } from './vocabulary.js';

/** Salt of the word n-gram hashes, so a word pair and a character n-gram that spell alike land apart. */
const WORD_NGRAM_SEED = 0x5bd1e995;

/** The feature settings of `text/ngram` (its resolved config). */
export interface NgramFeatureOptions {
  wordNgrams: number;
  buckets: number;
  charNgrams: { minN: number; maxN: number; maxPerToken: number } | false;
  output: 'pooled' | 'tokens';
}

/** What `collateNgrams` returns (see the encoder's `collate` for the meaning of each array). */
export interface CollatedNgrams {
  rows: Int32Array;
  slots: Int32Array;
  featureMask: Float32Array;
  lengths: Int32Array;
  order: Int32Array;
  /** Output steps per text: 1 (pooled) or the longest text (at least 1). */
  steps: number;
}

/** Table rows of one token's features at position t, appended to `out`. */
function featuresAt(tokens: readonly string[], t: number, vocab: Vocabulary, o: NgramFeatureOptions, cache: Map<string, number[]>, out: number[]): void {
  const base = vocab.size - 1; // hashed id h (1..buckets) is row base + h
  const token = tokens[t] as string;
  const word = vocab.idOf(token);
  if (word !== UNKNOWN_ID) out.push(word);
  for (let n = 2; n <= o.wordNgrams && t + n <= tokens.length; n++) {
    out.push(base + 1 + (hashString(tokens.slice(t, t + n).join(' '), WORD_NGRAM_SEED) % o.buckets));
  }
  if (o.charNgrams !== false) {
    let ids = cache.get(token);
    if (ids === undefined) {
      ids = charNgramIds(token, { ...o.charNgrams, buckets: o.buckets });
      if (cache.size < 200_000) cache.set(token, ids);
    }
    for (const h of ids) out.push(base + h);
  }
}

/**
 * The batch's features (no padding). A batch without any feature gets one placeholder (row 0, slot 0) with
 * `featureMask` 0. `cache` keeps character n-gram ids per token between calls. A value without a token list is
 * an InvalidInputError naming its index.
 */
export function collateNgrams(texts: readonly { tokens: readonly string[] }[], vocab: Vocabulary, options: NgramFeatureOptions, cache: Map<string, number[]> = new Map()): CollatedNgrams {
  const pooled = options.output === 'pooled';
  let longest = 1;
  texts.forEach((v, i) => {
    checkTokenized(v, i);
    longest = Math.max(longest, v.tokens.length);
  });
  const rows: number[] = [];
  const slots: number[] = [];
  const lengths = new Int32Array(texts.length);
  texts.forEach((v, b) => {
    lengths[b] = v.tokens.length;
    for (let t = 0; t < v.tokens.length; t++) {
      const before = rows.length;
      featuresAt(v.tokens, t, vocab, options, cache, rows);
      const slot = pooled ? b : b * longest + t;
      for (let i = before; i < rows.length; i++) slots.push(slot);
    }
  });
  const n = rows.length;
  const featureMask = new Float32Array(Math.max(1, n)).fill(n === 0 ? 0 : 1);
  if (n === 0) { rows.push(0); slots.push(0); }
  return { rows: Int32Array.from(rows), slots: Int32Array.from(slots), featureMask, lengths, order: Int32Array.from(texts, (_, b) => b), steps: pooled ? 1 : longest };
}
