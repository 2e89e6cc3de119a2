/** Evaluation of a trained state on prepared samples, with per-input ablation. */
import type { SkippedSample } from '@mmfuse/core';
import { outputRows } from './infer.js';
import type { ClassMetrics } from './metrics.js';
import { expectedCalibrationError, scaledSoftmax } from './outputs/calibration.js';
import type { Target } from './outputs/index.js';
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

/** Score prepared labeled samples (and, with `ablation`, the same samples without each input). */
export function evaluatePrepared(state: FusionState, samples: readonly { values: unknown[]; target: Target }[], skipped: SkippedSample[], ablation: boolean): EvaluationReport {
  const output = state.requireOutput();
  const values = samples.map((s) => s.values);
  const targets = samples.map((s) => s.target);
  const score = (drop?: number, rows = outputRows(state, values, drop)) => output.score(rows.map((r) => output.values(r)), targets);
  const rows = outputRows(state, values);
  const full = score(undefined, rows);
  const report: EvaluationReport = { n: samples.length, accuracy: full.accuracy, macroF1: full.macroF1, perClass: full.perClass, confusion: full.confusion, skipped };
  if (full.regression !== undefined) report.regression = full.regression;
  if (full.ece !== undefined) report.ece = full.ece;
  if (full.ece !== undefined && output.calibration !== undefined && output.calibration.temperature !== 1) {
    const index = new Map(output.labels.map((l, i) => [l, i]));
    report.eceUncalibrated = expectedCalibrationError(rows.map((r) => scaledSoftmax(r, 1)), targets.map((t) => index.get(t as string) as number));
  }
  if (full.outOfScope !== undefined) report.outOfScope = full.outOfScope;
  if (ablation && samples.length > 0) {
    report.ablation = {};
    state.fields.forEach((field, m) => {
      const s = score(m);
      report.ablation![field] = s.regression === undefined ? { accuracy: s.accuracy, macroF1: s.macroF1 } : { accuracy: s.accuracy, macroF1: s.macroF1, regression: s.regression };
    });
  }
  return report;
}
