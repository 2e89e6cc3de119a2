/**
 * Alignment: turns each modality's encoder output into tokens of one width that a shared Transformer can
 * mix. Per modality: optional pooling of each sample to at most `maxTokens` steps, a linear projection to dModel, a learned
 * modality embedding and fixed sinusoidal positions counted inside the modality.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { Linear } from './layers/linear.js';
import { Module } from './layers/module.js';
import { sinusoidalTable } from './layers/positional-encoding.js';

/** One modality's tokens for a whole batch: x [B, T, d], mask [B, T] (1 = real token). */
export interface ModalityTokens {
  x: tf.Tensor3D;
  mask: tf.Tensor2D;
}

export interface AlignmentArgs {
  /** One entry per input field, in config order. */
  inputs: { field: string; inDim: number; maxTokens?: number; project?: boolean }[];
  dModel: number;
}

/**
 * Cap each sample's sequence at `cap` tokens, sample by sample: a sample with L real steps (its mask's ones,
 * which come first) and L > cap is mean-pooled over windows of ceil(L / cap) of its own steps; a sample with
 * L <= cap keeps its steps. The windows depend on the sample alone, never on the batch's padded length, so a
 * request gets the same tokens alone or batched with longer ones (pooling by the padded length made a short
 * clip's answer depend on the clips beside it, and training batches see other windows than a single request).
 * One batched product [B, cap, T] x [B, T, D] with the window weights (differentiable on every engine), as the
 * ONNX export computes it. Returns [B, cap, D] and the mask [B, cap] of real tokens (a sample that keeps fewer
 * tokens has its last ones masked).
 */
export function capTokens(features: tf.Tensor3D, mask: tf.Tensor2D, cap: number): { features: tf.Tensor3D; mask: tf.Tensor2D } {
  if (!Number.isInteger(cap) || cap < 1) throw new ConfigError(`must be a whole number of at least 1, got ${cap}`, { path: 'maxTokens' });
  const [b, t] = features.shape;
  if (features.rank !== 3 || mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== t) {
    throw new InvalidInputError(`the mask [${mask.shape.join(', ')}] must be [batch, steps] of the features [${features.shape.join(', ')}]`, { field: 'mask' });
  }
  if (t <= cap) return { features, mask };
  // On the device, without reading the mask back (the WebGPU engine cannot read synchronously in Node).
  return tf.tidy(() => {
    const lengths = mask.sum(1).round().cast('int32'); // [B]: real steps
    const stride = tf.maximum(tf.floorDiv(lengths.add(cap - 1), cap), 1).reshape([b, 1, 1]); // [B, 1, 1]: max(1, ceil(L / cap))
    const window = tf.floorDiv(tf.range(0, t, 1, 'int32').reshape([1, 1, t]), stride); // [B, 1, T]: each step's window
    const member = tf.equal(window, tf.range(0, cap, 1, 'int32').reshape([1, cap, 1])).cast('float32').mul(mask.reshape([b, 1, t])); // [B, cap, T]
    const counts = member.sum(2, true); // [B, cap, 1]
    const pooled = tf.matMul(member.div(tf.maximum(counts, 1)), features) as tf.Tensor3D; // [B, cap, D]
    return { features: pooled, mask: counts.reshape([b, cap]).greater(0).cast('float32') as tf.Tensor2D };
  });
}

export class Alignment extends Module {
  readonly dModel: number;
  readonly fields: string[];
  readonly maxTokens: (number | undefined)[];
  /** null where the input is used at its own width (`project: false`). */
  readonly projections: (Linear | null)[];
  readonly modalityEmbedding: tf.Variable; // [M, d]
  private peCache = new Map<number, Float32Array>();

  constructor(args: AlignmentArgs, rng: Rng) {
    super();
    this.dModel = args.dModel;
    this.fields = args.inputs.map((i) => i.field);
    this.maxTokens = args.inputs.map((i) => i.maxTokens);
    this.modalityEmbedding = this.weight('modalityEmbedding', [args.inputs.length, args.dModel], { kind: 'normal', std: 0.02 }, rng);
    this.projections = args.inputs.map((i, m) => {
      if (i.project === false) {
        if (i.inDim !== args.dModel) throw new ConfigError(`is false, so the encoder's output width ${i.inDim} must equal fusion.dModel ${args.dModel}`, { path: `inputs.${i.field}.project` });
        return null;
      }
      return this.child(`projection${m}`, new Linear({ inDim: i.inDim, outDim: args.dModel }, rng));
    });
  }

  private positions(t: number): tf.Tensor2D {
    let table = this.peCache.get(t);
    if (table === undefined) {
      table = sinusoidalTable(t, this.dModel);
      this.peCache.set(t, table);
    }
    return tf.tensor2d(table, [t, this.dModel]); // [T, d]
  }

  /**
   * Align modality `m`: features [P, T, D] and mask [P, T] of the P samples that have it, scattered to
   * their rows of a batch of `batchSize` (`rows[p]` = batch row of present sample p); absent rows get zero
   * features and an all-zero mask. `keep` [B] (optional, 0/1) hides the modality for some rows (modality
   * dropout). Returns tokens [B, T', d] and mask [B, T'].
   */
  apply(m: number, enc: { features: tf.Tensor3D; mask: tf.Tensor2D }, rows: number[], batchSize: number, keep?: number[]): ModalityTokens {
    let { features, mask } = enc;
    const cap = this.maxTokens[m];
    if (cap !== undefined) ({ features, mask } = capTokens(features, mask, cap));
    const proj = this.projections[m];
    let x = proj === null || proj === undefined ? features : (proj.apply(features) as tf.Tensor3D); // [P, T, d]
    const [p, t, d] = x.shape;
    if (p !== batchSize || rows.some((r, i) => r !== i)) {
      // Scatter by a one-hot [B, P] product: differentiable on every engine (gather's gradient is not on wasm).
      const sel = new Float32Array(batchSize * p);
      rows.forEach((r, i) => { sel[r * p + i] = 1; });
      const s = tf.tensor2d(sel, [batchSize, p]);
      x = tf.matMul(s, x.reshape([p, t * d])).reshape([batchSize, t, d]); // [B, T, d]
      mask = tf.matMul(s, mask).reshape([batchSize, t]); // [B, T]
    }
    if (keep !== undefined) mask = mask.mul(tf.tensor2d(keep, [batchSize, 1])) as tf.Tensor2D;
    const emb = this.modalityEmbedding.slice([m, 0], [1, d]); // [1, d]
    x = x.add(emb).add(this.positions(t)) as tf.Tensor3D; // [B, T, d]
    return { x, mask };
  }
}
