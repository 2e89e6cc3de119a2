/** Evaluation of a trained state on prepared samples, with per-input ablation. */
import { createRecord } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { outputRows, outputRowsWithNearest, scopeScores } from './infer.js';
import type { ClassMetrics } from './metrics.js';
import { expectedCalibrationError, scaledSoftmax } from './outputs/calibration.js';
import type { FittedOutput, Target } from './outputs/index.js';
import type { FusionState } from './state.js';

export interface EvaluationReport {
  n: number;
  /** Category: accuracy; multi-label: exact-match ratio; regression: NaN (see `regression`). */
  accuracy: number;
  /** Macro-F1 over labels (NaN for regression). */
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** Category: confusion[true][predicted] in `labels` order (empty for other outputs). */
  confusion: { labels: string[]; matrix: number[][] };
  /** Regression: mean absolute error, root mean squared error, R² (over all output values). */
  regression?: { mae: number; rmse: number; r2: number };
  /** Category: expected calibration error of the model's (calibrated) top probabilities, 15 bins. */
  ece?: number;
  /** Category with temperature scaling: the same error of the raw softmax (temperature 1), for comparison. */
  eceUncalibrated?: number;
  /** Category with an out-of-scope threshold: the fraction of samples predicted out of scope. */
  outOfScope?: number;
  skipped: SkippedSample[];
  /** The same samples scored with one input field removed from every sample. */
  ablation?: Record<string, { accuracy: number; macroF1: number; regression?: { mae: number; rmse: number; r2: number } }>;
}

/**
 * A report from head outputs: `full[i]` of sample i with every input and, for the ablation, `ablation[m][i]`
 * with input m hidden from every sample. Shared by every runtime.
 */
export function reportFromRows(output: FittedOutput, fields: readonly string[], targets: readonly Target[], full: readonly Float32Array[], skipped: SkippedSample[], ablation?: readonly (readonly Float32Array[])[], nearest?: readonly number[]): EvaluationReport {
  const score = (rows: readonly Float32Array[], scope?: readonly number[]) => output.score(rows.map((r) => output.values(r)), targets, scope);
  const all = score(full, scopeScores(output, full, nearest));
  const report: EvaluationReport = { n: targets.length, accuracy: all.accuracy, macroF1: all.macroF1, perClass: all.perClass, confusion: all.confusion, skipped };
  if (all.regression !== undefined) report.regression = all.regression;
  if (all.ece !== undefined) report.ece = all.ece;
  if (all.ece !== undefined && output.calibration !== undefined && output.calibration.temperature !== 1) {
    const index = new Map(output.labels.map((l, i) => [l, i]));
    report.eceUncalibrated = expectedCalibrationError(full.map((r) => scaledSoftmax(r, 1)), targets.map((t) => index.get(t as string) as number));
  }
  if (all.outOfScope !== undefined) report.outOfScope = all.outOfScope;
  if (ablation !== undefined && targets.length > 0) {
    report.ablation = createRecord(); // keyed by input field names (`constructor` is one)
    fields.forEach((field, m) => {
      const s = score(ablation[m] as readonly Float32Array[]);
      report.ablation![field] = s.regression === undefined ? { accuracy: s.accuracy, macroF1: s.macroF1 } : { accuracy: s.accuracy, macroF1: s.macroF1, regression: s.regression };
    });
  }
  return report;
}

/** Score prepared labeled samples (and, with `ablation`, the same samples without each input). */
export async function evaluatePrepared(state: FusionState, samples: readonly { values: unknown[]; target: Target }[], skipped: SkippedSample[], ablation: boolean): Promise<EvaluationReport> {
  const output = state.requireOutput();
  const values = samples.map((s) => s.values);
  const full = await outputRowsWithNearest(state, values);
  let dropped: Float32Array[][] | undefined;
  if (ablation && samples.length > 0) {
    dropped = [];
    for (let m = 0; m < state.fields.length; m++) dropped.push(await outputRows(state, values, m));
  }
  return reportFromRows(output, state.fields, samples.map((s) => s.target), full.rows, skipped, dropped, full.nearest);
}
