/**
 * Confidence calibration of a category output, fitted on validation data after training: temperature
 * scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017: one scalar T dividing the
 * logits, fitted by minimizing the validation negative log-likelihood; the argmax, so accuracy, never
 * changes) and the out-of-scope threshold on the calibrated top probability. Pure functions over float64.
 */
import { ModelFormatError, StateError } from '@mmfuse/core';
import { fitScopeReference, isScopeReference, scopeScore } from './scope.js';
import type { ScopeReference, ScopeScoreName } from './scope.js';

/** How a category output is calibrated and when a prediction is out of scope (config `output.calibration` / `output.outOfScope`). */
export interface CalibrationSettings {
  /** `temperature` (fitted on validation data) or `none`. */
  calibration: 'temperature' | 'none';
  /**
   * `auto`: the threshold is chosen on validation data (see `maxRejectedCorrect`); a number in [0, 1]: this
   * threshold; null: no out-of-scope answers.
   */
  threshold: 'auto' | number | null;
  /** `auto` only: the largest fraction of correctly answered validation samples the threshold may call out of scope. */
  maxRejectedCorrect: number;
  /** Labels whose examples are out-of-scope requests: predicting one is out of scope. Default none. */
  labels?: readonly string[];
  /**
   * What the threshold applies to: `probability` (the calibrated top probability; default) or
   * `energy+nearest` (outputs/scope.ts; needs each validation sample's nearest in-scope training similarity).
   */
  score?: ScopeScoreName;
}

/** Figures of the validation data a calibration was fitted on. */
export interface CalibrationValidation {
  /** Validation samples. */
  n: number;
  /** Expected calibration error (15 equal-width bins of the top probability) before and after scaling. */
  eceBefore: number;
  eceAfter: number;
  /** Mean negative log-likelihood of the true label before and after scaling. */
  nllBefore: number;
  nllAfter: number;
  /** Fraction of the validation samples (and of the correctly answered ones) below the out-of-scope threshold. */
  rejected?: number;
  rejectedCorrect?: number;
}

/** A fitted calibration, saved with the model. */
export interface Calibration {
  method: 'temperature' | 'none';
  /** Logits are divided by it before the softmax (1 = unchanged). */
  temperature: number;
  /** A prediction whose calibrated top probability is below this is out of scope; null: never. */
  outOfScopeThreshold: number | null;
  /** Where the threshold came from: chosen on validation data, set in the config, or none. */
  thresholdSource: 'validation' | 'config' | 'none';
  /** Labels whose examples are out-of-scope requests (config `outOfScope.labels`): a prediction of one is out of scope. Absent: none. */
  outOfScopeLabels?: string[];
  /** The validation figures, when validation data was there. */
  validation?: CalibrationValidation;
  /**
   * `energy+nearest` (outputs/scope.ts): the threshold applies to this score instead of the top probability.
   * Absent: the calibrated top probability.
   */
  score?: ScopeReference;
}

/** Whether a calibration does anything (scaling, a threshold, out-of-scope labels or a score): what is saved and shown. */
export function isCalibrated(c: Calibration): boolean {
  return c.method !== 'none' || c.outOfScopeThreshold !== null || c.outOfScopeLabels !== undefined || c.score !== undefined;
}

/** No scaling, no threshold (models saved before calibration existed). */
export const NO_CALIBRATION: Readonly<Calibration> = Object.freeze({ method: 'none', temperature: 1, outOfScopeThreshold: null, thresholdSource: 'none' });

/** Softmax of `row / temperature`, in float64. */
export function scaledSoftmax(row: ArrayLike<number>, temperature = 1): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, (row[i] as number) / temperature);
  const e = Array.from(row, (v) => Math.exp(v / temperature - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Mean negative log-likelihood of the true classes under softmax(logits / T). */
export function meanNll(rows: readonly ArrayLike<number>[], truth: readonly number[], temperature: number): number {
  let total = 0;
  rows.forEach((row, r) => {
    let max = -Infinity;
    for (let i = 0; i < row.length; i++) max = Math.max(max, (row[i] as number) / temperature);
    let s = 0;
    for (let i = 0; i < row.length; i++) s += Math.exp((row[i] as number) / temperature - max);
    total += max + Math.log(s) - (row[truth[r] as number] as number) / temperature;
  });
  return total / Math.max(1, rows.length);
}

/**
 * The temperature minimizing the mean NLL, searched over T in [0.05, 20]. The NLL is convex in 1/T (a
 * log-sum-exp of functions linear in 1/T, minus a linear one), so a golden-section search on 1/T finds its
 * minimum.
 */
export function fitTemperature(rows: readonly ArrayLike<number>[], truth: readonly number[]): number {
  if (rows.length === 0) return 1;
  const f = (beta: number): number => meanNll(rows, truth, 1 / beta);
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = 1 / 20;
  let b = 1 / 0.05;
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 80 && b - a > 1e-6; i++) {
    if (fc < fd) { b = d; d = c; fd = fc; c = b - phi * (b - a); fc = f(c); } else { a = c; c = d; fc = fd; d = a + phi * (b - a); fd = f(d); }
  }
  return 1 / ((a + b) / 2);
}

/**
 * Expected calibration error: the sample-weighted mean, over `bins` equal-width bins of the top
 * probability, of |accuracy − mean top probability| in the bin.
 */
export function expectedCalibrationError(probabilities: readonly (readonly number[])[], truth: readonly number[], bins = 15): number {
  const n = probabilities.length;
  if (n === 0) return 0;
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  probabilities.forEach((p, r) => {
    let top = 0;
    p.forEach((v, i) => { if (v > (p[top] as number)) top = i; });
    const c = p[top] as number;
    const bin = Math.min(bins - 1, Math.floor(c * bins));
    count[bin]! += 1;
    conf[bin]! += c;
    if (top === truth[r]) hits[bin]! += 1;
  });
  let ece = 0;
  for (let k = 0; k < bins; k++) if (count[k]! > 0) ece += Math.abs(hits[k]! - conf[k]!) / n;
  return ece;
}

/**
 * The out-of-scope threshold chosen on validation data: the highest top-probability threshold that calls
 * at most `maxRejectedCorrect` of the correctly answered samples out of scope (so the in-scope accuracy
 * drops by at most that much on validation data), or null when no sample was answered correctly.
 */
export function chooseThreshold(topProbabilities: readonly number[], correct: readonly boolean[], maxRejectedCorrect: number): number | null {
  const scores = topProbabilities.filter((_, i) => correct[i]).sort((a, b) => a - b);
  if (scores.length === 0) return null;
  // Samples strictly below scores[k] number at most k, so k = floor(rate × n) rejects at most that share.
  return scores[Math.min(scores.length - 1, Math.floor(maxRejectedCorrect * scores.length))] as number;
}

/**
 * Fit a calibration on validation head outputs (raw logits) and true class indices. `outOfScopeClasses`:
 * the indices of `settings.labels`; validation samples of those classes are not answers, so the threshold
 * is chosen on the correctly answered samples of the other classes.
 */
export function fitCalibration(rows: readonly ArrayLike<number>[], truth: readonly number[], settings: CalibrationSettings, outOfScopeClasses: readonly number[] = [], nearest?: readonly number[]): Calibration {
  const temperature = settings.calibration === 'temperature' && rows.length > 0 ? fitTemperature(rows, truth) : 1;
  const method = settings.calibration === 'temperature' && rows.length > 0 ? 'temperature' : 'none';
  const fixed = typeof settings.threshold === 'number' ? settings.threshold : null;
  if (rows.length === 0) {
    return fixed === null ? { ...NO_CALIBRATION } : { method: 'none', temperature: 1, outOfScopeThreshold: fixed, thresholdSource: 'config' };
  }
  const before = rows.map((r) => scaledSoftmax(r, 1));
  const after = rows.map((r) => scaledSoftmax(r, temperature));
  const oos = new Set(outOfScopeClasses);
  const inScope = truth.map((t) => !oos.has(t));
  const correct = after.map((p, i) => p.indexOf(Math.max(...p)) === truth[i] && inScope[i] === true);
  // The score the threshold applies to: the top probability, or energy+nearest fitted on the in-scope samples.
  let reference: ScopeReference | undefined;
  let top = after.map((p) => Math.max(...p));
  if (settings.score === 'energy+nearest') {
    if (nearest === undefined || nearest.length !== rows.length) throw new StateError('fitCalibration: the energy+nearest score needs one nearest similarity per validation row');
    const kept = rows.flatMap((r, i) => (inScope[i] ? [i] : []));
    if (kept.length > 0) {
      reference = fitScopeReference(kept.map((i) => rows[i] as ArrayLike<number>), kept.map((i) => nearest[i] as number), temperature);
      top = rows.map((r, i) => scopeScore(reference!, r, nearest[i] as number, temperature));
    }
  }
  const threshold = fixed ?? (settings.threshold === 'auto' ? chooseThreshold(top, correct, settings.maxRejectedCorrect) : null);
  const validation: CalibrationValidation = {
    n: rows.length,
    eceBefore: expectedCalibrationError(before, truth),
    eceAfter: expectedCalibrationError(after, truth),
    nllBefore: meanNll(rows, truth, 1),
    nllAfter: meanNll(rows, truth, temperature),
  };
  if (threshold !== null) {
    const nCorrect = correct.filter(Boolean).length;
    validation.rejected = top.filter((t) => t < threshold).length / rows.length;
    validation.rejectedCorrect = nCorrect === 0 ? 0 : top.filter((t, i) => correct[i] && t < threshold).length / nCorrect;
  }
  const fitted: Calibration = { method, temperature, outOfScopeThreshold: threshold, thresholdSource: threshold === null ? 'none' : fixed !== null ? 'config' : 'validation', validation };
  if (reference !== undefined) fitted.score = reference;
  return fitted;
}

/** Check a saved calibration (model.json); throws ModelFormatError when it is malformed. */
export function checkSavedCalibration(saved: unknown): Calibration {
  const c = saved as Partial<Calibration> | null;
  const ok = c !== null && typeof c === 'object'
    && (c.method === 'temperature' || c.method === 'none')
    && typeof c.temperature === 'number' && Number.isFinite(c.temperature) && c.temperature > 0
    && (c.outOfScopeThreshold === null || (typeof c.outOfScopeThreshold === 'number' && c.outOfScopeThreshold >= 0 && c.outOfScopeThreshold <= 1))
    && (c.thresholdSource === 'validation' || c.thresholdSource === 'config' || c.thresholdSource === 'none')
    && (c.outOfScopeLabels === undefined || (Array.isArray(c.outOfScopeLabels) && c.outOfScopeLabels.every((l) => typeof l === 'string')))
    && (c.score === undefined || isScopeReference(c.score));
  if (!ok) {
    const shown = JSON.stringify(saved, (k, v: unknown) => (k === 'energy' || k === 'nearest') && Array.isArray(v) ? `[${v.length} numbers]` : v);
    throw new ModelFormatError(`a saved calibration needs method, a positive temperature, outOfScopeThreshold (null or in [0, 1]), thresholdSource and, when present, outOfScopeLabels (a list of labels) and score (energy+nearest with sorted, finite energy and nearest lists), got ${shown}`);
  }
  return JSON.parse(JSON.stringify(c)) as Calibration;
}
