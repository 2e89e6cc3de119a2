/**
 * AdamW (Loshchilov & Hutter): Adam moments plus decoupled weight decay, as PyTorch's `torch.optim.AdamW`:
 *   w <- w (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
 *   w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 */
import * as tf from '@tensorflow/tfjs';
import { StateError, adamwUpdate } from '@mmfuse/core';
import { readCopies } from '../read-tensors.js';

export interface AdamWArgs {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
  /** Decoupled weight decay. Default 0.01. */
  weightDecay?: number;
}

export interface AdamWState { t: number; m: Float32Array[]; v: Float32Array[] }

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly params: tf.Variable[];
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;

  constructor(params: readonly tf.Variable[], args: AdamWArgs = {}) {
    this.params = [...params];
    this.beta1 = args.beta1 ?? 0.9;
    this.beta2 = args.beta2 ?? 0.999;
    this.epsilon = args.epsilon ?? 1e-8;
    this.weightDecay = args.weightDecay ?? 0.01;
    // tidy frees the zero tensors; variables outlive it.
    this.m = tf.tidy(() => this.params.map((p) => tf.variable(tf.zerosLike(p), false)));
    this.v = tf.tidy(() => this.params.map((p) => tf.variable(tf.zerosLike(p), false)));
  }

  /** Apply one update. `grads[i]` belongs to `params[i]`; `gradScale` (e.g. from clipping) multiplies every gradient. */
  step(grads: (tf.Tensor | undefined)[], learningRate: number, gradScale?: tf.Scalar): void {
    this.t++;
    // One kernel for every variable on the wasm engine, tf ops elsewhere (@mmfuse/core `adamwUpdate`).
    adamwUpdate(this.params, this.params.map((_, i) => grads[i]), this.m, this.v, {
      learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay, step: this.t,
      ...(gradScale === undefined ? {} : { gradScale }),
    });
  }

  /** The moments and step count, copied out (read asynchronously, as the WebGPU engine needs). */
  async getState(): Promise<AdamWState> {
    const [m, v] = await Promise.all([readCopies(this.m), readCopies(this.v)]);
    return { t: this.t, m, v };
  }

  setState(state: AdamWState): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) {
      throw new StateError(`AdamW.setState: the state has ${state.m.length} first and ${state.v.length} second moments for ${this.m.length} weights; it belongs to another model`);
    }
    this.t = state.t;
    tf.tidy(() => {
      this.m.forEach((x, i) => x.assign(tf.tensor(state.m[i] as Float32Array, x.shape)));
      this.v.forEach((x, i) => x.assign(tf.tensor(state.v[i] as Float32Array, x.shape)));
    });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** Global L2 norm of gradients and the factor min(1, maxNorm / norm) that clips them to `maxNorm`. */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { norm: tf.Scalar; scale: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.addN(grads.map((g) => g.square().sum())).sqrt() as tf.Scalar;
    const scale = tf.scalar(maxNorm).div(tf.maximum(norm, maxNorm)) as tf.Scalar;
    return { norm, scale };
  });
}
