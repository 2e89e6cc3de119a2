/**
 * `category`: one label per sample. Head: one logit per label; loss: softmax cross-entropy with label
 * smoothing ((1 - eps) one-hot + eps / K) and per-sample class weights (weighted mean sum(w l) / sum(w));
 * prediction: the most probable label and every label's probability.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, ModelFormatError, StateError, createRecord } from '@mmfuse/core';
import { accuracy, confusionMatrix, macroF1, perClassMetrics } from '../metrics.js';
import type { ClassMetrics } from '../metrics.js';
import { NO_CALIBRATION, checkSavedCalibration, isCalibrated, expectedCalibrationError, fitCalibration, scaledSoftmax } from './calibration.js';
import type { Calibration, CalibrationSettings } from './calibration.js';
import { softmaxRow } from './softmax.js';
import { checkSavedLabels, labelOf, labelWeights, requireKnown, sortedLabels } from './labels.js';
import type { BatchTargets, DecodeOptions, FittedOutput, LossOptions, OutputKind, OutputScores, Prediction, SavedOutput, Target, TargetLocation } from './types.js';

function argMax(values: readonly number[]): number {
  let best = 0;
  values.forEach((v, i) => { if (v > (values[best] as number)) best = i; });
  return best;
}

/** The category loss (see the file comment). */
export function categoryLoss(logits: tf.Tensor2D, targets: BatchTargets, options: LossOptions = {}): tf.Scalar {
  const [b, k] = logits.shape;
  const eps = options.labelSmoothing ?? 0;
  const y = tf.tensor2d(targets.values, [b, k]);
  const t = eps > 0 ? y.mul(1 - eps).add(eps / k) : y;
  const perSample = t.mul(tf.logSoftmax(logits, -1)).sum(1).neg(); // [B]
  if (targets.weights === undefined) return perSample.mean() as tf.Scalar;
  const w = tf.tensor1d(targets.weights);
  return perSample.mul(w).sum().div(w.sum().maximum(1e-12)) as tf.Scalar;
}

export { softmaxRow };

class CategoryOutput implements FittedOutput {
  readonly type = 'category' as const;
  readonly outDim: number;
  private readonly index: Map<string, number>;
  /** Temperature and out-of-scope threshold (none until `calibrate` or a restore that saved one). */
  calibration: Calibration;

  constructor(readonly labels: readonly string[], readonly field: string, calibration: Calibration = NO_CALIBRATION) {
    this.outDim = labels.length;
    this.index = new Map(labels.map((l, i) => [l, i]));
    this.calibration = { ...calibration };
  }

  check(target: Target, loc: TargetLocation): void {
    requireKnown(this.index, target as string, loc);
  }

  classWeights(setting: 'balanced' | Record<string, number> | null, targets: readonly Target[]): number[] | undefined {
    return labelWeights(this.labels, setting, targets.map((t) => [t as string]));
  }

  encode(targets: readonly Target[], classWeights?: readonly number[]): BatchTargets {
    const k = this.outDim;
    const values = new Float32Array(targets.length * k);
    const rows = targets.map((t) => this.index.get(t as string) as number);
    rows.forEach((c, r) => { values[r * k + c] = 1; });
    if (classWeights === undefined) return { values };
    return { values, weights: Float32Array.from(rows, (c) => classWeights[c] as number) };
  }

  loss(logits: tf.Tensor2D, targets: BatchTargets, options?: LossOptions): tf.Scalar {
    return categoryLoss(logits, targets, options);
  }

  /** Calibrated probabilities: softmax(logits / temperature). */
  values(row: Float32Array): number[] {
    return scaledSoftmax(row, this.calibration.temperature);
  }

  topIndex(values: readonly number[]): number {
    return argMax(values);
  }

  decode(values: readonly number[], modalitiesUsed: string[], options: DecodeOptions = {}, scope?: number): Prediction {
    const probabilities = createRecord<number>(); // a label may be named __proto__
    this.labels.forEach((l, i) => { probabilities[l] = values[i] as number; });
    const top = argMax(values);
    const prediction: Prediction = { label: this.labels[top] as string, probabilities, modalitiesUsed };
    const measured = this.scopeOf(values[top] as number, scope);
    if (this.calibration.score !== undefined) prediction.scopeScore = measured;
    const threshold = options.outOfScopeThreshold !== undefined ? options.outOfScopeThreshold : this.calibration.outOfScopeThreshold;
    const oosLabel = this.oosClasses.has(top);
    if (threshold !== null || oosLabel) prediction.outOfScope = oosLabel || (threshold !== null && measured < threshold);
    return prediction;
  }

  /** What the threshold applies to: the top probability, or the row's energy+nearest score when the calibration has one. */
  private scopeOf(topProbability: number, scope: number | undefined): number {
    if (this.calibration.score === undefined) return topProbability;
    if (scope === undefined) throw new StateError('this model scores out-of-scope requests by energy+nearest, but no score reached the decoder (the runtime did not compute the nearest-neighbour similarity)');
    return scope;
  }

  private oosFor: Calibration | undefined;
  private oosSet = new Set<number>();

  /** Class indices of the calibration's out-of-scope labels (worked out again only when the calibration is replaced). */
  private get oosClasses(): Set<number> {
    if (this.oosFor !== this.calibration) {
      this.oosSet = new Set((this.calibration.outOfScopeLabels ?? []).map((l) => this.index.get(l) as number));
      this.oosFor = this.calibration;
    }
    return this.oosSet;
  }

  calibrate(rows: readonly Float32Array[], targets: readonly Target[], settings: CalibrationSettings, nearest?: readonly number[]): Calibration {
    const labels = [...(settings.labels ?? [])];
    const classes = labels.map((l) => {
      const c = this.index.get(l);
      if (c === undefined) {
        const seen = this.labels.slice(0, 10).map((k) => JSON.stringify(k)).join(', ');
        throw new ConfigError(`output.outOfScope.labels names ${JSON.stringify(l)}, which no training sample has; out-of-scope labels need training examples (the labels seen: ${seen}${this.labels.length > 10 ? ', ...' : ''})`, { path: 'output.outOfScope.labels' });
      }
      return c;
    });
    const fitted = fitCalibration(rows, targets.map((t) => this.index.get(t as string) as number), settings, classes, nearest);
    this.calibration = labels.length > 0 ? { ...fitted, outOfScopeLabels: labels } : fitted;
    return JSON.parse(JSON.stringify(this.calibration)) as Calibration;
  }

  score(values: readonly (readonly number[])[], targets: readonly Target[], scope?: readonly number[]): OutputScores {
    const truth = targets.map((t) => this.index.get(t as string) as number);
    const pred = values.map(argMax);
    const matrix = confusionMatrix(truth, pred, this.labels.length);
    const per = perClassMetrics(matrix);
    const perClass = createRecord<ClassMetrics>();
    this.labels.forEach((l, i) => { perClass[l] = per[i] as ClassMetrics; });
    const scores: OutputScores = { accuracy: accuracy(truth, pred), macroF1: macroF1(matrix), perClass, confusion: { labels: [...this.labels], matrix }, ece: expectedCalibrationError(values, truth) };
    const threshold = this.calibration.outOfScopeThreshold;
    const oos = this.oosClasses;
    // An energy+nearest score without the rows' scores (an ablation pass) leaves the figure out.
    if ((threshold !== null || oos.size > 0) && (this.calibration.score === undefined || scope !== undefined)) {
      scores.outOfScope = values.filter((v, i) => oos.has(pred[i] as number) || (threshold !== null && this.scopeOf(v[pred[i] as number] as number, scope?.[i]) < threshold)).length / Math.max(1, values.length);
    }
    return scores;
  }

  readonly trainingAccuracy = {
    predict: (logits: tf.Tensor2D): tf.Tensor1D => logits.argMax(-1) as tf.Tensor1D,
    correct: (predicted: ArrayLike<number>, targets: readonly Target[]): number => {
      let n = 0;
      targets.forEach((t, i) => { if (this.labels[predicted[i] as number] === t) n++; });
      return n;
    },
  };

  validationScores(values: readonly (readonly number[])[], targets: readonly Target[]): { accuracy: number; macroF1: number } {
    const truth = targets.map((t) => this.index.get(t as string) as number);
    const pred = values.map(argMax);
    return { accuracy: accuracy(truth, pred), macroF1: macroF1(confusionMatrix(truth, pred, this.labels.length)) };
  }

  toJSON(): SavedOutput {
    const saved: SavedOutput = { labels: [...this.labels], outDim: this.outDim };
    if (isCalibrated(this.calibration)) saved.calibration = JSON.parse(JSON.stringify(this.calibration)) as Calibration;
    return saved;
  }
}

export const categoryOutput: OutputKind = {
  type: 'category',
  manifestField: 'label',
  parse(raw: unknown, loc: TargetLocation): Target {
    if (raw === undefined || raw === null) throw new InvalidInputError('the target is missing', loc);
    const label = labelOf(raw);
    if (label === undefined) throw new InvalidInputError(`expected one label (a non-empty string or a number), got ${JSON.stringify(raw)}`, loc);
    return label;
  },
  fit(targets: readonly Target[], field: string): FittedOutput {
    const labels = sortedLabels(targets as readonly string[]);
    if (labels.length < 2) throw new InvalidInputError(`the training data has ${labels.length} distinct label(s) in "${field}"; a category output needs at least 2`, { field });
    return new CategoryOutput(labels, field);
  },
  loss: categoryLoss,
  restore(saved: SavedOutput, field: string): FittedOutput {
    const labels = checkSavedLabels(saved, 'category', 2);
    const calibration = saved.calibration === undefined ? NO_CALIBRATION : checkSavedCalibration(saved.calibration);
    const stray = (calibration.outOfScopeLabels ?? []).filter((l) => !labels.includes(l));
    if (stray.length > 0) throw new ModelFormatError(`the saved calibration names out-of-scope label(s) ${stray.map((l) => JSON.stringify(l)).join(', ')} that are not among the output's labels`);
    return new CategoryOutput(labels, field, calibration);
  },
};
