/** Layer normalization over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta (biased variance). */
import type * as tf from '@tensorflow/tfjs';
import { ConfigError, layerNorm } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { Module } from './module.js';

export interface LayerNormArgs {
  /** Size of the normalized last axis. */
  dim: number;
  /** Added to the variance. Default 1e-5 (PyTorch's). */
  epsilon?: number;
}

export class LayerNorm extends Module {
  readonly dim: number;
  readonly epsilon: number;
  readonly gamma: tf.Variable; // [dim]
  readonly beta: tf.Variable; // [dim]

  constructor(args: LayerNormArgs, rng: Rng) {
    super();
    if (!Number.isInteger(args.dim) || args.dim < 1) throw new ConfigError(`LayerNorm: must be a positive integer, got ${args.dim}`, { path: 'dim' });
    this.dim = args.dim;
    this.epsilon = args.epsilon ?? 1e-5;
    this.gamma = this.weight('gamma', [args.dim], { kind: 'ones' }, rng);
    this.beta = this.weight('beta', [args.dim], { kind: 'zeros' }, rng);
  }

  /** x [..., dim] -> [..., dim]. */
  apply(x: tf.Tensor): tf.Tensor {
    // One fused kernel each way on the wasm engine, tf ops elsewhere (@mmfuse/core `layerNorm`).
    return layerNorm(x, this.gamma as tf.Tensor1D, this.beta as tf.Tensor1D, this.epsilon);
  }
}
