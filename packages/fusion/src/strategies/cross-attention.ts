/**
 * Cross-modal attention in the manner of the Multimodal Transformer (Tsai et al., 2019): each modality
 * keeps its own stream of tokens, and in every layer the stream's queries attend to the tokens of all the
 * *other* modalities (keys/values), followed by a feed-forward, pre-LN with residuals. A learned null
 * token is always present among the keys, so a stream whose partners are all missing still has something
 * to attend to. Each stream is mean-pooled over its own real tokens (absent -> zeros), the pooled vectors
 * are concatenated and projected to dModel.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';
import type { ModalityTokens } from '../alignment.js';
import type { BlockShape } from '../config.js';
import { LayerNorm } from '../layers/layer-norm.js';
import { Linear } from '../layers/linear.js';
import { TransformerBlock } from '../layers/transformer-block.js';
import type { ApplyOptions } from '../layers/module.js';
import { FusionStrategy, blockArgs, maskedMean } from './strategy.js';

export interface CrossAttentionFusionArgs {
  modalities: number;
  dModel: number;
  layers: number;
  heads: number;
  ffDim: number;
  dropout: number;
  /** Sizes of pruned blocks by path (`stream0.block0`, ...); others use `heads` and `ffDim`. */
  blockShapes?: Readonly<Record<string, BlockShape>>;
}

export class CrossAttentionFusion extends FusionStrategy {
  static readonly strategy = 'cross-attention';
  readonly nullToken: tf.Variable; // [d]
  readonly streams: TransformerBlock[][]; // [modality][layer]
  readonly norms: LayerNorm[];
  readonly out: Linear;
  readonly dModel: number;

  constructor(args: CrossAttentionFusionArgs, rng: Rng) {
    super();
    this.dModel = args.dModel;
    this.nullToken = this.weight('nullToken', [args.dModel], { kind: 'normal', std: 0.02 }, rng);
    this.streams = Array.from({ length: args.modalities }, (_, m) =>
      Array.from({ length: args.layers }, (_, l) => this.child(`stream${m}.block${l}`, new TransformerBlock({ ...blockArgs(args, `stream${m}.block${l}`), cross: true }, rng))));
    this.norms = Array.from({ length: args.modalities }, (_, m) => this.child(`stream${m}.norm`, new LayerNorm({ dim: args.dModel }, rng)));
    this.out = this.child('out', new Linear({ inDim: args.modalities * args.dModel, outDim: args.dModel }, rng));
  }

  apply(tokens: (ModalityTokens | null)[], batchSize: number, options: ApplyOptions): tf.Tensor2D {
    const d = this.dModel;
    const nul = this.nullToken.reshape([1, 1, d]).tile([batchSize, 1, 1]) as tf.Tensor3D; // [B, 1, d]
    const pooled = tokens.map((target, m) => {
      if (target === null) return tf.zeros([batchSize, d]) as tf.Tensor2D;
      const others = tokens.filter((t, n): t is ModalityTokens => n !== m && t !== null);
      const context = tf.concat([nul, ...others.map((t) => t.x)], 1) as tf.Tensor3D; // [B, 1 + sum T_other, d]
      const ctxMask = tf.concat([tf.ones([batchSize, 1]), ...others.map((t) => t.mask)], 1) as tf.Tensor2D;
      let x = target.x; // [B, T_m, d]
      for (const block of this.streams[m] as TransformerBlock[]) x = block.apply(x, ctxMask, { ...options, context });
      return maskedMean((this.norms[m] as LayerNorm).apply(x) as tf.Tensor3D, target.mask); // [B, d]
    });
    return this.out.apply(tf.concat(pooled, 1)) as tf.Tensor2D; // [B, M*d] -> [B, d]
  }
}
