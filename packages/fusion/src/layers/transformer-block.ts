/**
 * Pre-LN Transformer encoder block (as PyTorch's TransformerEncoderLayer with norm_first=True):
 *   x = x + drop(attn(ln1(x)))
 *   x = x + drop(ff(ln2(x)))
 * With `context`, the attention is cross-attention: queries from ln1(x), keys/values from lnKv(context).
 */
import type * as tf from '@tensorflow/tfjs';
import { StateError } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { dropout } from './dropout.js';
import { FeedForward } from './feed-forward.js';
import { LayerNorm } from './layer-norm.js';
import { MultiHeadAttention } from './multi-head-attention.js';
import { Module } from './module.js';
import type { ApplyOptions } from './module.js';

export interface TransformerBlockArgs {
  dModel: number;
  heads: number;
  /** Width of each attention head. Default dModel / heads (see `MultiHeadAttentionArgs.headDim`). */
  headDim?: number;
  /** Feed-forward hidden width. */
  ffDim: number;
  /** Dropout at the 4 sites (attention probabilities, after attention, after GELU, after the FFN). Default 0. */
  dropout?: number;
  /** Cross-attention block: adds a LayerNorm for the keys/values. Default false. */
  cross?: boolean;
  /** LayerNorm epsilon. Default 1e-5. */
  epsilon?: number;
}

export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly ln2: LayerNorm;
  readonly ff: FeedForward;
  readonly lnContext?: LayerNorm;
  readonly dropoutRate: number;

  constructor(args: TransformerBlockArgs, rng: Rng) {
    super();
    const rate = args.dropout ?? 0;
    const eps = args.epsilon ?? 1e-5;
    this.dropoutRate = rate;
    this.ln1 = this.child('ln1', new LayerNorm({ dim: args.dModel, epsilon: eps }, rng));
    this.attn = this.child('attn', new MultiHeadAttention({ dModel: args.dModel, heads: args.heads, ...(args.headDim === undefined ? {} : { headDim: args.headDim }), dropout: rate }, rng));
    this.ln2 = this.child('ln2', new LayerNorm({ dim: args.dModel, epsilon: eps }, rng));
    this.ff = this.child('ff', new FeedForward({ dModel: args.dModel, ffDim: args.ffDim, dropout: rate }, rng));
    if (args.cross === true) this.lnContext = this.child('lnContext', new LayerNorm({ dim: args.dModel, epsilon: eps }, rng));
  }

  /**
   * x [B, T, d]; keyMask [B, Tk] (1 = real) over x for self-attention, over `context` for cross-attention.
   * Returns [B, T, d].
   */
  apply(x: tf.Tensor3D, keyMask: tf.Tensor2D | undefined, options: ApplyOptions & { context?: tf.Tensor3D }): tf.Tensor3D {
    const h = this.ln1.apply(x) as tf.Tensor3D;
    let kv = h;
    if (options.context !== undefined) {
      if (this.lnContext === undefined) throw new StateError('TransformerBlock.apply: a context was given to a self-attention block (build it with cross: true)');
      kv = this.lnContext.apply(options.context) as tf.Tensor3D;
    }
    const a = this.attn.apply(h, kv, keyMask, options).output;
    const x1 = x.add(dropout(a, this.dropoutRate, options.training, options.rng)) as tf.Tensor3D;
    const f = this.ff.apply(this.ln2.apply(x1), options);
    return x1.add(dropout(f, this.dropoutRate, options.training, options.rng)) as tf.Tensor3D;
  }

  /** Load a PyTorch TransformerEncoderLayer state dict (names as in the reference vectors). */
  loadTorch(p: Record<string, tf.Tensor>): void {
    const get = (k: string): tf.Tensor => {
      const t = p[k];
      if (t === undefined) throw new StateError(`TransformerBlock.loadTorch: the state dict has no ${k}`);
      return t;
    };
    this.attn.loadTorch({ inProjWeight: get('self_attn.in_proj_weight'), inProjBias: get('self_attn.in_proj_bias'), outWeight: get('self_attn.out_proj.weight'), outBias: get('self_attn.out_proj.bias') });
    this.ff.linear1.loadTorch(get('linear1.weight'), get('linear1.bias'));
    this.ff.linear2.loadTorch(get('linear2.weight'), get('linear2.bias'));
    this.ln1.gamma.assign(get('norm1.weight')); this.ln1.beta.assign(get('norm1.bias'));
    this.ln2.gamma.assign(get('norm2.weight')); this.ln2.beta.assign(get('norm2.bias'));
  }
}
