/**
 * The `energy+nearest` out-of-scope score of a category output (config `output.outOfScope.score`): how
 * typical a request is of the data the model was trained on, from two signals a softmax probability misses.
 *
 * - energy: T · logsumexp(logits / T) at the calibration temperature (Liu et al., "Energy-based
 *   Out-of-distribution Detection", NeurIPS 2020): high when some label's logit is high in absolute terms;
 * - nearest: the cosine similarity of the request's fused representation (what the head reads) to its
 *   nearest in-scope training sample's (Sun et al., "Out-of-Distribution Detection with Deep Nearest
 *   Neighbors", ICML 2022).
 *
 * Each is turned into its percentile among the in-scope validation samples, and the score is the mean of the
 * two percentiles, in [0, 1] (0.5: as typical as the median validation request). The threshold is chosen on
 * it as on the top probability. Pure functions; shared by every runtime (TensorFlow.js, onnxruntime, the
 * browser page).
 */

/** Scores `output.outOfScope.score` can name. */
export const SCOPE_SCORES = ['probability', 'energy+nearest'] as const;
export type ScopeScoreName = (typeof SCOPE_SCORES)[number];

/** What a fitted `energy+nearest` score keeps (saved in the calibration). */
export interface ScopeReference {
  kind: 'energy+nearest';
  /** The in-scope validation samples' energies and nearest-neighbour similarities, each sorted ascending. */
  energy: number[];
  nearest: number[];
}

/** T · logsumexp(row / T). */
export function energyOf(row: ArrayLike<number>, temperature: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, (row[i] as number) / temperature);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp((row[i] as number) / temperature - max);
  return temperature * (max + Math.log(s));
}

/** The fraction of `sorted` (ascending) that is ≤ x. */
export function percentileOf(sorted: readonly number[], x: number): number {
  if (sorted.length === 0) return 0;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1; else hi = mid;
  }
  return lo / sorted.length;
}

/** The score of one request: its logits row and its fused representation's nearest in-scope similarity. */
export function scopeScore(reference: ScopeReference, logits: ArrayLike<number>, nearest: number, temperature: number): number {
  return (percentileOf(reference.energy, energyOf(logits, temperature)) + percentileOf(reference.nearest, nearest)) / 2;
}

/** The reference of a score fitted on in-scope validation samples (logit rows and nearest similarities). */
export function fitScopeReference(rows: readonly ArrayLike<number>[], nearest: readonly number[], temperature: number): ScopeReference {
  const sortNum = (a: number, b: number): number => a - b;
  // Six significant digits keep model.json small; percentiles move by less than one sample's share.
  const round = (v: number): number => Number(v.toPrecision(6));
  return {
    kind: 'energy+nearest',
    energy: rows.map((r) => round(energyOf(r, temperature))).sort(sortNum),
    nearest: nearest.map(round).sort(sortNum),
  };
}

/** Whether a saved reference is well formed (finite numbers, sorted ascending, both lists non-empty). */
export function isScopeReference(v: unknown): v is ScopeReference {
  const r = v as Partial<ScopeReference> | null;
  const sortedFinite = (a: unknown): boolean => Array.isArray(a) && a.length > 0 && a.every((x, i) => typeof x === 'number' && Number.isFinite(x) && (i === 0 || (a[i - 1] as number) <= x));
  return r !== null && typeof r === 'object' && r.kind === 'energy+nearest' && sortedFinite(r.energy) && sortedFinite(r.nearest);
}
