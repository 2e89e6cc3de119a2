/**
 * The training loop: AdamW with warmup + cosine schedule, global-norm clipping, label smoothing, class
 * weights, per-epoch validation, early stopping (best weights restored), a checkpoint per epoch, resume,
 * abort through an AbortSignal (stops after the current step and writes a checkpoint). One seed fixes
 * the validation split, the shuffles, weight init and every dropout mask, so a run repeats exactly; the
 * shuffle of epoch e and the dropout masks of step s are derived from (seed, e) and (seed, s), so a
 * resumed run continues exactly as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, MmfuseError, ModelFormatError, Rng, createRng, hashString } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { headLoss } from '../heads.js';
import { accuracy, confusionMatrix, macroF1 } from '../metrics.js';
import type { FusionModel } from '../model.js';
import { toBatchInput } from '../network.js';
import { AdamW, clipByGlobalNorm } from '../optim/adamw.js';
import { batchTargets, outputValues, rowLoss, topIndex } from '../outputs.js';
import { PrepareCache } from '../pipeline/cache.js';
import { collectSamples, prepareSamples } from '../pipeline/prepare.js';
import type { SampleSource } from '../pipeline/prepare.js';
import { learningRateAt } from '../schedule.js';
import type { Target } from '../targets.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { TrainerState } from './checkpoint.js';
import { Progress } from './progress.js';
import type { ProgressMode } from './progress.js';

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
  /** Write a checkpoint here after every epoch (and on abort). */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` if there is one. */
  resume?: boolean;
  onEpoch?: (m: EpochMetrics) => void;
  /** Where log lines go. Default: stderr. */
  log?: (line: string) => void;
  /** `auto` (default): a bar on a terminal, lines otherwise. */
  progress?: ProgressMode;
  /** On-disk cache of prepared inputs. */
  cacheDir?: string;
  onSkip?: (s: SkippedSample) => void;
  /** Shuffle the training samples every epoch. Default true; false keeps the given order (fixed batches). */
  shuffle?: boolean;
}

export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  trainLoss: number;
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
  /** Stopped by the abort signal. */
  interrupted: boolean;
  /** Steps done in total (over resumed runs). */
  steps: number;
  trainSamples: number;
  validationSamples: number;
  skipped: SkippedSample[];
}

type Labeled = { id: string; line: number; values: unknown[]; target: Target };

function classWeightVector(model: FusionModel, train: readonly Labeled[]): number[] | undefined {
  const cw = model.config.training.classWeights;
  const labels = model.labels;
  if (cw === null || labels.length === 0) return undefined;
  if (cw === 'balanced') {
    const counts = new Array<number>(labels.length).fill(0);
    for (const s of train) for (const l of Array.isArray(s.target) ? (s.target as string[]) : [s.target as string]) counts[labels.indexOf(l)]! += 1;
    return counts.map((c) => (c > 0 ? train.length / (labels.length * c) : 1));
  }
  return labels.map((l) => cw[l] ?? 1);
}

/** Inference-mode loss / accuracy / macro-F1 on labeled samples. */
function validate(model: FusionModel, samples: readonly Labeled[]): { loss: number; accuracy?: number; macroF1?: number } {
  const spec = model.outputSpec;
  const rows = model.outputsFor(samples.map((s) => s.values));
  const loss = rows.reduce((a, r, i) => a + rowLoss(spec, r, (samples[i] as Labeled).target), 0) / Math.max(1, rows.length);
  if (spec.type !== 'category') return { loss };
  const truth = samples.map((s) => spec.labels.indexOf(s.target as string));
  const pred = rows.map((r) => topIndex(spec, outputValues(spec, r)));
  return { loss, accuracy: accuracy(truth, pred), macroF1: macroF1(confusionMatrix(truth, pred, spec.labels.length)) };
}

export async function runTraining(model: FusionModel, train: SampleSource, options: FitOptions): Promise<TrainingHistory> {
  const cfg = model.config.training;
  const epochs = options.epochs ?? cfg.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new MmfuseError('CONFIG', `epochs must be a positive integer, got ${epochs}`);
  if (options.resume === true && options.checkpointDir === undefined) throw new MmfuseError('CONFIG', 'resume: true needs a checkpointDir');
  const log = options.log ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  const progress = new Progress(options.progress ?? 'auto', log);
  const skipped: SkippedSample[] = [];
  const onSkip = (s: SkippedSample): void => { skipped.push(s); options.onSkip?.(s); };
  const cache = new PrepareCache(options.cacheDir);
  const outField = model.config.output.field;

  const prep = async (source: SampleSource, file: string, baseDir?: string): Promise<Labeled[]> => {
    const samples = await collectSamples(source);
    const { prepared } = await prepareSamples(samples, {
      ...model.prepareOptions(cache, baseDir), file, onSkip,
      check: (s, id) => model.checkTarget(s.fields[outField], id),
    });
    return prepared.map((p) => ({ id: p.id, line: samples[p.index]?.line ?? p.index + 1, values: p.values, target: p.extra }));
  };
  let trainSet = await prep(train, 'train', options.baseDir);
  let valSet: Labeled[] = options.validation === undefined ? [] : await prep(options.validation, 'validation', options.validationBaseDir ?? options.baseDir);
  if (trainSet.length === 0) {
    throw new InvalidInputError(`no usable training samples (${skipped.length} skipped${skipped[0] === undefined ? '' : `; first: ${skipped[0].message}`})`);
  }
  const seed = cfg.seed;
  if (options.validation === undefined && cfg.validationSplit > 0 && trainSet.length >= 10) {
    const order = createRng(seed).fork('validation-split').permutation(trainSet.length);
    const nVal = Math.max(1, Math.round(trainSet.length * cfg.validationSplit));
    const valIdx = new Set(order.slice(0, nVal));
    valSet = trainSet.filter((_, i) => valIdx.has(i));
    trainSet = trainSet.filter((_, i) => !valIdx.has(i));
  }

  // Weights: from the checkpoint, from an earlier fit/load, or fitted fresh on this data.
  const checkpoint = options.resume === true ? await readCheckpoint(options.checkpointDir as string) : undefined;
  if (checkpoint !== undefined) {
    if (JSON.stringify(checkpoint.model.config) !== JSON.stringify(model.config)) {
      throw new ModelFormatError(`the checkpoint in ${options.checkpointDir} was written for a different config; remove it or train without resume`, { file: options.checkpointDir as string });
    }
    model.restore(checkpoint.model, checkpoint.buffer, options.checkpointDir as string);
  } else if (model.network === undefined) {
    await model.initializeFrom(trainSet);
  }
  // Samples whose labels the model does not know (validation, or new data after load) cannot be scored.
  const known = (s: Labeled, file: string): boolean => {
    try { model.checkTarget(s.target, s.id); return true; } catch (err) {
      onSkip({ file, line: s.line, sample: s.id, code: 'INVALID_INPUT', reason: (err as MmfuseError).reason, message: (err as Error).message, field: outField });
      return false;
    }
  };
  trainSet = trainSet.filter((s) => known(s, 'train'));
  valSet = valSet.filter((s) => known(s, 'validation'));

  const net = model.requireNetwork();
  const spec = model.outputSpec;
  const trainable = net.trainableWeights;
  const optimizer = new AdamW(trainable, { weightDecay: cfg.weightDecay });
  const classWeights = classWeightVector(model, trainSet);
  const bs = cfg.batchSize;
  const stepsPerEpoch = Math.ceil(trainSet.length / bs);
  const totalSteps = stepsPerEpoch * epochs;
  const sched = { base: cfg.learningRate, warmupSteps: cfg.warmupSteps ?? Math.round(cfg.warmupRatio * totalSteps), totalSteps, min: cfg.minLearningRate, schedule: cfg.schedule };

  let state: TrainerState = { epoch: 0, batch: 0, step: 0, history: [], bestValLoss: null, bestEpoch: null, epochsWithoutImprovement: 0, stoppedEarly: false, partial: { lossSum: 0, seen: 0, correct: 0 } };
  if (checkpoint !== undefined) {
    state = checkpoint.state;
    optimizer.setState(checkpoint.optimizer);
    log(`resuming from ${options.checkpointDir}: epoch ${state.epoch + (state.batch > 0 ? 1 : 0)}, step ${state.step}`);
  }
  let best: Float32Array[] | undefined;
  let interrupted = false;
  const checkpointNow = async (): Promise<void> => {
    if (options.checkpointDir === undefined) return;
    model.history = historyOf(state, false);
    await writeCheckpoint(options.checkpointDir, model, optimizer.getState(), state);
  };
  const historyOf = (s: TrainerState, intr: boolean): TrainingHistory => {
    const h: TrainingHistory = { epochs: s.history, stoppedEarly: s.stoppedEarly, interrupted: intr, steps: s.step, trainSamples: trainSet.length, validationSamples: valSet.length, skipped };
    if (s.bestEpoch !== null) h.bestEpoch = s.bestEpoch;
    return h;
  };

  try {
    while (state.epoch < epochs && !state.stoppedEarly) {
      const epoch = state.epoch;
      const order = options.shuffle === false ? trainSet.map((_, i) => i) : new Rng(hashString(`epoch:${epoch}`, seed)).permutation(trainSet.length);
      progress.startEpoch();
      const startBatch = state.batch;
      const t0 = performance.now();
      let lr = learningRateAt(state.step, sched);
      for (let b = state.batch; b < stepsPerEpoch; b++) {
        if (options.signal?.aborted === true) { interrupted = true; break; }
        const idx = order.slice(b * bs, (b + 1) * bs);
        const batch = idx.map((i) => trainSet[i] as Labeled);
        lr = learningRateAt(state.step, sched);
        const { loss, correct } = trainStep(model, batch, classWeights, lr, new Rng(hashString(`step:${state.step}`, seed)), optimizer, trainable, spec);
        if (!Number.isFinite(loss)) {
          throw new MmfuseError('STATE', `training diverged at step ${state.step + 1} (loss ${loss}); lower training.learningRate (now ${cfg.learningRate}) or set training.clipNorm`);
        }
        state.partial.lossSum += loss * batch.length;
        state.partial.seen += batch.length;
        state.partial.correct += correct;
        state.step++;
        state.batch = b + 1;
        progress.step({ epoch: epoch + 1, epochs, done: b + 1, total: stepsPerEpoch, loss: state.partial.lossSum / state.partial.seen, doneAtStart: startBatch });
        await new Promise((r) => setImmediate(r)); // let a SIGINT handler run between steps
      }
      if (interrupted) break;
      const m: EpochMetrics = { epoch: epoch + 1, trainLoss: state.partial.lossSum / Math.max(1, state.partial.seen), learningRate: lr, seconds: 0 };
      if (spec.type === 'category') m.trainAccuracy = state.partial.correct / Math.max(1, state.partial.seen);
      if (valSet.length > 0) {
        const v = validate(model, valSet);
        m.valLoss = v.loss;
        if (v.accuracy !== undefined) m.valAccuracy = v.accuracy;
        if (v.macroF1 !== undefined) m.valMacroF1 = v.macroF1;
        if (state.bestValLoss === null || v.loss < state.bestValLoss) {
          state.bestValLoss = v.loss; state.bestEpoch = epoch + 1; state.epochsWithoutImprovement = 0;
          best = model.namedWeights().map(([, w]) => w.dataSync().slice() as Float32Array);
        } else {
          state.epochsWithoutImprovement++;
          if (cfg.earlyStoppingPatience !== null && state.epochsWithoutImprovement >= cfg.earlyStoppingPatience) state.stoppedEarly = true;
        }
      }
      m.seconds = (performance.now() - t0) / 1000;
      state.history.push(m);
      state.epoch = epoch + 1; state.batch = 0; state.partial = { lossSum: 0, seen: 0, correct: 0 };
      progress.epoch(`epoch ${m.epoch}/${epochs} loss ${m.trainLoss.toFixed(4)}${m.trainAccuracy !== undefined ? ` acc ${m.trainAccuracy.toFixed(3)}` : ''}${m.valLoss !== undefined ? ` val_loss ${m.valLoss.toFixed(4)}` : ''}${m.valAccuracy !== undefined ? ` val_acc ${m.valAccuracy.toFixed(3)} val_f1 ${(m.valMacroF1 ?? 0).toFixed(3)}` : ''} lr ${lr.toExponential(2)} ${m.seconds.toFixed(1)}s${state.stoppedEarly ? ' (early stop)' : ''}`);
      await checkpointNow();
      options.onEpoch?.(m);
      if (options.signal?.aborted === true) { interrupted = state.epoch < epochs && !state.stoppedEarly; break; }
    }
    if (interrupted) {
      await checkpointNow();
      log(`interrupted at epoch ${state.epoch + (state.batch > 0 ? 1 : 0)}, step ${state.step}${options.checkpointDir !== undefined ? `; checkpoint in ${options.checkpointDir}, continue with resume` : ''}`);
    } else if (best !== undefined && state.bestEpoch !== null && state.bestEpoch !== state.epoch) {
      // Restore the weights of the best validation epoch (only when this run saw it).
      const named = model.namedWeights();
      tf.tidy(() => named.forEach(([, w], i) => w.assign(tf.tensor(best![i] as Float32Array, w.shape))));
      log(`restored the weights of epoch ${state.bestEpoch} (best validation loss ${state.bestValLoss?.toFixed(4)})`);
    }
  } finally {
    optimizer.dispose();
  }
  return historyOf(state, interrupted);
}

function trainStep(model: FusionModel, batch: Labeled[], classWeights: number[] | undefined, lr: number, rng: Rng, optimizer: AdamW, trainable: tf.Variable[], spec: FusionModel['outputSpec']): { loss: number; correct: number } {
  const net = model.requireNetwork();
  const input = toBatchInput(batch.map((s) => s.values), model.fields.length);
  const targets = batchTargets(spec, batch.map((s) => s.target), classWeights);
  const smoothing = model.config.training.labelSmoothing;
  let pred: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = net.forward(input, { training: true, rng });
    if (spec.type === 'category') pred = tf.keep(logits.argMax(-1));
    return headLoss(spec.type, logits, targets, smoothing);
  }, trainable);
  const list = trainable.map((v) => grads[v.name]);
  const clip = model.config.training.clipNorm;
  const clipped = clip === null ? undefined : clipByGlobalNorm(list.filter((g): g is tf.Tensor => g !== undefined), clip);
  optimizer.step(list, lr, clipped?.scale);
  const loss = value.dataSync()[0] as number;
  let correct = 0;
  if (pred !== undefined) {
    const p = pred.dataSync();
    batch.forEach((s, i) => { if (spec.labels[p[i] as number] === s.target) correct++; });
  }
  tf.dispose([value, ...Object.values(grads), ...(pred === undefined ? [] : [pred]), ...(clipped === undefined ? [] : [clipped.norm, clipped.scale])]);
  return { loss, correct };
}
