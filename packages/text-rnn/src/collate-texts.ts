/**
 * The batch layout of `text/rnn` (what its `collate` stacks into tensors) as a pure function over typed
 * arrays, so every runtime (Node, the browser page of the bot) builds the same graph inputs from tokens.
 */
import { checkTokenized } from './prepared-text.js';
import { charNgramIds } from './char-ngrams.js';
import type { ResolvedCharNgramOptions } from './char-ngrams.js';
import { CLS_ID } from './vocabulary.js';
import type { Vocabulary } from './vocabulary.js';

/** Options of `collateTexts`. */
export interface CollateTextsOptions {
  /** Prepend the reserved CLS id to every text. */
  addCls: boolean;
  /** Hashed character n-grams (resolved options), or false. */
  charNgrams: ResolvedCharNgramOptions | false;
  /** Memo of each token's n-gram ids (shared between calls). */
  ngramCache?: Map<string, number[]>;
}

/**
 * A batch of tokenized texts: `ids` [B, T] (0 = padding; T = the longest text, at least 1), `lengths` [B],
 * and with n-grams `ngrams` [U, K] (bucket ids, 0 = none; row 0 = no token; one row per distinct token)
 * and `ngramIndex` [B, T] (each step's row in `ngrams`).
 */
export function collateTexts(values: readonly { tokens: string[] }[], vocab: Vocabulary, options: CollateTextsOptions): { ids: Int32Array; lengths: Int32Array; steps: number; ngrams?: { data: Int32Array; rows: number; perToken: number }; ngramIndex?: Int32Array } {
  const extra = options.addCls ? 1 : 0;
  let steps = 1;
  values.forEach((v, i) => {
    checkTokenized(v, i);
    steps = Math.max(steps, v.tokens.length + extra);
  });
  const ids = new Int32Array(values.length * steps);
  const lengths = new Int32Array(values.length);
  values.forEach((v, b) => {
    let t = b * steps;
    if (extra === 1) ids[t++] = CLS_ID;
    ids.set(vocab.toIds(v.tokens), t);
    lengths[b] = v.tokens.length + extra;
  });
  const ngramOptions = options.charNgrams;
  if (ngramOptions === false) return { ids, lengths, steps };
  const cache = options.ngramCache;
  const rowOf = new Map<string, number>();
  const lists: number[][] = [[]]; // row 0: no token (padding, CLS)
  const index = new Int32Array(values.length * steps);
  values.forEach((v, b) => v.tokens.forEach((token, i) => {
    let row = rowOf.get(token);
    if (row === undefined) {
      row = lists.length;
      rowOf.set(token, row);
      let grams = cache?.get(token);
      if (grams === undefined) {
        grams = charNgramIds(token, ngramOptions);
        if (cache !== undefined && cache.size < 200_000) cache.set(token, grams);
      }
      lists.push(grams);
    }
    index[b * steps + i + extra] = row;
  }));
  const k = Math.max(1, ...lists.map((l) => l.length));
  const flat = new Int32Array(lists.length * k);
  lists.forEach((l, r) => flat.set(l, r * k));
  return { ids, lengths, steps, ngrams: { data: flat, rows: lists.length, perToken: k }, ngramIndex: index };
}
