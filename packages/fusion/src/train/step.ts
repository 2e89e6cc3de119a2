/** One training step: forward, head loss plus loss terms, gradients, clipping, AdamW. */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, createRecord } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import type { FusionNetwork } from '../network.js';
import { toBatchInput } from '../network.js';
import { AdamW, clipByGlobalNorm } from '../optim/adamw.js';
import type { FittedOutput } from '../outputs/index.js';
import type { FusionState } from '../state.js';
import type { EncodedBatchInput, LossContext, LossForwardOptions, LossTerm, TrainingSample } from './loss-terms.js';

/** What every step of a run shares. */
export interface StepContext {
  readonly state: FusionState;
  readonly network: FusionNetwork;
  readonly output: FittedOutput;
  readonly optimizer: AdamW;
  /** The optimizer's weights, in its order. */
  readonly trainable: readonly tf.Variable[];
  /** Per-label loss weights (`training.classWeights`), if any. */
  readonly classWeights?: readonly number[];
  readonly labelSmoothing: number;
  /** Global-norm clipping; null = off. */
  readonly clipNorm: number | null;
  readonly lossTerms: readonly LossTerm[];
  /** Multiplies the head loss. */
  readonly headLossWeight: number;
}

/** One step's batch and position. */
export interface StepBatch {
  readonly samples: readonly TrainingSample[];
  /** 0-based. */
  readonly epoch: number;
  /** 0-based global step. */
  readonly step: number;
  readonly learningRate: number;
  /** The step's stream (dropout masks, modality dropout). */
  readonly rng: Rng;
}

export interface StepResult {
  /** The minimized loss: head loss × headLossWeight + Σ weight × term. */
  loss: number;
  /** Training-mode predictions that match the target (kinds with a training accuracy), else 0. */
  correct: number;
  /** With loss terms: each component (`head` and each term), unweighted. */
  losses?: Record<string, number>;
}

/**
 * One optimizer step. Its numbers are read back asynchronously (the WebGPU engine in Node has no synchronous
 * read of GPU data); the update itself is queued before the first read.
 */
export async function trainStep(ctx: StepContext, batch: StepBatch): Promise<StepResult> {
  const { state, network, output } = ctx;
  const samples = batch.samples;
  const input = toBatchInput(samples.map((s) => s.values), state.fields.length);
  const targets = output.encode(samples.map((s) => s.target), ctx.classWeights);
  const plain = ctx.lossTerms.length === 0 && ctx.headLossWeight === 1;
  let pred: tf.Tensor | undefined;
  const parts: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { logits, encoded } = network.forwardWithEncoders(input, { training: true, rng: batch.rng });
    if (output.trainingAccuracy !== undefined) pred = tf.keep(output.trainingAccuracy.predict(logits));
    const head = output.loss(logits, targets, { labelSmoothing: ctx.labelSmoothing });
    if (plain) return head;
    parts.push(tf.keep(head.clone()));
    let total = ctx.headLossWeight === 1 ? head : head.mul(ctx.headLossWeight) as tf.Scalar;
    const lossCtx = lossContext(ctx, batch, { logits, head, encoded, targets });
    for (const term of ctx.lossTerms) {
      const v = term.compute({ ...lossCtx, rng: batch.rng.fork(`loss:${term.name}`) });
      if (v.rank !== 0) throw new ConfigError(`loss term "${term.name}" returned a tensor of shape [${v.shape}]; return a scalar`, { path: 'lossTerms' });
      parts.push(tf.keep(v.clone()));
      total = total.add(term.weight === undefined || term.weight === 1 ? v : v.mul(term.weight)) as tf.Scalar;
    }
    return total;
  }, [...ctx.trainable]);
  const list = ctx.trainable.map((v) => grads[v.name]);
  const clipped = ctx.clipNorm === null ? undefined : clipByGlobalNorm(list.filter((g): g is tf.Tensor => g !== undefined), ctx.clipNorm);
  ctx.optimizer.step(list, batch.learningRate, clipped?.scale);
  tf.dispose([...Object.values(grads), ...(clipped === undefined ? [] : [clipped.norm, clipped.scale])]);
  try {
    const result: StepResult = { loss: (await value.data())[0] as number, correct: 0 };
    if (pred !== undefined && output.trainingAccuracy !== undefined) result.correct = output.trainingAccuracy.correct(await pred.data(), samples.map((s) => s.target));
    if (parts.length > 0) {
      const read = await Promise.all(parts.map(async (p) => (await p.data())[0] as number));
      result.losses = { head: read[0] as number };
      ctx.lossTerms.forEach((t, i) => { result.losses![t.name] = read[i + 1] as number; });
    }
    return result;
  } finally {
    tf.dispose([value, ...(pred === undefined ? [] : [pred]), ...parts]);
  }
}

/** The loss terms' view of a step (without the per-term rng). */
function lossContext(ctx: StepContext, batch: StepBatch, t: { logits: tf.Tensor2D; head: tf.Scalar; encoded: (EncodedBatchInput | null)[]; targets: LossContext['targets'] }): Omit<LossContext, 'rng'> {
  const { state, network } = ctx;
  const encoded = createRecord<EncodedBatchInput | undefined>(); // keyed by field names (`__proto__` is one)
  state.fields.forEach((f, m) => { const e = t.encoded[m]; if (e !== null && e !== undefined) encoded[f] = e; });
  let passes = 0;
  return {
    state,
    output: ctx.output,
    samples: batch.samples,
    targets: t.targets,
    logits: t.logits,
    headLoss: t.head,
    encoded,
    epoch: batch.epoch,
    step: batch.step,
    forward(options: LossForwardOptions = {}): tf.Tensor2D {
      const hide = new Set(options.hide ?? []);
      for (const f of hide) if (!state.fields.includes(f)) throw new ConfigError(`forward: "${f}" is not an input of this model (inputs: ${state.fields.join(', ')})`, { path: 'hide' });
      const rows = options.rows ?? batch.samples.map((_, i) => i);
      for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= batch.samples.length) throw new ConfigError(`forward: row ${r} is outside the batch of ${batch.samples.length}`, { path: 'rows' });
      const replace = options.replace ?? {};
      for (const [f, list] of Object.entries(replace)) {
        if (!state.fields.includes(f)) throw new ConfigError(`forward: "${f}" is not an input of this model (inputs: ${state.fields.join(', ')})`, { path: 'replace' });
        if (!Array.isArray(list) || list.length !== rows.length) throw new ConfigError(`forward: replace.${f} needs one value per row (${rows.length}), got ${Array.isArray(list) ? list.length : typeof list}`, { path: 'replace' });
      }
      const values = rows.map((r, i) => (batch.samples[r] as TrainingSample).values.map((v, m) => {
        const f = state.fields[m] as string;
        if (hide.has(f)) return undefined;
        return f in replace ? (replace[f] as readonly unknown[])[i] : v;
      }));
      const training = options.training ?? true;
      const rng = batch.rng.fork(`loss-forward:${passes++}`);
      // Modality dropout would hide inputs at random on top of `hide`: off for these passes.
      return network.forward(toBatchInput(values, state.fields.length), training ? { training: true, rng, modalityDropout: false } : { training: false });
    },
  };
}
