/**
 * Loss terms: extra losses added to the head loss of every training step, without touching the loop —
 * an auxiliary loss on an encoder's `aux` outputs (e.g. CTC on a speech encoder's frame logits), a
 * distillation loss towards a teacher's probabilities, or a consistency loss between two forward passes
 * with different inputs hidden (voice-only logits towards text-only logits). Each term's `compute` runs
 * inside the step's gradient scope, so everything it returns is differentiated and freed by the step.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@mmfuse/core';
import type { EncoderOutput, Rng } from '@mmfuse/core';
import type { BatchTargets, FittedOutput, Target } from '../outputs/index.js';
import type { FusionState } from '../state.js';
import { maskedMean } from '../strategies/strategy.js';

/** One prepared sample of a training run. */
export interface TrainingSample {
  /** The sample's id (manifest `id`, or its position as a string). */
  readonly id: string;
  /** 0-based position of the sample in the source given to `fit` (in `validation` for validation samples). */
  readonly index: number;
  /** Manifest line, for reports. */
  readonly line: number;
  /** Input m's prepared value (undefined when the sample lacks input m). */
  readonly values: readonly unknown[];
  readonly target: Target;
  /** The raw fields named by `FitOptions.keepFields` (e.g. a transcript for a CTC loss). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** Options of `LossContext.forward`. */
export interface LossForwardOptions {
  /** Input fields to hide (as if the samples lacked them). Default none. */
  hide?: readonly string[];
  /** Batch rows to run (0-based, in batch order); the logits have one row per entry. Default every row. */
  rows?: readonly number[];
  /** Training mode (dropout on, with a stream of its own). Default true. */
  training?: boolean;
  /**
   * Prepared values to use instead of the samples' own, per input field: one per entry of `rows` (undefined
   * = the sample lacks the input in this pass). E.g. a typed text's phoneme sequence in the audio input,
   * so the voice path learns from text. Default none.
   */
  replace?: Readonly<Record<string, readonly unknown[]>>;
}

/** One input's encoder output in the step's forward pass. */
export interface EncodedBatchInput {
  /** Batch rows (0-based) that have this input, in the order of `output`'s first axis. */
  readonly rows: readonly number[];
  /** features [rows, time, dim], mask [rows, time], and the encoder's optional `aux` tensors. */
  readonly output: EncoderOutput;
}

/** What a loss term sees of one training step. Tensors belong to the step: do not dispose or keep them. */
export interface LossContext {
  readonly state: FusionState;
  readonly output: FittedOutput;
  /** The batch's samples, in batch row order. */
  readonly samples: readonly TrainingSample[];
  /** The head loss's targets of the batch (`output.encode` of the samples' targets, class weights applied). */
  readonly targets: BatchTargets;
  /** Head output of the step's forward pass (training mode): [B, outDim]. */
  readonly logits: tf.Tensor2D;
  /** The head loss of the step (before `headLossWeight`). */
  readonly headLoss: tf.Scalar;
  /** Each input's encoder output by field name (absent when no sample of the batch has the input). */
  readonly encoded: Readonly<Record<string, EncodedBatchInput | undefined>>;
  /** A stream of this term's own for this step. */
  readonly rng: Rng;
  /** 0-based epoch. */
  readonly epoch: number;
  /** 0-based global step. */
  readonly step: number;
  /**
   * Run the network again on this batch, inside the same gradient scope: logits [rows, outDim] with the
   * `hide` inputs removed (modality dropout is not applied; dropout is, with a stream of its own).
   */
  forward(options?: LossForwardOptions): tf.Tensor2D;
}

/** An extra loss: `weight × compute(ctx)` is added to the step's loss. */
export interface LossTerm {
  /** Name in logs and `EpochMetrics.losses`. */
  readonly name: string;
  /** Multiplies the term. Default 1. */
  readonly weight?: number;
  /** A scalar to minimize, built from the context's tensors. */
  compute(ctx: LossContext): tf.Scalar;
}

/** Options of `distillationLoss`. */
export interface DistillationOptions {
  /** The teacher's probabilities (length outDim, in `output.labels` order) of a training sample, or undefined to leave it out. */
  teacher: (sample: TrainingSample) => ArrayLike<number> | undefined;
  /** Softmax temperature of the student (the teacher's probabilities are taken as given). Default 1. */
  temperature?: number;
  /** Weight of the term. Default 1 (lower `FitOptions.headLossWeight` to mix hard and soft targets). */
  weight?: number;
  /** Name in logs. Default `distill`. */
  name?: string;
}

/**
 * Knowledge distillation (Hinton et al.) for a category output: the cross-entropy between a teacher's
 * probabilities and the student's softmax(logits / T), scaled by T², over the samples the teacher covers.
 * Mix with the hard labels through `FitOptions.headLossWeight` (e.g. 0.5) and this term's `weight`.
 */
export function distillationLoss(options: DistillationOptions): LossTerm {
  const t = options.temperature ?? 1;
  if (!(t > 0) || !Number.isFinite(t)) throw new ConfigError(`must be a positive number, got ${t}`, { path: 'temperature' });
  const term: LossTerm = {
    name: options.name ?? 'distill',
    compute(ctx: LossContext): tf.Scalar {
      const k = ctx.output.outDim;
      const rows: number[] = [];
      const probs: number[] = [];
      ctx.samples.forEach((s, r) => {
        const p = options.teacher(s);
        if (p === undefined) return;
        if (p.length !== k) throw new ConfigError(`the teacher gave ${p.length} probabilities for sample ${JSON.stringify(s.id)}; the output has ${k} labels`, { path: 'teacher' });
        rows.push(r);
        for (let i = 0; i < k; i++) probs.push(p[i] as number);
      });
      if (rows.length === 0) return tf.scalar(0);
      const sel = rows.length === ctx.samples.length ? ctx.logits : selectRows(ctx.logits, rows); // [R, K]
      const logp = tf.logSoftmax(sel.div(t), -1);
      const target = tf.tensor2d(probs, [rows.length, k]);
      return target.mul(logp).sum(1).neg().mean().mul(t * t) as tf.Scalar;
    },
  };
  return options.weight === undefined ? term : { ...term, weight: options.weight };
}

/** Options of `modalityDistillationLoss`. */
export interface ModalityDistillationOptions {
  /** The inputs the teacher pass sees (every other input hidden), e.g. `['text']`. */
  teacher: readonly string[];
  /** The inputs the student pass sees, e.g. `['audio']`. */
  student: readonly string[];
  /** Softmax temperature of both passes. Default 2. */
  temperature?: number;
  /** Weight of the term. Default 1. */
  weight?: number;
  /** Name in logs. Default `modality-distill`. */
  name?: string;
}

/**
 * Cross-modal distillation on paired samples (Hinton et al.'s loss between two views of one sample): on
 * every batch sample that has all the teacher's and all the student's inputs, the student pass (only the
 * student inputs, training mode) learns to match the teacher pass (only the teacher inputs, inference
 * mode, no gradient): KL(softmax(teacher / T) || softmax(student / T)) x T². E.g. the voice-only
 * prediction learns the text-only prediction of the same request, so a spoken request gets what the text
 * path knows. Category outputs only.
 */
export function modalityDistillationLoss(options: ModalityDistillationOptions): LossTerm {
  const t = options.temperature ?? 2;
  if (!(t > 0) || !Number.isFinite(t)) throw new ConfigError(`must be a positive number, got ${t}`, { path: 'temperature' });
  for (const key of ['teacher', 'student'] as const) {
    const list = options[key];
    if (!Array.isArray(list) || list.length === 0 || list.some((f) => typeof f !== 'string' || f === '')) throw new ConfigError(`must be a non-empty list of input fields, got ${JSON.stringify(list)}`, { path: key });
  }
  const overlap = options.teacher.filter((f) => options.student.includes(f));
  if (overlap.length > 0) throw new ConfigError(`teacher and student share the input(s) ${overlap.join(', ')}; give them different inputs`, { path: 'student' });
  const term: LossTerm = {
    name: options.name ?? 'modality-distill',
    compute(ctx: LossContext): tf.Scalar {
      if (ctx.output.type !== 'category') throw new ConfigError(`modality distillation needs a category output, not ${ctx.output.type}`, { path: 'output.type' });
      const fields = ctx.state.fields;
      const index = (f: string): number => {
        const m = fields.indexOf(f);
        if (m < 0) throw new ConfigError(`"${f}" is not an input of this model (inputs: ${fields.join(', ')})`, { path: 'teacher' });
        return m;
      };
      const need = [...options.teacher, ...options.student].map(index);
      const rows = ctx.samples.flatMap((s, r) => (need.every((m) => s.values[m] !== undefined) ? [r] : []));
      if (rows.length === 0) return tf.scalar(0);
      const hideAllBut = (keep: readonly string[]): string[] => fields.filter((f) => !keep.includes(f));
      const teacher = stopGradient(ctx.forward({ hide: hideAllBut(options.teacher), rows, training: false })); // [R, K]
      const student = ctx.forward({ hide: hideAllBut(options.student), rows }); // [R, K]
      const pT = tf.softmax(teacher.div(t), -1);
      const kl = pT.mul(tf.logSoftmax(teacher.div(t), -1).sub(tf.logSoftmax(student.div(t), -1))).sum(1); // [R]
      return kl.mean().mul(t * t) as tf.Scalar;
    },
  };
  return options.weight === undefined ? term : { ...term, weight: options.weight };
}

/** Rows of x [B, K] as a one-hot product (differentiable on every engine): [rows.length, K]. */
export function selectRows(x: tf.Tensor2D, rows: readonly number[]): tf.Tensor2D {
  const b = x.shape[0];
  const sel = new Float32Array(rows.length * b);
  rows.forEach((r, i) => { sel[i * b + r] = 1; });
  return tf.matMul(tf.tensor2d(sel, [rows.length, b]), x);
}

/**
 * The input's value with no gradient flowing back through it (a teacher's logits, a fixed target):
 * identity forward, zero gradient.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...inputs) => ({ value: (inputs[0] as tf.Tensor).clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));
  return f(x) as T;
}

/** Options of `relationalHintLoss`. */
export interface RelationalHintOptions {
  /** The student input whose encoding learns the relations (e.g. `text`, an n-gram text encoder). */
  input: string;
  /** The reference vector of a training sample (e.g. a frozen sentence embedding of its text), or undefined to leave it out. */
  target: (sample: TrainingSample) => ArrayLike<number> | undefined;
  /** Weight of the term. Default 1. */
  weight?: number;
  /** Name in logs. Default `hint`. */
  name?: string;
}

/**
 * Relational knowledge distillation (Park et al. 2019, the angle-free "distance" form with cosines): within each
 * batch, the cosine similarities between the samples' encodings of `input` (masked mean over time) learn the
 * cosine similarities between their reference vectors: mean over pairs of (cos(s_i, s_j) − cos(t_i, t_j))².
 * No projection is learned, so the student's encoding may have any width. E.g. a cheap n-gram text encoder
 * learns which texts a large frozen sentence encoder puts close together, and the student runs without it.
 */
export function relationalHintLoss(options: RelationalHintOptions): LossTerm {
  if (typeof options.input !== 'string' || options.input === '') throw new ConfigError(`must be an input field, got ${JSON.stringify(options.input)}`, { path: 'input' });
  const term: LossTerm = {
    name: options.name ?? 'hint',
    compute(ctx: LossContext): tf.Scalar {
      if (!ctx.state.fields.includes(options.input)) throw new ConfigError(`"${options.input}" is not an input of this model (inputs: ${ctx.state.fields.join(', ')})`, { path: 'input' });
      const enc = ctx.encoded[options.input];
      if (enc === undefined) return tf.scalar(0);
      const pick: number[] = [];
      const refs: ArrayLike<number>[] = [];
      enc.rows.forEach((r, j) => {
        const sample = ctx.samples[r] as TrainingSample;
        const v = options.target(sample);
        if (v === undefined) return;
        if (refs.length > 0 && v.length !== (refs[0] as ArrayLike<number>).length) throw new ConfigError(`the reference vector of sample ${JSON.stringify(sample.id)} has ${v.length} values, another of the batch ${(refs[0] as ArrayLike<number>).length}`, { path: 'target' });
        pick.push(j);
        refs.push(v);
      });
      const n = pick.length;
      if (n < 2) return tf.scalar(0);
      // The references' cosine matrix: constants (no gradient reaches them).
      const d = (refs[0] as ArrayLike<number>).length;
      const flat = new Float32Array(n * d);
      refs.forEach((v, a) => flat.set(v, a * d));
      const cosines = (x: tf.Tensor2D): tf.Tensor2D => {
        const u = x.div(x.square().sum(1, true).add(1e-12).sqrt()) as tf.Tensor2D;
        return tf.matMul(u, u, false, true);
      };
      const gram = cosines(tf.tensor2d(flat, [n, d]));
      const { features, mask } = enc.output; // [R, T, D], [R, T]
      const pooled = maskedMean(features, mask); // [R, D]
      const sel = n === enc.rows.length ? pooled : selectRows(pooled, pick);
      return cosines(sel).sub(gram).square().mean() as tf.Scalar;
    },
  };
  return options.weight === undefined ? term : { ...term, weight: options.weight };
}
