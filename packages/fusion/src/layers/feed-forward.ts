/** Position-wise feed-forward: Linear(d -> ff), GELU, dropout, Linear(ff -> d). */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';
import { gelu } from './activations.js';
import { dropout } from './dropout.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import type { ApplyOptions } from './module.js';

export interface FeedForwardArgs {
  dModel: number;
  /** Hidden width. */
  ffDim: number;
  /** Dropout after the activation (training only). Default 0. */
  dropout?: number;
}

export class FeedForward extends Module {
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly dropoutRate: number;

  constructor(args: FeedForwardArgs, rng: Rng) {
    super();
    this.dropoutRate = args.dropout ?? 0;
    this.linear1 = this.child('linear1', new Linear({ inDim: args.dModel, outDim: args.ffDim }, rng));
    this.linear2 = this.child('linear2', new Linear({ inDim: args.ffDim, outDim: args.dModel }, rng));
  }

  /** x [..., d] -> [..., d]. */
  apply(x: tf.Tensor, options: ApplyOptions): tf.Tensor {
    const h = dropout(gelu(this.linear1.apply(x)), this.dropoutRate, options.training, options.rng);
    return this.linear2.apply(h);
  }
}
