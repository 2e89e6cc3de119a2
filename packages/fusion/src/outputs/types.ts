/**
 * The contract of an output kind (category, multi-label, regression): one object per kind owns target
 * parsing, fitting (labels or target statistics), the head's loss (a tensor loss, the only one: training
 * and validation both use it), metrics, decoding a head output row to a prediction and its JSON shape.
 * The trainer, evaluator, serializer and predictor call these and never switch on the output type.
 */
import type * as tf from '@tensorflow/tfjs';
import type { FieldKind } from '@mmfuse/core';
import type { OutputType } from '../config.js';
import type { ClassMetrics } from '../metrics.js';
import type { Calibration, CalibrationSettings } from './calibration.js';

/** A parsed target: a label (category), a list of labels (multi-label), or values (regression). */
export type Target = string | string[] | number[];

/** Where a target came from, for error messages. */
export interface TargetLocation {
  sample: string | number;
  field: string;
}

/** What a prediction answers (its JSON is this object as it is). A type alias, so it is a plain JSON record. */
export type Prediction = {
  /** Category: the label; multi-label: every label with probability >= 0.5; regression: the first value. */
  label: string | string[] | number;
  /** Category and multi-label: each label's probability. */
  probabilities?: Record<string, number>;
  /** Regression: every predicted value. */
  value?: number[];
  /**
   * Category, when the model has an out-of-scope threshold (chosen on validation data, set in the config, or
   * given at prediction): true when the calibrated probability of `label` (or, with `outOfScope.score:
   * energy+nearest`, `scopeScore`) is below it, or `label` is one of `outOfScope.labels`, i.e. the request
   * matches none of the labels well enough to be answered (hand it over instead). `label` is still the best guess.
   */
  outOfScope?: boolean;
  /**
   * Category with `outOfScope.score: energy+nearest`: how typical the request is of the in-scope training
   * data, in [0, 1] (the mean of its energy's and its nearest training sample similarity's percentiles
   * among the validation requests); the out-of-scope threshold applies to it.
   */
  scopeScore?: number;
  /**
   * Per input field used: how much it moved the answer, measured by removing it. Category / multi-label:
   * top probability with every input minus the probability of the same label without this field;
   * regression: first value with every input minus the value without this field.
   */
  contributions?: Record<string, number>;
  /** Input fields that were present and used. */
  modalitiesUsed: string[];
  /**
   * Per input whose encoder transcribes (e.g. `audio/phonetic` with a CTC head): what it recognised, as
   * space-separated symbols (phonemes), e.g. `{ audio: 'w eh r ih z m ay k aa r d' }`. Absent otherwise.
   */
  heard?: Record<string, string>;
};

/** Targets of one batch as the loss takes them, built in JS. */
export interface BatchTargets {
  /** [B, K] row-major: one-hot (category), multi-hot (multi-label) or standardized values (regression). */
  values: Float32Array;
  /** Category: per-sample weights [B]; multi-label: per-label weights [K]. Absent: unweighted. */
  weights?: Float32Array;
}

/** Options of `FittedOutput.loss`. */
export interface LossOptions {
  /** Label smoothing (category and multi-label; ignored by regression). Default 0. */
  labelSmoothing?: number;
}

/** Scores of a set of predictions against their targets. */
export interface OutputScores {
  /** Category: accuracy; multi-label: exact-match ratio; regression: NaN (see `regression`). */
  accuracy: number;
  /** Macro-F1 over labels (NaN for regression). */
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** Category: confusion[true][predicted] in `labels` order; empty for other kinds. */
  confusion: { labels: string[]; matrix: number[][] };
  /** Regression: mean absolute error, root mean squared error, R² (over all output values). */
  regression?: { mae: number; rmse: number; r2: number };
  /** Category: expected calibration error of the (calibrated) top probabilities, 15 bins. */
  ece?: number;
  /** Category with an out-of-scope threshold: the fraction of samples whose prediction is out of scope. */
  outOfScope?: number;
}

/** What a fitted output saves in `model.json` (`labels`, `targetStats`, `outDim`; format version 2 adds `calibration`). */
export interface SavedOutput {
  labels: string[];
  outDim: number;
  targetStats?: { mean: number[]; std: number[] };
  /** Category: the temperature and out-of-scope threshold fitted after training. */
  calibration?: Calibration;
}

/** Options of `FittedOutput.decode`. */
export interface DecodeOptions {
  /** Category: out-of-scope threshold for this prediction, instead of the model's (null: none). */
  outOfScopeThreshold?: number | null;
}

/** An output kind fitted on training targets: labels or target statistics, and everything that needs them. */
export interface FittedOutput {
  readonly type: OutputType;
  /** The target field (for error locations). */
  readonly field: string;
  /** Labels in output order (category / multi-label); empty for regression. */
  readonly labels: readonly string[];
  /** Width of the head output. */
  readonly outDim: number;
  /** Regression targets are standardized with these (per output value). */
  readonly targetStats?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** Refuse a parsed target the fit did not see (unknown label, other value count) with `InvalidInputError`. */
  check(target: Target, loc: TargetLocation): void;
  /**
   * Per-label loss weights from `training.classWeights` (`balanced`: n / (labels × count) on `targets`), or
   * undefined when the kind has none or the config sets none.
   */
  classWeights(setting: 'balanced' | Record<string, number> | null, targets: readonly Target[]): number[] | undefined;
  /** Batch targets for `loss`; `classWeights` from `classWeights()`. */
  encode(targets: readonly Target[], classWeights?: readonly number[]): BatchTargets;
  /** Mean (weighted) loss of a batch: logits [B, K] -> scalar. Runs inside the caller's tidy / gradient scope. */
  loss(logits: tf.Tensor2D, targets: BatchTargets, options?: LossOptions): tf.Scalar;
  /** Probabilities (category / multi-label) or values in the original units (regression) of one head output row. */
  values(row: Float32Array): number[];
  /** The index whose value decides the answer (contributions are measured on it). */
  topIndex(values: readonly number[]): number;
  /**
   * A prediction from one row's `values`; `scope`: the row's `energy+nearest` score (outputs/scope.ts),
   * required when the calibration has one.
   */
  decode(values: readonly number[], modalitiesUsed: string[], options?: DecodeOptions, scope?: number): Prediction;
  /** Metrics of many rows' `values` against targets (`scope`: each row's score, as for `decode`). */
  score(values: readonly (readonly number[])[], targets: readonly Target[], scope?: readonly number[]): OutputScores;
  /**
   * Category only: per-row predicted class of training-mode logits ([B] int32, created in the caller's
   * scope) and how many match the targets, for the epoch's training accuracy. Other kinds leave it out.
   */
  readonly trainingAccuracy?: {
    predict(logits: tf.Tensor2D): tf.Tensor1D;
    correct(predicted: ArrayLike<number>, targets: readonly Target[]): number;
  };
  /** Category only: validation accuracy and macro-F1 of many rows' values. Other kinds leave it out. */
  validationScores?(values: readonly (readonly number[])[], targets: readonly Target[]): { accuracy: number; macroF1: number };
  /** Category: the calibration in use (temperature scaling of `values`, out-of-scope threshold). Other kinds leave it out. */
  readonly calibration?: Calibration;
  /**
   * Category only: fit the calibration on validation head outputs (raw logit rows) and targets, and use it
   * from now on (`values` divides logits by the temperature; `decode` flags out-of-scope answers).
   */
  calibrate?(rows: readonly Float32Array[], targets: readonly Target[], settings: CalibrationSettings, nearest?: readonly number[]): Calibration;
  /** What `model.json` stores. */
  toJSON(): SavedOutput;
}

/** One output kind: parses targets and fits (or restores) a `FittedOutput`. */
export interface OutputKind {
  readonly type: OutputType;
  /** How a manifest reader reads the target field. */
  readonly manifestField: FieldKind;
  /** The loss of a batch (what `FittedOutput.loss` computes): logits [B, K] -> scalar, in the caller's scope. */
  loss(logits: tf.Tensor2D, targets: BatchTargets, options?: LossOptions): tf.Scalar;
  /** Check one sample's target and bring it to its canonical form; throws `InvalidInputError` naming the field. */
  parse(raw: unknown, loc: TargetLocation): Target;
  /** Fit on the training targets (all parsed by `parse`). Throws `InvalidInputError` when they cannot train this kind. */
  fit(targets: readonly Target[], field: string): FittedOutput;
  /** Rebuild from what `toJSON` saved. Throws `ModelFormatError` when it does not fit the kind. */
  restore(saved: SavedOutput, field: string): FittedOutput;
}
