/**
 * Training callbacks: hooks at the start and end of the run, of each epoch and after each step. Progress
 * output and checkpoint writing are callbacks too; a callback can stop the run (e.g. a hyperparameter
 * search with successive halving stopping the weak configurations after a rung).
 */
import type { AdamWState } from '../optim/adamw.js';
import type { FusionState } from '../state.js';
import { memberCheckpointDir, writeCheckpoint } from './checkpoint.js';
import type { BestCopy, TrainerState } from './checkpoint.js';
import type { EpochMetrics, TrainingHistory } from './history.js';
import { epochLine } from './log-lines.js';
import { Progress } from './progress.js';
import type { ProgressMode, ProgressStream } from './progress.js';

/** The run a callback watches. */
export interface TrainingRun {
  readonly state: FusionState;
  /** Epochs of the run (`FitOptions.epochs` or `training.epochs`). */
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly trainSamples: number;
  readonly validationSamples: number;
  /** Completed epochs and steps, the position inside the current epoch, early-stopping state (what a checkpoint saves). */
  readonly progress: Readonly<TrainerState>;
  /** The history so far. */
  history(): TrainingHistory;
  /** The optimizer's moments (for a checkpoint). */
  optimizerState(): Promise<AdamWState>;
  /**
   * Stop the run: after the current step when called from `onStep` (the unfinished epoch's steps stay in
   * the weights, as with an interruption), after the current epoch from `onEpochStart` / `onEpochEnd` (the
   * best validation weights are restored, as with early stopping). `history.stopReason` records `reason`;
   * the run is not `interrupted`. A checkpoint of a stopped run can be resumed to train on.
   */
  stop(reason: string): void;
  /** The reason given to `stop`, once a callback stopped the run. */
  readonly stopReason: string | undefined;
  /** The run's log (FitOptions.log). */
  log(line: string): void;
  /** The ensemble member this run trains (`training.ensemble` > 1): `index` 1..`members`; absent for one model. */
  readonly member?: { index: number; members: number };
  /** @internal The best validation epoch's weights so far (for a checkpoint); undefined before any. */
  bestCopy?(): BestCopy | undefined;
}

/** After each optimizer step. */
export interface StepInfo {
  /** 1-based epoch. */
  epoch: number;
  /** Steps done in this epoch (1-based position of this step). */
  batch: number;
  /** Optimizer steps done in total (over resumed runs). */
  step: number;
  /** This step's loss (head loss plus weighted loss terms). */
  loss: number;
  /** Mean loss of the epoch's steps so far. */
  meanLoss: number;
  /** With loss terms: this step's value of each component (`head` and each term), unweighted. */
  losses?: Record<string, number>;
  learningRate: number;
  samples: number;
}

/** At the start of an epoch (also a resumed, partly done one). */
export interface EpochStartInfo {
  /** 1-based epoch. */
  epoch: number;
  /** Steps of this epoch already done (a resumed epoch), 0 otherwise. */
  startBatch: number;
}

export interface TrainingCallback {
  onTrainStart?(run: TrainingRun): void | Promise<void>;
  onEpochStart?(info: EpochStartInfo, run: TrainingRun): void | Promise<void>;
  onStep?(info: StepInfo, run: TrainingRun): void | Promise<void>;
  /** After an epoch: metrics (validation included) are final; early stopping has decided. */
  onEpochEnd?(metrics: EpochMetrics, run: TrainingRun): void | Promise<void>;
  /** After the run, best weights restored; `history` is what `fit` returns. */
  onTrainEnd?(history: TrainingHistory, run: TrainingRun): void | Promise<void>;
}

/** Calls every callback of a list in order, awaiting each. */
export class CallbackList {
  constructor(private readonly callbacks: readonly TrainingCallback[]) {}

  async trainStart(run: TrainingRun): Promise<void> {
    for (const c of this.callbacks) await c.onTrainStart?.(run);
  }

  async epochStart(info: EpochStartInfo, run: TrainingRun): Promise<void> {
    for (const c of this.callbacks) await c.onEpochStart?.(info, run);
  }

  async step(info: StepInfo, run: TrainingRun): Promise<void> {
    for (const c of this.callbacks) await c.onStep?.(info, run);
  }

  async epochEnd(metrics: EpochMetrics, run: TrainingRun): Promise<void> {
    for (const c of this.callbacks) await c.onEpochEnd?.(metrics, run);
  }

  async trainEnd(history: TrainingHistory, run: TrainingRun): Promise<void> {
    for (const c of this.callbacks) await c.onTrainEnd?.(history, run);
  }
}

/** Progress output: a bar with ETA on a terminal, a line every 10 s otherwise, and one line per epoch. */
export class ProgressCallback implements TrainingCallback {
  private readonly progress: Progress;
  private startBatch = 0;
  private epoch = 0;

  constructor(mode: ProgressMode, log: (line: string) => void, stream?: ProgressStream) {
    this.progress = new Progress(mode, log, stream);
  }

  /** A log line of the run, written so that it does not land on the bar's row. */
  log(line: string): void {
    this.progress.line(line);
  }

  onEpochStart(info: EpochStartInfo): void {
    this.startBatch = info.startBatch;
    this.epoch = info.epoch;
    this.progress.startEpoch();
  }

  onStep(info: StepInfo, run: TrainingRun): void {
    this.progress.step({ epoch: this.epoch, epochs: run.epochs, done: info.batch, total: run.stepsPerEpoch, loss: info.meanLoss, doneAtStart: this.startBatch });
  }

  onEpochEnd(m: EpochMetrics, run: TrainingRun): void {
    const line = epochLine(m, run.epochs, run.progress.stoppedEarly);
    this.progress.epoch(run.member === undefined ? line : `member ${run.member.index}/${run.member.members}: ${line}`);
  }

  onTrainEnd(): void {
    this.progress.clear();
  }
}

/**
 * A checkpoint in `dir` after every epoch, and at the end of a run that stopped inside an epoch
 * (interrupted or stopped), so `resume` continues exactly where it was. Ensemble member k (2..N) writes
 * to `dir/member-<k>`.
 */
export class CheckpointCallback implements TrainingCallback {
  constructor(readonly dir: string) {}

  private async write(run: TrainingRun): Promise<void> {
    run.state.history = { ...run.history(), interrupted: false };
    await writeCheckpoint(memberCheckpointDir(this.dir, run.member?.index ?? 1), run.state, await run.optimizerState(), run.progress, run.bestCopy?.());
  }

  async onEpochEnd(_m: EpochMetrics, run: TrainingRun): Promise<void> {
    await this.write(run);
  }

  async onTrainEnd(_h: TrainingHistory, run: TrainingRun): Promise<void> {
    if (run.progress.batch > 0) await this.write(run);
  }
}
