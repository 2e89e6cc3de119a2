/**
 * Early fusion: [CLS] + every modality's tokens in one sequence with one key-padding mask, through a
 * stack of pre-LN blocks and a final LayerNorm; the [CLS] output is the sample's vector. The [CLS] token
 * is never masked, so a sample with every modality missing still gives finite numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';
import type { ModalityTokens } from '../alignment.js';
import type { BlockShape } from '../config.js';
import { LayerNorm } from '../layers/layer-norm.js';
import { TransformerBlock } from '../layers/transformer-block.js';
import type { ApplyOptions } from '../layers/module.js';
import { FusionStrategy, blockArgs } from './strategy.js';

export interface TransformerFusionArgs {
  dModel: number;
  layers: number;
  heads: number;
  ffDim: number;
  dropout: number;
  /** Sizes of pruned blocks by path (`block0`, ...); others use `heads` and `ffDim`. */
  blockShapes?: Readonly<Record<string, BlockShape>>;
}

export class TransformerFusion extends FusionStrategy {
  static readonly strategy = 'transformer';
  readonly cls: tf.Variable; // [d]
  readonly blocks: TransformerBlock[];
  readonly norm: LayerNorm;

  constructor(args: TransformerFusionArgs, rng: Rng) {
    super();
    this.cls = this.weight('cls', [args.dModel], { kind: 'normal', std: 0.02 }, rng);
    this.blocks = Array.from({ length: args.layers }, (_, i) => this.child(`block${i}`, new TransformerBlock(blockArgs(args, `block${i}`), rng)));
    this.norm = this.child('norm', new LayerNorm({ dim: args.dModel }, rng));
  }

  apply(tokens: (ModalityTokens | null)[], batchSize: number, options: ApplyOptions): tf.Tensor2D {
    const d = this.cls.shape[0] as number;
    const present = tokens.filter((t): t is ModalityTokens => t !== null);
    const cls = this.cls.reshape([1, 1, d]).tile([batchSize, 1, 1]) as tf.Tensor3D; // [B, 1, d]
    let x = tf.concat([cls, ...present.map((t) => t.x)], 1) as tf.Tensor3D; // [B, 1 + sum T, d]
    const mask = tf.concat([tf.ones([batchSize, 1]), ...present.map((t) => t.mask)], 1) as tf.Tensor2D; // [B, 1 + sum T]
    for (const block of this.blocks) x = block.apply(x, mask, options);
    const out = this.norm.apply(x) as tf.Tensor3D; // [B, T, d]
    return out.slice([0, 0, 0], [batchSize, 1, d]).reshape([batchSize, d]); // [B, d]: the [CLS] token
  }
}
