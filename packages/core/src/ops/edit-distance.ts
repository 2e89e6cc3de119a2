/** Levenshtein distance and the error rate built on it (phoneme, character or word error rate). */
import { ConfigError } from '../errors.js';

/** Substitutions + insertions + deletions turning `reference` into `hypothesis` (unit costs). */
export function editDistance<T>(reference: ArrayLike<T>, hypothesis: ArrayLike<T>): number {
  const n = reference.length;
  const m = hypothesis.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    const r = reference[i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = (prev[j - 1] as number) + (r === hypothesis[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[m] as number;
}

/** Result of `errorRate`. */
export interface ErrorRate {
  /** Total edits divided by total reference length (can exceed 1 with many insertions). */
  rate: number;
  /** Total edit distance. */
  edits: number;
  /** Total reference length. */
  referenceLength: number;
}

/**
 * Corpus error rate: the sum of edit distances over the sum of reference lengths (e.g. PER over phoneme
 * sequences, CER over the characters of strings).
 * @throws ConfigError when the lists differ in length or every reference is empty.
 */
export function errorRate<T>(references: readonly ArrayLike<T>[], hypotheses: readonly ArrayLike<T>[]): ErrorRate {
  if (references.length !== hypotheses.length) throw new ConfigError(`${references.length} references but ${hypotheses.length} hypotheses`, { path: 'hypotheses' });
  let edits = 0;
  let referenceLength = 0;
  references.forEach((r, i) => {
    edits += editDistance(r, hypotheses[i] as ArrayLike<T>);
    referenceLength += r.length;
  });
  if (referenceLength === 0) throw new ConfigError('every reference is empty; the error rate is undefined', { path: 'references' });
  return { rate: edits / referenceLength, edits, referenceLength };
}
