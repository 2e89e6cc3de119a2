/** Evaluation of a trained state on prepared samples, with per-input ablation. */
import { createRecord } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { outputRows } from './infer.js';
import type { ClassMetrics } from './metrics.js';
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
  skipped: SkippedSample[];
  /** The same samples scored with one input field removed from every sample. */
  ablation?: Record<string, { accuracy: number; macroF1: number; regression?: { mae: number; rmse: number; r2: number } }>;
}

/** Score prepared labeled samples (and, with `ablation`, the same samples without each input). */
export function evaluatePrepared(state: FusionState, samples: readonly { values: unknown[]; target: Target }[], skipped: SkippedSample[], ablation: boolean): EvaluationReport {
  const output = state.requireOutput();
  const values = samples.map((s) => s.values);
  const targets = samples.map((s) => s.target);
  const score = (drop?: number) => output.score(outputRows(state, values, drop).map((r) => output.values(r)), targets);
  const full = score();
  const report: EvaluationReport = { n: samples.length, accuracy: full.accuracy, macroF1: full.macroF1, perClass: full.perClass, confusion: full.confusion, skipped };
  if (full.regression !== undefined) report.regression = full.regression;
  if (ablation && samples.length > 0) {
    report.ablation = createRecord();
    state.fields.forEach((field, m) => {
      const s = score(m);
      report.ablation![field] = s.regression === undefined ? { accuracy: s.accuracy, macroF1: s.macroF1 } : { accuracy: s.accuracy, macroF1: s.macroF1, regression: s.regression };
    });
  }
  return report;
}
