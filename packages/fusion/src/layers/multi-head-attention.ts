/**
 * Multi-head scaled dot-product attention with a key-padding mask, parameterized like PyTorch's
 * `nn.MultiheadAttention` (packed q/k/v input projection, output projection), so its weights load from
 * the reference vectors.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, attention } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { dropout } from './dropout.js';
import { Linear } from './linear.js';
import { Module, glorotLimit } from './module.js';
import type { ApplyOptions } from './module.js';

export interface MultiHeadAttentionArgs {
  /** Model width (queries, keys, values and output). */
  dModel: number;
  /** Number of heads; must divide dModel unless `headDim` is given. */
  heads: number;
  /**
   * Width of each head. Default dModel / heads. A structurally pruned block keeps fewer heads of the
   * original width, so its attention works on heads × headDim < dModel channels.
   */
  headDim?: number;
  /** Dropout on the attention probabilities (training only). Default 0. */
  dropout?: number;
}

/**
 * Added to the scores of masked keys. Finite, not -Infinity: a row whose keys are all masked then gets a
 * uniform (finite) distribution instead of NaN, and exp(-1e9 - max) is exactly 0 in float32 otherwise.
 */
export const MASKED_SCORE = -1e9;

export class MultiHeadAttention extends Module {
  readonly dModel: number;
  readonly heads: number;
  readonly headDim: number;
  /** heads × headDim: the width of q, k, v and of the output projection's input (dModel unless pruned). */
  readonly inner: number;
  readonly dropoutRate: number;
  readonly inKernel: tf.Variable; // [d, 3 inner]: columns q | k | v
  readonly inBias: tf.Variable; // [3 inner]
  readonly out: Linear;

  constructor(args: MultiHeadAttentionArgs, rng: Rng) {
    super();
    if (args.headDim === undefined ? !Number.isInteger(args.heads) || args.heads < 1 || args.dModel % args.heads !== 0 : !Number.isInteger(args.heads) || args.heads < 1) {
      throw new ConfigError(`MultiHeadAttention: must be a positive integer dividing dModel (${args.dModel}), got ${args.heads}`, { path: 'heads' });
    }
    if (args.headDim !== undefined && (!Number.isInteger(args.headDim) || args.headDim < 1)) throw new ConfigError(`MultiHeadAttention: must be a positive integer, got ${args.headDim}`, { path: 'headDim' });
    this.dModel = args.dModel;
    this.heads = args.heads;
    this.headDim = args.headDim ?? args.dModel / args.heads;
    this.inner = this.heads * this.headDim;
    this.dropoutRate = args.dropout ?? 0;
    const d = args.dModel;
    const inner = this.inner;
    this.inKernel = this.weight('inKernel', [d, 3 * inner], { kind: 'uniform', limit: glorotLimit(d, inner) }, rng);
    this.inBias = this.weight('inBias', [3 * inner], { kind: 'zeros' }, rng);
    this.out = this.child('out', new Linear({ inDim: inner, outDim: d }, rng));
  }

  private scaleCache?: Float32Array;

  /** [3 inner]: 1/sqrt(headDim) for the query columns, 1 for keys and values. */
  private scaleVector(): Float32Array {
    if (this.scaleCache === undefined) {
      this.scaleCache = new Float32Array(3 * this.inner).fill(1);
      this.scaleCache.fill(1 / Math.sqrt(this.headDim), 0, this.inner);
    }
    return this.scaleCache;
  }

  /** [B, T, d] -> [B, H, T, hd] */
  private splitHeads(x: tf.Tensor, b: number, t: number): tf.Tensor4D {
    return x.reshape([b, t, this.heads, this.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  }

  /**
   * query [B, Tq, d]; keyValue [B, Tk, d] (pass the same tensor as query for self-attention, which then
   * uses one packed projection); keyMask [B, Tk] with 1 = real key, 0 = ignored.
   * Returns output [B, Tq, d] and, when asked, the attention probabilities [B, H, Tq, Tk].
   */
  apply(query: tf.Tensor3D, keyValue: tf.Tensor3D, keyMask: tf.Tensor2D | undefined, options: ApplyOptions & { returnWeights?: boolean }): { output: tf.Tensor3D; weights?: tf.Tensor4D } {
    const [b, tq] = query.shape;
    const tk = keyValue.shape[1];
    const d = this.dModel;
    // The 1/sqrt(headDim) score scale is folded into the query projection (scaling [d, d] weights is far
    // cheaper than scaling [B, H, Tq, hd] activations, forward and backward).
    const scale = tf.tensor1d(this.scaleVector());
    const inner = this.inner;
    const kernel = this.inKernel.mul(scale) as tf.Tensor2D; // [d, 3 inner]
    const bias = this.inBias.mul(scale) as tf.Tensor1D; // [3 inner]
    // q, k, v as column blocks of one packed projection: [B, T, 3 inner] (self) or [B, Tq, inner] and
    // [B, Tk, 2 inner]. inner = heads x headDim is d unless heads were pruned.
    let q: tf.Tensor3D; let kv: tf.Tensor3D;
    if (query === keyValue) {
      q = tf.fused.matMul({ a: query.reshape([b * tq, d]), b: kernel, bias }).reshape([b, tq, 3 * inner]); // [B, T, 3 inner]
      kv = q;
    } else {
      const [wq, wkv] = tf.split(kernel, [inner, 2 * inner], 1) as [tf.Tensor2D, tf.Tensor2D]; // [d, inner], [d, 2 inner]
      const [bq, bkv] = tf.split(bias, [inner, 2 * inner], 0) as [tf.Tensor1D, tf.Tensor1D];
      q = tf.fused.matMul({ a: query.reshape([b * tq, d]), b: wq, bias: bq }).reshape([b, tq, inner]); // [B, Tq, inner]
      kv = tf.fused.matMul({ a: keyValue.reshape([b * tk, d]), b: wkv, bias: bkv }).reshape([b, tk, 2 * inner]); // [B, Tk, 2 inner]
    }
    if (options.returnWeights === true) {
      const kCol = query === keyValue ? inner : 0;
      const qh = this.splitHeads(q.slice([0, 0, 0], [b, tq, inner]), b, tq); // [B, H, Tq, hd]
      const kh = this.splitHeads(kv.slice([0, 0, kCol], [b, tk, inner]), b, tk); // [B, H, Tk, hd]
      const vh = this.splitHeads(kv.slice([0, 0, kCol + inner], [b, tk, inner]), b, tk); // [B, H, Tk, hd]
      return this.applyProjected({ q: qh, k: kh, v: vh }, keyMask, { ...options, scaled: true });
    }
    // Scores, mask, softmax, dropout and weighted sum in one op (@mmfuse/core `attention`), the heads read as
    // column blocks of the projections; the scale is already in q.
    const rate = options.training ? this.dropoutRate : 0;
    if (rate > 0 && options.rng === undefined) throw new Error('dropout: a random stream is required while training');
    const ctx = attention({
      q, k: kv, v: kv, heads: this.heads, headDim: this.headDim, scale: 1,
      ...(keyMask === undefined ? {} : { mask: keyMask }), ...(rate > 0 ? { dropout: { rate, seed: options.rng!.nextSeed() } } : {}),
    }); // [B, Tq, inner]
    return { output: this.out.apply(ctx) as tf.Tensor3D };
  }

  /**
   * Attention on already projected, head-split q [B, H, Tq, hd], k and v [B, H, Tk, hd] (for callers whose
   * keys and values are different tensors). Returns output [B, Tq, d] and probabilities [B, H, Tq, Tk].
   */
  applyProjected(p: { q: tf.Tensor4D; k: tf.Tensor4D; v: tf.Tensor4D }, keyMask: tf.Tensor2D | undefined, options: ApplyOptions & { scaled?: boolean }): { output: tf.Tensor3D; weights: tf.Tensor4D } {
    const [b, , tq] = p.q.shape;
    const tk = p.k.shape[2];
    const q = options.scaled === true ? p.q : p.q.mul(1 / Math.sqrt(this.headDim)); // unless folded into the projection
    let scores = tf.matMul(q, p.k, false, true); // [B, H, Tq, Tk]
    if (keyMask !== undefined) {
      const bias = tf.scalar(1).sub(keyMask).mul(MASKED_SCORE).reshape([b, 1, 1, tk]); // [B, 1, 1, Tk]
      scores = scores.add(bias);
    }
    const probs = tf.softmax(scores, -1) as tf.Tensor4D; // [B, H, Tq, Tk]
    const dropped = dropout(probs, this.dropoutRate, options.training, options.rng);
    const ctx = tf.matMul(dropped, p.v).transpose([0, 2, 1, 3]).reshape([b, tq, this.inner]); // [B, Tq, inner]
    return { output: this.out.apply(ctx) as tf.Tensor3D, weights: probs };
  }

  /** Load PyTorch `in_proj_weight` [3d, d], `in_proj_bias` [3d], `out_proj.weight` [d, d], `out_proj.bias` [d]. */
  loadTorch(p: { inProjWeight: tf.Tensor; inProjBias: tf.Tensor; outWeight: tf.Tensor; outBias: tf.Tensor }): void {
    this.inKernel.assign(tf.tidy(() => p.inProjWeight.transpose()));
    this.inBias.assign(p.inProjBias);
    this.out.loadTorch(p.outWeight, p.outBias);
  }
}
