/** Evaluation of a trained model on prepared samples, with per-input ablation. */
import type { SkippedSample } from '@mmfuse/core';
import { accuracy, confusionMatrix, macroF1, multiLabelMetrics, perClassMetrics } from './metrics.js';
import type { ClassMetrics } from './metrics.js';
import type { FusionModel } from './model.js';
import { outputValues, topIndex } from './outputs.js';
import type { Target } from './targets.js';

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

interface Scores { accuracy: number; macroF1: number; perClass: Record<string, ClassMetrics>; matrix: number[][]; regression?: { mae: number; rmse: number; r2: number } }

function score(model: FusionModel, rows: Float32Array[], targets: Target[]): Scores {
  const spec = model.outputSpec;
  const labels = spec.labels;
  const values = rows.map((r) => outputValues(spec, r));
  if (spec.type === 'category') {
    const truth = targets.map((t) => labels.indexOf(t as string));
    const pred = values.map((v) => topIndex(spec, v));
    const matrix = confusionMatrix(truth, pred, labels.length);
    const per = perClassMetrics(matrix);
    const perClass: Record<string, ClassMetrics> = {};
    labels.forEach((l, i) => { perClass[l] = per[i] as ClassMetrics; });
    return { accuracy: accuracy(truth, pred), macroF1: macroF1(matrix), perClass, matrix };
  }
  if (spec.type === 'multi-label') {
    const truth = targets.map((t) => labels.map((l) => ((t as string[]).includes(l) ? 1 : 0)));
    const pred = values.map((v) => v.map((p) => (p >= 0.5 ? 1 : 0)));
    const m = multiLabelMetrics(truth, pred, labels.length);
    const perClass: Record<string, ClassMetrics> = {};
    labels.forEach((l, i) => { perClass[l] = m.perLabel[i] as ClassMetrics; });
    return { accuracy: m.exactMatch, macroF1: m.macroF1, perClass, matrix: [] };
  }
  let ae = 0; let se = 0; let n = 0; let mean = 0;
  targets.forEach((t) => (t as number[]).forEach((y) => { mean += y; n++; }));
  mean /= Math.max(1, n);
  let ss = 0;
  targets.forEach((t, i) => (t as number[]).forEach((y, k) => {
    const p = (values[i] as number[])[k] as number;
    ae += Math.abs(p - y); se += (p - y) ** 2; ss += (y - mean) ** 2;
  }));
  return { accuracy: Number.NaN, macroF1: Number.NaN, perClass: {}, matrix: [], regression: { mae: ae / Math.max(1, n), rmse: Math.sqrt(se / Math.max(1, n)), r2: ss > 0 ? 1 - se / ss : 0 } };
}

export function evaluatePrepared(model: FusionModel, samples: { values: unknown[]; target: Target }[], skipped: SkippedSample[], ablation: boolean): EvaluationReport {
  const values = samples.map((s) => s.values);
  const targets = samples.map((s) => s.target);
  const full = score(model, model.outputsFor(values), targets);
  const report: EvaluationReport = {
    n: samples.length,
    accuracy: full.accuracy,
    macroF1: full.macroF1,
    perClass: full.perClass,
    confusion: { labels: model.outputSpec.type === 'category' ? model.labels : [], matrix: full.matrix },
    skipped,
  };
  if (full.regression !== undefined) report.regression = full.regression;
  if (ablation && samples.length > 0) {
    report.ablation = {};
    model.fields.forEach((field, m) => {
      const s = score(model, model.outputsFor(values, m), targets);
      report.ablation![field] = s.regression === undefined ? { accuracy: s.accuracy, macroF1: s.macroF1 } : { accuracy: s.accuracy, macroF1: s.macroF1, regression: s.regression };
    });
  }
  return report;
}
