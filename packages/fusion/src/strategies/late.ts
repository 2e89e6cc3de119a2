/**
 * Late fusion: each modality's tokens are mean-pooled on their own (absent -> zeros), the pooled vectors
 * concatenated, and an MLP (Linear, GELU, dropout, Linear, LayerNorm) mixes them. No token ever sees
 * another modality's tokens. `layers` and `heads` do not apply.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';
import type { ModalityTokens } from '../alignment.js';
import type { BlockShape } from '../config.js';
import { gelu } from '../layers/activations.js';
import { dropout } from '../layers/dropout.js';
import { LayerNorm } from '../layers/layer-norm.js';
import { Linear } from '../layers/linear.js';
import type { ApplyOptions } from '../layers/module.js';
import { FusionStrategy, maskedMean } from './strategy.js';

export interface LateFusionArgs {
  modalities: number;
  dModel: number;
  ffDim: number;
  dropout: number;
  /** `hidden.ffDim`: the hidden width after structured pruning. Default `ffDim`. */
  blockShapes?: Readonly<Record<string, BlockShape>>;
}

export class LateFusion extends FusionStrategy {
  static readonly strategy = 'late';
  readonly hidden: Linear;
  readonly out: Linear;
  readonly norm: LayerNorm;
  readonly dModel: number;
  readonly dropoutRate: number;

  constructor(args: LateFusionArgs, rng: Rng) {
    super();
    this.dModel = args.dModel;
    this.dropoutRate = args.dropout;
    const ffDim = args.blockShapes?.hidden?.ffDim ?? args.ffDim;
    this.hidden = this.child('hidden', new Linear({ inDim: args.modalities * args.dModel, outDim: ffDim }, rng));
    this.out = this.child('out', new Linear({ inDim: ffDim, outDim: args.dModel }, rng));
    this.norm = this.child('norm', new LayerNorm({ dim: args.dModel }, rng));
  }

  apply(tokens: (ModalityTokens | null)[], batchSize: number, options: ApplyOptions): tf.Tensor2D {
    const pooled = tokens.map((t) => (t === null ? tf.zeros([batchSize, this.dModel]) : maskedMean(t.x, t.mask))); // each [B, d]
    const z = tf.concat(pooled, 1); // [B, M*d]
    const h = dropout(gelu(this.hidden.apply(z)), this.dropoutRate, options.training, options.rng); // [B, ff]
    return this.norm.apply(this.out.apply(h)) as tf.Tensor2D; // [B, d]
  }
}
