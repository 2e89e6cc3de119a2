/**
 * The training loop: AdamW with warmup + cosine schedule, global-norm clipping, label smoothing, class
 * weights, per-epoch validation, early stopping (best weights restored), a checkpoint per epoch, resume,
 * abort through an AbortSignal (stops after the current step and writes a checkpoint). One seed fixes
 * the validation split, the shuffles, weight init and every dropout mask, so a run repeats exactly; the
 * shuffle of epoch e and the dropout masks of step s are derived from (seed, e) and (seed, s), so a
 * resumed run continues exactly as an uninterrupted one.
 *
 * Extension without editing this file: `lossTerms` (extra losses with access to the step's tensors, e.g.
 * an auxiliary CTC loss or distillation), `headLossWeight` (mixing hard and soft targets) and `callbacks`
 * (progress, checkpoints and `onEpoch` are callbacks too; a callback may stop the run).
 */
import { CheckpointError, ConfigError, InvalidInputError, Rng, StateError, checkOutputTarget, hashString } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { AdamW } from '../optim/adamw.js';
import type { AdamWState } from '../optim/adamw.js';
import { PrepareCache } from '../pipeline/cache.js';
import { collectSamples } from '../pipeline/prepare.js';
import type { Sample, SampleSource } from '../pipeline/prepare.js';
import { learningRateAt } from '../schedule.js';
import type { FusionState } from '../state.js';
import { calibrationSettings } from '../config.js';
import type { Calibration } from '../outputs/calibration.js';
import { restoreState } from '../io/load-save.js';
import { checkpointFolderRule } from '../io/folder.js';
import { BestWeights, EpochAverage, assignWeights, copyWeights } from './best-weights.js';
import { CallbackList, CheckpointCallback, ProgressCallback } from './callbacks.js';
import type { StepInfo, TrainingCallback, TrainingRun } from './callbacks.js';
import { clearMemberCheckpoints, memberCheckpointDir, readCheckpoint } from './checkpoint.js';
import type { BestCopy, TrainerState } from './checkpoint.js';
import { augmentTraining, dropUnknownTargets, prepareLabeled, splitValidation } from './data.js';
import { EarlyStopping } from './early-stopping.js';
import type { EnsembleMemberSummary, EpochMetrics, TrainingHistory } from './history.js';
import { averagedLine, calibrationLine, interruptedLine, restoredLine, resumeLine, stoppedLine } from './log-lines.js';
import { fusedVectors, outputRowsWithNearest } from '../infer.js';
import type { LossTerm, TrainingSample } from './loss-terms.js';
import type { ProgressMode, ProgressStream } from './progress.js';
import { trainStep } from './step.js';
import type { StepContext } from './step.js';
import { validate } from './validate.js';

export type { EpochMetrics, TrainingHistory } from './history.js';

export interface FitOptions {
  /** Validation samples; default: `training.validationSplit` of the training data. */
  validation?: SampleSource;
  /** Folder that relative paths of the training (and validation) samples resolve against. */
  baseDir?: string;
  /** Folder for relative paths of the validation samples. Default `baseDir`. */
  validationBaseDir?: string;
  /** Overrides `training.epochs`. */
  epochs?: number;
  /** When aborted, training stops after the current step and writes a checkpoint (if `checkpointDir`). */
  signal?: AbortSignal;
  /**
   * Write a checkpoint here after every epoch (and on abort): `last/`, and an ensemble member k's in `member-<k>/last`.
   * A run that does not resume removes an earlier run's `member-<k>` folders.
   */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` if there is one (an ensemble: each member from its own). */
  resume?: boolean;
  /** Called after each epoch (after its checkpoint), as the `onEpochEnd` of a callback. */
  onEpoch?: (m: EpochMetrics) => void;
  /** Where log lines go. Default: stderr. */
  log?: (line: string) => void;
  /** `auto` (default): a bar on a terminal, lines otherwise. */
  progress?: ProgressMode;
  /** Where the bar goes, and whether it is a terminal (`isTTY`, which `auto` reads). Default `process.stderr`. */
  progressStream?: ProgressStream;
  /** On-disk cache of prepared inputs. */
  cacheDir?: string;
  onSkip?: (s: SkippedSample) => void;
  /** Shuffle the training samples every epoch. Default true; false keeps the given order (fixed batches). */
  shuffle?: boolean;
  /** Extra losses added to the head loss of every step (see `LossTerm`). Default none. */
  lossTerms?: readonly LossTerm[];
  /** Multiplies the head loss (e.g. 0.5 to mix hard labels with a distillation term). Default 1. */
  headLossWeight?: number;
  /** Hooks into the run, called after the built-in progress, checkpoint and `onEpoch` hooks. */
  callbacks?: readonly TrainingCallback[];
  /** Raw fields kept on each `TrainingSample` for loss terms (e.g. a transcript). Default none. */
  keepFields?: readonly string[];
  /**
   * Prepare the training samples' inputs again at the start of every epoch as training data (encoders'
   * `prepare` gets `ctx.training` and a random stream per seed, epoch, sample and field), so augmentation
   * in `prepare` (e.g. `audio/phonetic`'s `augment`) is fresh each epoch: `true` for every input, or the
   * input fields to prepare again. Not cached; validation is prepared once, clean. Default: the config's
   * `training.augmentEachEpoch` (false).
   */
  augmentEachEpoch?: boolean | readonly string[];
}

/** The epochs of a run, checked. */
/** Which inputs are prepared again each epoch: fit's option, else the config's `training.augmentEachEpoch`. */
function augmentSetting(state: FusionState, options: FitOptions): boolean | readonly string[] | undefined {
  return options.augmentEachEpoch ?? state.config.training.augmentEachEpoch;
}

function checkOptions(state: FusionState, options: FitOptions): number {
  const epochs = options.epochs ?? state.config.training.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new ConfigError(`must be a positive integer, got ${epochs}`, { path: 'epochs' });
  if (options.resume === true && options.checkpointDir === undefined) throw new ConfigError('resume: true needs a checkpointDir', { path: 'resume' });
  const aug = augmentSetting(state, options);
  // Name the setting where it came from: fit's option, or the config's training section.
  const augPath = options.augmentEachEpoch !== undefined ? 'augmentEachEpoch' : 'training.augmentEachEpoch';
  if (Array.isArray(aug)) {
    for (const f of aug) if (!state.fields.includes(f)) throw new ConfigError(`"${String(f)}" is not an input of this model (inputs: ${state.fields.join(', ')})`, { path: augPath });
  } else if (aug !== undefined && typeof aug !== 'boolean') {
    throw new ConfigError(`must be true, false or a list of input fields, got ${JSON.stringify(aug)}`, { path: augPath });
  }
  const w = options.headLossWeight ?? 1;
  if (!Number.isFinite(w) || w < 0) throw new ConfigError(`must be a finite number >= 0, got ${w}`, { path: 'headLossWeight' });
  const names = new Set<string>(['head']);
  for (const t of options.lossTerms ?? []) {
    if (typeof t?.name !== 'string' || t.name === '' || names.has(t.name)) throw new ConfigError(`each loss term needs a unique name other than "head", got ${JSON.stringify(t?.name)}`, { path: 'lossTerms' });
    if (t.weight !== undefined && (!Number.isFinite(t.weight) || t.weight < 0)) throw new ConfigError(`weight of "${t.name}" must be a finite number >= 0, got ${t.weight}`, { path: 'lossTerms' });
    names.add(t.name);
  }
  return epochs;
}

/** What a run continues from: a checkpoint's trainer state, optimizer moments and best weights, and its folder. */
interface Resumed { trainer: TrainerState; optimizer: AdamWState; best?: BestCopy; dir: string }

/** A config as a checkpoint compares it: an ensemble member's checkpoint is that of one model (`training.ensemble` left out). */
function comparable(config: object): string {
  const c = config as { training?: Record<string, unknown> };
  if (c.training === undefined) return JSON.stringify(config);
  const { ensemble: _e, ...training } = c.training;
  return JSON.stringify({ ...config, training });
}

/**
 * The checkpoint in `dir` restored into `state` (one model: an ensemble member), or undefined when there is
 * none. The best epoch's weights come from `best.bin`, or are the restored weights when that epoch was the
 * checkpoint's last.
 */
async function resumeFrom(state: FusionState, dir: string): Promise<Resumed | undefined> {
  const checkpoint = await readCheckpoint(dir);
  if (checkpoint === undefined) return undefined;
  if (comparable(checkpoint.model.config) !== comparable(state.savedConfig())) {
    throw new CheckpointError(`the checkpoint in ${dir} was written for a different config; remove it or train without resume`, { file: dir });
  }
  restoreState(state, checkpoint.model, checkpoint.buffer, dir, { members: false });
  const t = checkpoint.state;
  let best = checkpoint.best;
  if (best === undefined && t.bestEpoch !== null && t.bestEpoch === t.epoch && t.batch === 0) best = { epoch: t.bestEpoch, values: await copyWeights(state) };
  if (best !== undefined) {
    const sizes = state.namedWeights().map(([, w]) => w.size);
    if (best.values.length !== sizes.length || best.values.some((v, i) => v.length !== sizes[i])) {
      throw new CheckpointError(`best.bin in ${dir} holds ${best.values.length} weights that do not fit this model's ${sizes.length}; remove the checkpoint or train without resume`, { file: dir });
    }
  }
  return { trainer: t, optimizer: checkpoint.optimizer, ...(best === undefined ? {} : { best }), dir };
}

/**
 * Weights from the checkpoint (resume), from an earlier fit or load, or fitted fresh on the training set. A run
 * that does not resume starts its checkpoint folder afresh: an earlier run's ensemble members' checkpoints go.
 */
async function initOrResume(state: FusionState, train: readonly TrainingSample[], options: FitOptions): Promise<Resumed | undefined> {
  const dir = options.checkpointDir;
  const resumed = options.resume === true && dir !== undefined ? await resumeFrom(state, dir) : undefined;
  if (resumed !== undefined) return resumed;
  if (dir !== undefined) await clearMemberCheckpoints(dir);
  if (!state.trained) await state.initialize(train);
  return undefined;
}

/** A checkpoint's optimizer and position must fit this model and data; otherwise it belongs to another run. */
function checkResumable(resumed: Resumed, sizes: readonly number[], stepsPerEpoch: number, dir: string): void {
  const m = resumed.optimizer.m.map((x) => x.length);
  if (m.length !== sizes.length || m.some((n, i) => n !== sizes[i])) {
    throw new CheckpointError(`the optimizer state in ${dir} has moments for ${m.length} weights (${m.slice(0, 4).join(', ')}${m.length > 4 ? ', ...' : ''} values), but this model has ${sizes.length} (${sizes.slice(0, 4).join(', ')}${sizes.length > 4 ? ', ...' : ''}); remove the checkpoint or train without resume`, { file: dir });
  }
  if (resumed.trainer.batch > stepsPerEpoch) {
    throw new CheckpointError(`the checkpoint in ${dir} stopped after batch ${resumed.trainer.batch} of an epoch, but this data has ${stepsPerEpoch} batches an epoch; resume with the same data, or remove the checkpoint`, { file: dir });
  }
}

const freshTrainer = (): TrainerState => ({ epoch: 0, batch: 0, step: 0, history: [], bestValLoss: null, bestEpoch: null, epochsWithoutImprovement: 0, stoppedEarly: false, partial: { lossSum: 0, seen: 0, correct: 0 } });

/** The state of one run, and the handle callbacks get. */
class Run implements TrainingRun {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly trainer: TrainerState;
  readonly step: StepContext;
  readonly earlyStopping: EarlyStopping;
  readonly best = new BestWeights();
  /** The closing epochs' weights (`training.averageEpochs` > 1). */
  readonly average: EpochAverage | undefined;
  averaged: TrainingHistory['averaged'];
  interrupted = false;
  stopReason: string | undefined;
  calibration: Calibration | undefined;
  /** The ensemble member trained (1-based, of `members`); undefined for one model. */
  member: { index: number; members: number } | undefined;
  readonly schedule: Parameters<typeof learningRateAt>[1];

  /** The raw training samples (for `augmentEachEpoch`), by `TrainingSample.index`. */
  raw: readonly Sample[] = [];
  cache: PrepareCache | undefined;

  constructor(readonly state: FusionState, public train: TrainingSample[], readonly validation: TrainingSample[], readonly options: FitOptions, epochs: number, readonly skipped: SkippedSample[], readonly log: (line: string) => void, resumed?: Resumed) {
    const cfg = state.config.training;
    const network = state.requireNetwork();
    const output = state.requireOutput();
    const trainable = network.trainableWeights;
    const optimizer = new AdamW(trainable, { weightDecay: cfg.weightDecay });
    this.epochs = epochs;
    this.stepsPerEpoch = Math.ceil(train.length / cfg.batchSize);
    const totalSteps = this.stepsPerEpoch * epochs;
    this.schedule = { base: cfg.learningRate, warmupSteps: cfg.warmupSteps ?? Math.round(cfg.warmupRatio * totalSteps), totalSteps, min: cfg.minLearningRate, schedule: cfg.schedule };
    this.trainer = resumed?.trainer ?? freshTrainer();
    if (resumed !== undefined) {
      try {
        checkResumable(resumed, trainable.map((w) => w.size), this.stepsPerEpoch, resumed.dir);
        optimizer.setState(resumed.optimizer);
      } catch (err) { optimizer.dispose(); throw err; }
      if (resumed.best !== undefined) this.best.set(resumed.best);
    }
    const classWeights = output.classWeights(cfg.classWeights, train.map((s) => s.target));
    this.step = {
      state, network, output, optimizer, trainable, labelSmoothing: cfg.labelSmoothing, clipNorm: cfg.clipNorm,
      lossTerms: options.lossTerms ?? [], headLossWeight: options.headLossWeight ?? 1,
      ...(classWeights === undefined ? {} : { classWeights }),
    };
    this.earlyStopping = new EarlyStopping(cfg.earlyStoppingPatience, this.trainer);
    this.average = (cfg.averageEpochs ?? 1) > 1 ? new EpochAverage(cfg.averageEpochs as number) : undefined;
  }

  get trainSamples(): number { return this.train.length; }
  get validationSamples(): number { return this.validation.length; }
  get progress(): Readonly<TrainerState> { return this.trainer; }
  learningRate(): number { return learningRateAt(this.trainer.step, this.schedule); }
  optimizerState(): Promise<AdamWState> { return this.step.optimizer.getState(); }
  bestCopy(): BestCopy | undefined { return this.best.copy(); }
  stop(reason: string): void { this.stopReason ??= reason; }

  /** Another epoch is due: epochs left, no early stop, no stop request. */
  get wantsEpoch(): boolean {
    return this.trainer.epoch < this.epochs && !this.trainer.stoppedEarly && this.stopReason === undefined;
  }

  history(): TrainingHistory {
    const t = this.trainer;
    const h: TrainingHistory = { epochs: t.history, stoppedEarly: t.stoppedEarly, interrupted: this.interrupted, steps: t.step, trainSamples: this.train.length, validationSamples: this.validation.length, skipped: this.skipped };
    if (t.bestEpoch !== null) h.bestEpoch = t.bestEpoch;
    if (this.stopReason !== undefined) h.stopReason = this.stopReason;
    if (this.calibration !== undefined) h.calibration = this.calibration;
    if (this.averaged !== undefined) h.averaged = this.averaged;
    return h;
  }

  dispose(): void {
    this.step.optimizer.dispose();
  }
}

/** The sample order of epoch `epoch` (0-based): a permutation seeded by (seed, epoch), or the given order. */
function epochOrder(run: Run, epoch: number): number[] {
  return run.options.shuffle === false ? run.train.map((_, i) => i) : new Rng(hashString(`epoch:${epoch}`, run.state.config.training.seed)).permutation(run.train.length);
}

/** Run the rest of the current epoch's steps. False when the run ends inside the epoch (abort or stop). */
async function runEpoch(run: Run, callbacks: CallbackList): Promise<boolean> {
  const t = run.trainer;
  const epoch = t.epoch;
  const bs = run.state.config.training.batchSize;
  const order = epochOrder(run, epoch);
  const aug = augmentSetting(run.state, run.options);
  if (aug !== undefined && aug !== false) {
    const fields = aug === true ? run.state.fields : aug;
    const r = await augmentTraining(run.state, run.raw, run.train, { fields, epoch, seed: run.state.config.training.seed, cache: run.cache as PrepareCache, ...(run.options.baseDir === undefined ? {} : { baseDir: run.options.baseDir }) });
    run.train = r.train;
    if (r.failed > 0) run.log(`epoch ${epoch + 1}: ${r.failed} training sample(s) kept their unaugmented inputs (first: ${r.firstError})`);
  }
  await callbacks.epochStart({ epoch: epoch + 1, startBatch: t.batch }, run);
  for (let b = t.batch; b < run.stepsPerEpoch; b++) {
    if (run.options.signal?.aborted === true) { run.interrupted = true; return false; }
    if (run.stopReason !== undefined) return false;
    const samples = order.slice(b * bs, (b + 1) * bs).map((i) => run.train[i] as TrainingSample);
    const learningRate = run.learningRate();
    const r = await trainStep(run.step, { samples, epoch, step: t.step, learningRate, rng: new Rng(hashString(`step:${t.step}`, run.state.config.training.seed)) });
    if (!Number.isFinite(r.loss)) {
      throw new StateError(`training diverged at step ${t.step + 1} (loss ${r.loss}); lower training.learningRate (now ${run.state.config.training.learningRate}) or set training.clipNorm`);
    }
    const p = t.partial;
    p.lossSum += r.loss * samples.length; p.seen += samples.length; p.correct += r.correct;
    if (r.losses !== undefined) {
      p.terms ??= {};
      for (const [k, v] of Object.entries(r.losses)) p.terms[k] = (p.terms[k] ?? 0) + v * samples.length;
    }
    t.step++;
    t.batch = b + 1;
    const info: StepInfo = { epoch: epoch + 1, batch: b + 1, step: t.step, loss: r.loss, meanLoss: p.lossSum / p.seen, learningRate, samples: samples.length };
    if (r.losses !== undefined) info.losses = r.losses;
    await callbacks.step(info, run);
    await new Promise((resolve) => setImmediate(resolve)); // let a SIGINT handler run between steps
  }
  return true;
}

/** Close a finished epoch: metrics, validation, early stopping, best weights; the trainer moves to the next epoch. */
async function finishEpoch(run: Run, started: number): Promise<EpochMetrics> {
  const t = run.trainer;
  const p = t.partial;
  const seen = Math.max(1, p.seen);
  // The learning rate of the epoch's last step.
  const m: EpochMetrics = { epoch: t.epoch + 1, trainLoss: p.lossSum / seen, learningRate: learningRateAt(Math.max(0, t.step - 1), run.schedule), seconds: 0 };
  if (p.terms !== undefined) m.losses = Object.fromEntries(Object.entries(p.terms).map(([k, v]) => [k, v / seen]));
  if (run.step.output.trainingAccuracy !== undefined) m.trainAccuracy = p.correct / seen;
  await run.average?.push(run.state, t.epoch + 1);
  if (run.validation.length > 0) {
    const v = await validate(run.state, run.validation);
    m.valLoss = v.loss;
    if (v.accuracy !== undefined) m.valAccuracy = v.accuracy;
    if (v.macroF1 !== undefined) m.valMacroF1 = v.macroF1;
    if (run.earlyStopping.update(t.epoch + 1, v.loss)) {
      await run.best.save(run.state, t.epoch + 1);
      run.average?.markBest();
    }
  }
  m.seconds = (performance.now() - started) / 1000;
  t.history.push(m);
  t.epoch++; t.batch = 0; t.partial = { lossSum: 0, seen: 0, correct: 0 };
  return m;
}

/** A run's epochs until it is done, stops or is interrupted; then its closing steps (`finishRun`). */
async function trainEpochs(run: Run, callbacks: CallbackList): Promise<void> {
  while (run.wantsEpoch) {
    const started = performance.now();
    if (!(await runEpoch(run, callbacks))) break;
    await callbacks.epochEnd(await finishEpoch(run, started), run);
    if (run.options.signal?.aborted === true) { run.interrupted = run.wantsEpoch; break; }
  }
  await finishRun(run);
}

/** What a member's run ended with (`TrainingHistory.ensemble`). */
function memberSummary(run: Run): EnsembleMemberSummary {
  const h = run.history();
  const best = h.bestEpoch === undefined ? h.epochs[h.epochs.length - 1] : h.epochs[h.bestEpoch - 1];
  return {
    seed: run.state.config.training.seed, epochs: h.epochs.length, steps: h.steps, stoppedEarly: h.stoppedEarly,
    ...(h.bestEpoch === undefined ? {} : { bestEpoch: h.bestEpoch }),
    ...(best?.valLoss === undefined ? {} : { valLoss: best.valLoss }),
    ...(best?.valAccuracy === undefined ? {} : { valAccuracy: best.valAccuracy }),
  };
}

/**
 * `training.ensemble` > 1, after member 0 (the run's own state) finished: members 1..N-1 trained one after
 * another on the same prepared samples, each a state of its own, then adopted by the run's state, whose
 * network answers with the mean of their logits. New members come from `FusionState.createMember` (seed + k);
 * a trained ensemble trained further (a fine-tune) passes its own members as `existing`, and each continues
 * from its weights. An abort keeps the members that finished (a new ensemble is their ensemble, and the saved
 * config says how many; a fine-tuned one keeps every member, the interrupted one and those after it with the
 * weights they had); a callback's stop keeps the stopped member too and trains no further one. With a
 * checkpoint folder member k writes its own (`member-<k>`), and a resumed run continues each member from it (a
 * finished member trains no further). Undefined for one model.
 */
async function trainMembers(run: Run, callbacks: CallbackList, epochs: number, log: (line: string) => void, existing?: FusionState[], checkpoint?: CheckpointCallback): Promise<TrainingHistory['ensemble']> {
  const n = run.member?.members ?? 1;
  if (n <= 1) return undefined;
  const summaries = [memberSummary(run)];
  const created: FusionState[] = []; // new members, disposed if anything throws
  try {
    // A callback's stop (`TrainingRun.stop`) ends the ensemble's training too: the members trained so far remain.
    for (let k = 1; k < n && !run.interrupted && run.stopReason === undefined; k++) {
      if (run.options.signal?.aborted === true) { run.interrupted = true; break; }
      let member = existing?.[k - 1];
      if (member === undefined) created.push(member = run.state.createMember(k));
      const memberLog = (line: string): void => log(`member ${k + 1}/${n}: ${line}`);
      memberLog(`${existing === undefined ? 'training' : 'training further'} with seed ${member.config.training.seed}`);
      // Its own checkpoint (`<checkpointDir>/member-<k>`) when the run resumes.
      const dir = run.options.checkpointDir === undefined ? undefined : memberCheckpointDir(run.options.checkpointDir, k + 1);
      const resumed = run.options.resume === true && dir !== undefined ? await resumeFrom(member, dir) : undefined;
      const mrun = new Run(member, run.train, run.validation, run.options, epochs, run.skipped, memberLog, resumed);
      mrun.member = { index: k + 1, members: n };
      mrun.raw = run.raw;
      mrun.cache = run.cache;
      if (resumed !== undefined) memberLog(resumeLine(resumed.dir, mrun.trainer, epochs));
      try {
        await trainEpochs(mrun, callbacks);
        // A member that stopped inside an epoch leaves its checkpoint there, as the run's own does at its end.
        await checkpoint?.onTrainEnd(mrun.history(), mrun);
      } finally {
        mrun.dispose();
      }
      if (mrun.interrupted) {
        run.interrupted = true;
        if (existing !== undefined) {
          log(`member ${k + 1}/${n} was interrupted: it keeps the weights it had then, and the members after it were not trained further`);
        } else {
          (created.pop() as FusionState).dispose();
          log(`member ${k + 1}/${n} was interrupted and is left out: the model is the ensemble of the ${k} member(s) that finished`);
        }
        break;
      }
      summaries.push(memberSummary(mrun));
      if (mrun.stopReason !== undefined) run.stop(mrun.stopReason);
    }
  } catch (err) {
    for (const m of created) m.dispose();
    throw err;
  }
  const members = existing ?? created;
  run.state.adoptMembers(members);
  const result: NonNullable<TrainingHistory['ensemble']> = { members: summaries };
  if (run.validation.length > 0 && members.length > 0) {
    result.validation = await validate(run.state, run.validation);
    const v = result.validation;
    log(`ensemble of ${run.state.members}: validation loss ${v.loss.toFixed(4)}${v.accuracy === undefined ? '' : `, accuracy ${(100 * v.accuracy).toFixed(2)}%`} (members: ${summaries.map((s) => (s.valAccuracy === undefined ? s.valLoss?.toFixed(4) ?? '-' : `${(100 * s.valAccuracy).toFixed(2)}%`)).join(', ')})`);
  }
  return result;
}

/** After the last epoch: the best validation weights back (when the run saw them), or say why it ended early. */
async function finishRun(run: Run): Promise<void> {
  const t = run.trainer;
  if (run.interrupted) {
    run.log(interruptedLine(t, run.options.checkpointDir));
    return;
  }
  if (run.stopReason !== undefined) run.log(stoppedLine(run.stopReason, t));
  if (t.batch === 0 && run.best.saved && t.bestEpoch !== null && t.bestEpoch !== t.epoch) {
    run.best.restore(run.state);
    run.log(restoredLine(t.bestEpoch, t.bestValLoss));
  }
  await averageWeights(run);
}

/**
 * `training.averageEpochs`: the mean of the closing epochs' weights (those ending at the best validation epoch,
 * or the last ones). With validation data the mean replaces the weights only when its validation loss is lower
 * than that of the weights the run holds (the best epoch's); either way the history says what happened.
 */
async function averageWeights(run: Run): Promise<void> {
  const t = run.trainer;
  if (run.average === undefined || run.interrupted || t.batch !== 0) return;
  const validated = run.validation.length > 0;
  const atBest = validated && run.best.saved;
  const w = run.average.window(atBest);
  if (w === null) return;
  const held = await copyWeights(run.state);
  assignWeights(run.state, w.values);
  if (!validated) {
    run.averaged = { from: w.from, to: w.to, kept: true };
    run.log(averagedLine(run.averaged));
    return;
  }
  // The weights held: the best epoch's when the run saw it, else the last epoch's (a resumed run).
  const heldLoss = atBest ? (t.bestValLoss as number) : (t.history[t.history.length - 1]?.valLoss ?? Number.POSITIVE_INFINITY);
  const v = await validate(run.state, run.validation);
  const kept = v.loss < heldLoss;
  if (!kept) assignWeights(run.state, held);
  run.averaged = { from: w.from, to: w.to, validationLoss: v.loss, kept };
  run.log(averagedLine(run.averaged, heldLoss));
}

/**
 * After a finished run: fit the output's calibration (temperature, out-of-scope threshold) on the validation
 * samples' head outputs, with the weights the run ends with. Kinds without calibration are left alone. An
 * `energy+nearest` out-of-scope score first keeps the in-scope training samples' fused vectors
 * (`state.scopeMemory`); it needs validation data, and without any the threshold stays on the probability.
 */
async function calibrate(run: Run): Promise<void> {
  const output = run.step.output;
  if (run.interrupted || output.calibrate === undefined) return;
  const settings = calibrationSettings(run.state.config.output);
  run.state.scopeMemory = undefined;
  if (settings.score === 'energy+nearest') {
    if (run.validation.length === 0) {
      run.log('calibration: the energy+nearest out-of-scope score needs validation data, and this run has none; the threshold applies to the top probability');
      settings.score = 'probability';
    } else {
      const oos = new Set(settings.labels);
      run.state.scopeMemory = await fusedVectors(run.state, run.train.filter((s) => !oos.has(String(s.target))).map((s) => s.values));
    }
  }
  const { rows, nearest } = await outputRowsWithNearest(run.state, run.validation.map((s) => s.values));
  const calibration = output.calibrate(rows, run.validation.map((s) => s.target), settings, nearest);
  run.calibration = calibration;
  // Without validation samples and a threshold from the config there is nothing to say.
  if (calibration.validation !== undefined || calibration.outOfScopeThreshold !== null || calibration.outOfScopeLabels !== undefined) run.log(calibrationLine(calibration));
}

/** Train a state on `source`; resolves with the history (also stored as `state.history`). */
export async function runTraining(state: FusionState, source: SampleSource, options: FitOptions = {}): Promise<TrainingHistory> {
  const epochs = checkOptions(state, options);
  const log = options.log ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  const skipped: SkippedSample[] = [];
  const onSkip = (s: SkippedSample): void => { skipped.push(s); options.onSkip?.(s); };
  const cache = new PrepareCache(options.cacheDir);
  // Every folder the run will write is checked before any work (refused untouched when it is not mmfuse's).
  if (options.checkpointDir !== undefined) await checkOutputTarget(options.checkpointDir, checkpointFolderRule());
  await cache.claim();
  const keep = options.keepFields === undefined ? {} : { keepFields: options.keepFields };

  // Data: both sets prepared, validation split off when none was given.
  const rawTrain = await collectSamples(source);
  let train = await prepareLabeled(state, rawTrain, { cache, file: 'train', onSkip, log, ...keep, ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }) });
  const validationDir = options.validationBaseDir ?? options.baseDir;
  let validation = options.validation === undefined ? [] : await prepareLabeled(state, options.validation, { cache, file: 'validation', onSkip, log, ...keep, ...(validationDir === undefined ? {} : { baseDir: validationDir }) });
  if (train.length === 0) {
    throw new InvalidInputError(`no usable training samples (${skipped.length} skipped${skipped[0] === undefined ? '' : `; first: ${skipped[0].message}`})`);
  }
  if (options.validation === undefined) ({ train, validation } = splitValidation(train, state.config.training));

  const progress = new ProgressCallback(options.progress ?? 'auto', log, options.progressStream);
  // The run's own lines (resume, interrupted, restored) clear the bar first instead of landing on its row.
  const runLog = (line: string): void => progress.log(line);
  // A trained ensemble trains further one member at a time: member 0 alone first, then each of the others.
  const existing = state.members > 1 ? state.detachMembers() : undefined;
  let run: Run | undefined;
  try {
    const resumed = await initOrResume(state, train, options);
    train = dropUnknownTargets(state, train, 'train', onSkip);
    validation = dropUnknownTargets(state, validation, 'validation', onSkip);
    run = new Run(state, train, validation, options, epochs, skipped, runLog, resumed);
    const members = existing === undefined ? state.config.training.ensemble ?? 1 : existing.length + 1;
    if (members > 1) run.member = { index: 1, members };
    run.raw = rawTrain;
    run.cache = cache;
    if (resumed !== undefined) runLog(resumeLine(resumed.dir, run.trainer, epochs));
    const checkpoint = options.checkpointDir === undefined ? undefined : new CheckpointCallback(options.checkpointDir);
    const callbacks = new CallbackList([
      progress,
      ...(checkpoint === undefined ? [] : [checkpoint]),
      ...(options.onEpoch === undefined ? [] : [{ onEpochEnd: (m: EpochMetrics) => options.onEpoch?.(m) }]),
      ...(options.callbacks ?? []),
    ]);
    await callbacks.trainStart(run);
    await trainEpochs(run, callbacks);
    const ensemble = await trainMembers(run, callbacks, epochs, runLog, existing, checkpoint);
    await calibrate(run);
    const history = run.history();
    if (ensemble !== undefined) history.ensemble = ensemble;
    state.history = history;
    await callbacks.trainEnd(history, run);
    return history;
  } finally {
    run?.dispose();
    // A failure before the members were trained further leaves the ensemble whole, as it was.
    if (existing !== undefined && state.members === 1) state.adoptMembers(existing);
  }
}
