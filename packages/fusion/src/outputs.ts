/** From head outputs to predictions, and the JS-side targets and losses used by training and evaluation. */
import type { OutputType } from './config.js';
import type { BatchTargets } from './heads.js';
import type { Target } from './targets.js';

export interface Prediction {
  /** Category: the label; multi-label: every label with probability >= 0.5; regression: the first value. */
  label: string | string[] | number;
  /** Category and multi-label: each label's probability. */
  probabilities?: Record<string, number>;
  /** Regression: every predicted value. */
  value?: number[];
  /**
   * Per input field used: how much it moved the answer, measured by removing it. Category / multi-label:
   * top probability with every input minus the probability of the same label without this field;
   * regression: first value with every input minus the value without this field.
   */
  contributions?: Record<string, number>;
  /** Input fields that were present and used. */
  modalitiesUsed: string[];
}

export interface OutputSpec {
  type: OutputType;
  labels: string[];
  outDim: number;
  targetStats?: { mean: number[]; std: number[] };
}

function softmaxRow(row: Float32Array): number[] {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  const e = Array.from(row, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Probabilities (category / multi-label) or de-standardized values (regression) of one output row. */
export function outputValues(spec: OutputSpec, row: Float32Array): number[] {
  if (spec.type === 'category') return softmaxRow(row);
  if (spec.type === 'multi-label') return Array.from(row, (v) => 1 / (1 + Math.exp(-v)));
  const st = spec.targetStats as { mean: number[]; std: number[] };
  return Array.from(row, (v, i) => v * (st.std[i] as number) + (st.mean[i] as number));
}

/** The index whose probability is highest (category), or 0 (the first value) otherwise. */
export function topIndex(spec: OutputSpec, values: number[]): number {
  if (spec.type === 'regression') return 0;
  let best = 0;
  values.forEach((v, i) => { if (v > (values[best] as number)) best = i; });
  return best;
}

export function toPrediction(spec: OutputSpec, values: number[], modalitiesUsed: string[]): Prediction {
  if (spec.type === 'regression') return { label: values[0] as number, value: values, modalitiesUsed };
  const probabilities: Record<string, number> = {};
  spec.labels.forEach((l, i) => { probabilities[l] = values[i] as number; });
  const label = spec.type === 'category' ? (spec.labels[topIndex(spec, values)] as string) : spec.labels.filter((_, i) => (values[i] as number) >= 0.5);
  return { label, probabilities, modalitiesUsed };
}

/** Targets of a batch for the loss. `classWeights[k]` per label (category: per sample by its label). */
export function batchTargets(spec: OutputSpec, targets: readonly Target[], classWeights?: number[]): BatchTargets {
  const k = spec.outDim;
  const values = new Float32Array(targets.length * k);
  targets.forEach((t, r) => {
    if (spec.type === 'category') values[r * k + spec.labels.indexOf(t as string)] = 1;
    else if (spec.type === 'multi-label') for (const l of t as string[]) { const i = spec.labels.indexOf(l); if (i >= 0) values[r * k + i] = 1; }
    else {
      const st = spec.targetStats as { mean: number[]; std: number[] };
      (t as number[]).forEach((v, i) => { values[r * k + i] = (v - (st.mean[i] as number)) / (st.std[i] as number); });
    }
  });
  if (classWeights === undefined || spec.type === 'regression') return { values };
  if (spec.type === 'multi-label') return { values, weights: Float32Array.from(classWeights) };
  return { values, weights: Float32Array.from(targets, (t) => classWeights[spec.labels.indexOf(t as string)] as number) };
}

/** Plain (unsmoothed, unweighted) loss of one output row, in JS: for validation. */
export function rowLoss(spec: OutputSpec, row: Float32Array, target: Target): number {
  if (spec.type === 'category') {
    const p = softmaxRow(row)[spec.labels.indexOf(target as string)] as number;
    return -Math.log(Math.max(p, 1e-12));
  }
  if (spec.type === 'multi-label') {
    let s = 0;
    row.forEach((x, i) => {
      const y = (target as string[]).includes(spec.labels[i] as string) ? 1 : 0;
      s += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    });
    return s / row.length;
  }
  const st = spec.targetStats as { mean: number[]; std: number[] };
  let s = 0;
  row.forEach((x, i) => { const y = (((target as number[])[i] as number) - (st.mean[i] as number)) / (st.std[i] as number); s += (x - y) ** 2; });
  return s / row.length;
}
