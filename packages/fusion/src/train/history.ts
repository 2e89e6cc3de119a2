/** What a training run reports: per-epoch metrics and the run's outcome. */
import type { SkippedSample } from '@mmfuse/core';
import type { Calibration } from '../outputs/calibration.js';

export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** Mean training loss of the epoch's steps: the head loss, plus the weighted loss terms when there are any. */
  trainLoss: number;
  /** With loss terms: the mean of each component (`head` and each term by name), unweighted. */
  losses?: Record<string, number>;
  /** Head loss (no label smoothing, no class weights) on the validation samples, in inference mode. */
  valLoss?: number;
  /** Category: accuracy of the training-mode predictions made during the epoch's steps. */
  trainAccuracy?: number;
  valAccuracy?: number;
  valMacroF1?: number;
  /** Learning rate of the epoch's last step. */
  learningRate: number;
  seconds: number;
}

export interface TrainingHistory {
  epochs: EpochMetrics[];
  /** Epoch (1-based) whose weights the model holds when validation chose them. */
  bestEpoch?: number;
  stoppedEarly: boolean;
  /** Why a callback stopped the run (`TrainingRun.stop`), when one did. */
  stopReason?: string;
  /** Stopped by the abort signal. */
  interrupted: boolean;
  /** Steps done in total (over resumed runs). */
  steps: number;
  trainSamples: number;
  validationSamples: number;
  skipped: SkippedSample[];
  /**
   * Category outputs: the calibration fitted on the validation samples after the last epoch (temperature,
   * out-of-scope threshold, expected calibration error before and after). Absent when the run was interrupted.
   */
  calibration?: Calibration;
  /**
   * `training.averageEpochs` > 1: the epochs (1-based, inclusive) whose weights were averaged, the average's
   * validation loss, and whether the model holds it (with validation data, only when that loss was lower).
   */
  averaged?: { from: number; to: number; validationLoss?: number; kept: boolean };
  /**
   * `training.ensemble` > 1: each member's run (member 0's epochs are `epochs` above), and the ensemble's
   * validation loss / accuracy / macro-F1 before calibration (the mean of the members' logits).
   */
  ensemble?: { members: EnsembleMemberSummary[]; validation?: { loss: number; accuracy?: number; macroF1?: number } };
}

/** How one member of an ensemble trained (`TrainingHistory.ensemble`). */
export interface EnsembleMemberSummary {
  /** The member's seed: `training.seed + k` for member k. */
  seed: number;
  /** Epochs run, and steps. */
  epochs: number;
  steps: number;
  stoppedEarly: boolean;
  /** The epoch whose weights the member holds, when validation chose it. */
  bestEpoch?: number;
  /** Validation loss and accuracy of the weights the member holds. */
  valLoss?: number;
  valAccuracy?: number;
}
