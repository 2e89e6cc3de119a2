/**
 * y = x W + b over the last axis. The kernel is stored [in, out] (so the forward product needs no
 * transpose); `loadTorch` takes PyTorch's [out, in] layout.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { Module, glorotLimit } from './module.js';

export interface LinearArgs {
  /** Size of the input's last axis. */
  inDim: number;
  /** Size of the output's last axis. */
  outDim: number;
  /** Add a bias. Default true. */
  bias?: boolean;
}

export class Linear extends Module {
  readonly inDim: number;
  readonly outDim: number;
  readonly kernel: tf.Variable; // [in, out]
  readonly bias?: tf.Variable; // [out]

  constructor(args: LinearArgs, rng: Rng) {
    super();
    if (!Number.isInteger(args.inDim) || args.inDim < 1) throw new ConfigError(`Linear: must be a positive integer, got ${args.inDim}`, { path: 'inDim' });
    if (!Number.isInteger(args.outDim) || args.outDim < 1) throw new ConfigError(`Linear: must be a positive integer, got ${args.outDim}`, { path: 'outDim' });
    this.inDim = args.inDim;
    this.outDim = args.outDim;
    this.kernel = this.weight('kernel', [args.inDim, args.outDim], { kind: 'uniform', limit: glorotLimit(args.inDim, args.outDim) }, rng);
    if (args.bias ?? true) this.bias = this.weight('bias', [args.outDim], { kind: 'zeros' }, rng);
  }

  /** x [..., in] -> [..., out]. */
  apply(x: tf.Tensor): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, this.inDim]) as tf.Tensor2D; // [N, in]
    // One fused kernel for the product and the bias (its gradient is the usual three products/sums).
    const y = this.bias === undefined ? tf.matMul(x2, this.kernel as tf.Tensor2D) : tf.fused.matMul({ a: x2, b: this.kernel as tf.Tensor2D, bias: this.bias }); // [N, out]
    return y.reshape([...lead, this.outDim]); // [..., out]
  }

  /** Load PyTorch `weight` [out, in] and `bias` [out]. */
  loadTorch(weight: tf.Tensor, bias?: tf.Tensor): void {
    this.kernel.assign(tf.tidy(() => weight.transpose()));
    if (bias !== undefined && this.bias !== undefined) this.bias.assign(bias);
  }
}
