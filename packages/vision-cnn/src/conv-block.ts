/**
 * One convolution block, NHWC: conv (k×k, stride 1, zero "same" padding) → batch norm → (+ shortcut) → ReLU →
 * max pool. Written with tf ops on its own variables so that training-mode batch statistics and PyTorch's
 * running-statistics update can be matched exactly (`tests/vision/conv-block.test.ts` checks it against
 * torch's Conv2d + BatchNorm2d + ReLU + MaxPool2d).
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@mmfuse/core';
import type { JsonObject, OnnxGraphBuilder, OnnxValue, Rng } from '@mmfuse/core';
import { checkInteger, checkNumber } from '@mmfuse/core/base';

export interface ConvBlockArgs {
  /** Channels of the input. */
  inChannels: number;
  /** Channels of the output (number of filters). */
  outChannels: number;
  /** Square kernel size, odd so that "same" padding is symmetric. Default 3. */
  kernelSize?: number;
  /** Batch normalization after the convolution. Default `true`. */
  batchNorm?: boolean;
  /** A conv bias. Default `!batchNorm` (batch norm subtracts the batch mean, so a bias before it gets no gradient). */
  useBias?: boolean;
  /** Batch-norm momentum in PyTorch's sense: `running = (1 - momentum)·running + momentum·batch`. Default 0.1. */
  momentum?: number;
  /** Batch-norm epsilon added to the variance. Default 1e-5. */
  epsilon?: number;
  /** Max-pool window and stride (a trailing odd row/column is dropped); 1 = no pooling. Default 2. */
  pool?: number;
  /**
   * Add a shortcut before the ReLU: the input itself when channel counts match, else a 1×1 convolution
   * (no bias). Default `false`.
   */
  residual?: boolean;
  /**
   * Prefix of the variable names (`<name>/kernel`, ...). tfjs variable names must be unique in the process,
   * so give each block its own. Default: none, and tfjs names the variables itself (always unique).
   */
  name?: string;
}

/** Options of `ConvBlock.apply`. */
export interface ConvBlockCallOptions {
  /** Training mode: batch norm uses the batch's statistics and updates the running ones. */
  training: boolean;
}

export class ConvBlock {
  /** Static name for registries and saved configs (never `constructor.name`). */
  static readonly className = 'ConvBlock';
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly batchNorm: boolean;
  readonly useBias: boolean;
  readonly momentum: number;
  readonly epsilon: number;
  readonly pool: number;
  readonly residual: boolean;
  readonly name: string | undefined;

  private kernel?: tf.Variable; // [k, k, in, out]
  private bias?: tf.Variable; // [out]
  private gamma?: tf.Variable; // [out]
  private beta?: tf.Variable; // [out]
  private shortcut?: tf.Variable; // [1, 1, in, out]
  private runningMean?: tf.Variable; // [out]
  private runningVar?: tf.Variable; // [out]

  constructor(args: ConvBlockArgs) {
    this.inChannels = checkInteger(args.inChannels, 'inChannels', 1, 65536);
    this.outChannels = checkInteger(args.outChannels, 'outChannels', 1, 65536);
    this.kernelSize = checkInteger(args.kernelSize ?? 3, 'kernelSize', 1, 31);
    if (this.kernelSize % 2 === 0) throw new ConfigError(`must be odd so that "same" padding is symmetric, got ${this.kernelSize}`, { path: 'kernelSize' });
    this.batchNorm = args.batchNorm ?? true;
    this.useBias = args.useBias ?? !this.batchNorm;
    this.momentum = checkNumber(args.momentum ?? 0.1, 'momentum', 0, 1);
    this.epsilon = checkNumber(args.epsilon ?? 1e-5, 'epsilon', 0, 1);
    if (this.epsilon <= 0) throw new ConfigError(`must be > 0, got ${this.epsilon}`, { path: 'epsilon' });
    this.pool = checkInteger(args.pool ?? 2, 'pool', 1, 64);
    this.residual = args.residual ?? false;
    if (args.name !== undefined && (typeof args.name !== 'string' || args.name === '')) throw new ConfigError(`must be a non-empty string, got ${JSON.stringify(args.name)}`, { path: 'name' });
    this.name = args.name;
  }

  /** Create the weights: He-normal kernels (std √(2 / fan-in)) from `rng`, zero biases, unit gamma. Idempotent. */
  build(rng: Rng): void {
    if (this.kernel !== undefined) return;
    const k = this.kernelSize;
    const c = this.outChannels;
    // Without a name, tfjs gives each variable a unique one of its own (no counter of ours).
    const named = (part: string): string | undefined => (this.name === undefined ? undefined : `${this.name}/${part}`);
    this.kernel = heNormal([k, k, this.inChannels, c], k * k * this.inChannels, rng, named('kernel'));
    // tidy frees the initial values; the variables survive it.
    tf.tidy(() => {
      if (this.useBias) this.bias = tf.variable(tf.zeros([c]), true, named('bias'));
      if (this.batchNorm) {
        this.gamma = tf.variable(tf.ones([c]), true, named('gamma'));
        this.beta = tf.variable(tf.zeros([c]), true, named('beta'));
        this.runningMean = tf.variable(tf.zeros([c]), false, named('running_mean'));
        this.runningVar = tf.variable(tf.ones([c]), false, named('running_var'));
      }
    });
    if (this.residual && this.inChannels !== c) {
      this.shortcut = heNormal([1, 1, this.inChannels, c], this.inChannels, rng, named('shortcut'));
    }
  }

  /** Output spatial size for an input of `height` × `width`. */
  outputSize(height: number, width: number): { height: number; width: number } {
    return { height: Math.floor(height / this.pool), width: Math.floor(width / this.pool) };
  }

  /**
   * x: [B, H, W, inChannels] → [B, ⌊H/pool⌋, ⌊W/pool⌋, outChannels]. Runs in the caller's tidy/gradient scope
   * and does not dispose `x`. In training mode with batch norm it also updates the running statistics.
   */
  apply(x: tf.Tensor4D, options: ConvBlockCallOptions): tf.Tensor4D {
    if (this.kernel === undefined) throw new ConfigError(`${this.name}: call build() before apply()`);
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ConfigError(`${this.name}: expected input [batch, height, width, ${this.inChannels}], got [${x.shape.join(', ')}]`);
    }
    let y = tf.conv2d(x, this.kernel as tf.Tensor4D, 1, 'same'); // [B, H, W, out]
    if (this.bias !== undefined) y = tf.add(y, this.bias);
    if (this.batchNorm) y = this.normalize(y, options.training);
    if (this.residual) {
      const skip = this.shortcut !== undefined ? tf.conv2d(x, this.shortcut as tf.Tensor4D, 1, 'valid') : x; // [B, H, W, out]
      y = tf.add(y, skip);
    }
    y = tf.relu(y);
    if (this.pool > 1) y = tf.maxPool(y, this.pool, this.pool, 'valid'); // [B, H/p, W/p, out]
    return y;
  }

  private normalize(y: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const gamma = this.gamma as tf.Variable;
    const beta = this.beta as tf.Variable;
    const runningMean = this.runningMean as tf.Variable;
    const runningVar = this.runningVar as tf.Variable;
    let mean: tf.Tensor1D;
    let variance: tf.Tensor1D;
    if (training) {
      const moments = tf.moments(y, [0, 1, 2]); // biased variance over batch and space, as torch normalizes with
      mean = moments.mean as tf.Tensor1D;
      variance = moments.variance as tf.Tensor1D;
      const n = y.shape[0] * y.shape[1] * y.shape[2];
      if (n < 2) throw new ConfigError(`${this.name}: batch norm in training needs more than one value per channel, got batch ${y.shape[0]} of ${y.shape[1]}×${y.shape[2]}`);
      // The running statistics do not lead to the output, so they take no part in gradients; torch updates the running variance with the unbiased estimate.
      const m = this.momentum;
      const newMean = tf.tidy(() => tf.add(tf.mul(runningMean, 1 - m), tf.mul(mean, m)));
      const newVar = tf.tidy(() => tf.add(tf.mul(runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1))));
      runningMean.assign(newMean);
      runningVar.assign(newVar);
      newMean.dispose();
      newVar.dispose();
    } else {
      mean = runningMean as unknown as tf.Tensor1D;
      variance = runningVar as unknown as tf.Tensor1D;
    }
    return tf.batchNorm(y, mean, variance, beta, gamma, this.epsilon) as tf.Tensor4D;
  }

  /**
   * The inference-mode `apply` as ONNX on NCHW values: x [B, inChannels, H, W] -> [B, outChannels, H/p, W/p]
   * (conv with symmetric "same" padding, bias, BatchNormalization with the running statistics, shortcut,
   * ReLU, MaxPool).
   */
  exportOnnx(g: OnnxGraphBuilder, x: OnnxValue): OnnxValue {
    if (this.kernel === undefined) throw new ConfigError(`${this.name ?? 'ConvBlock'}: call build() before exportOnnx()`);
    const k = this.kernelSize;
    const p = Math.floor(k / 2);
    const oihw = (v: tf.Variable): OnnxValue => {
      const t = tf.tidy(() => v.transpose([3, 2, 0, 1])); // [out, in, kh, kw]
      const c = g.constant(t);
      t.dispose();
      return c;
    };
    let y = g.op('Conv', [x, oihw(this.kernel), this.bias === undefined ? null : g.constant(this.bias)], { kernel_shape: [k, k], pads: [p, p, p, p] });
    if (this.batchNorm) {
      y = g.op('BatchNormalization', [y, g.constant(this.gamma as tf.Variable), g.constant(this.beta as tf.Variable), g.constant(this.runningMean as tf.Variable), g.constant(this.runningVar as tf.Variable)], { epsilon: { float: this.epsilon } });
    }
    if (this.residual) {
      const skip = this.shortcut === undefined ? x : g.op('Conv', [x, oihw(this.shortcut)], { kernel_shape: [1, 1] });
      y = g.op('Add', [y, skip]);
    }
    y = g.op('Relu', [y]);
    return this.pool > 1 ? g.op('MaxPool', [y], { kernel_shape: [this.pool, this.pool], strides: [this.pool, this.pool] }) : y;
  }

  /** Weights the optimizer updates: kernel, bias, gamma, beta, shortcut (those that exist, in this order). */
  get trainableWeights(): tf.Variable[] {
    return [this.kernel, this.bias, this.gamma, this.beta, this.shortcut].filter((v): v is tf.Variable => v !== undefined);
  }

  /** Every weight, trainable first, then the running mean and variance; save/load order. */
  get weights(): tf.Variable[] {
    const stats = [this.runningMean, this.runningVar].filter((v): v is tf.Variable => v !== undefined);
    return [...this.trainableWeights, ...stats];
  }

  getConfig(): JsonObject {
    return {
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernelSize: this.kernelSize,
      batchNorm: this.batchNorm,
      useBias: this.useBias,
      momentum: this.momentum,
      epsilon: this.epsilon,
      pool: this.pool,
      residual: this.residual,
      ...(this.name !== undefined ? { name: this.name } : {}),
    };
  }

  dispose(): void {
    for (const v of this.weights) v.dispose();
    this.kernel = this.bias = this.gamma = this.beta = this.shortcut = this.runningMean = this.runningVar = undefined;
  }
}

function heNormal(shape: number[], fanIn: number, rng: Rng, name: string | undefined): tf.Variable {
  const std = Math.sqrt(2 / fanIn);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal(0, std);
  return tf.tidy(() => tf.variable(tf.tensor(values, shape), true, name));
}
