/**
 * Output heads and their losses. Every head is one Linear on the fused vector; the losses differ:
 * - category: softmax cross-entropy with label smoothing and per-sample (class) weights
 * - multi-label: sigmoid binary cross-entropy per label, with label smoothing and per-label weights
 * - regression: mean squared error on standardized targets
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';
import type { OutputType } from './config.js';
import { Linear } from './layers/linear.js';
import { Module } from './layers/module.js';

export class Head extends Module {
  readonly linear: Linear;
  readonly type: OutputType;
  readonly outDim: number;

  constructor(args: { type: OutputType; dModel: number; outDim: number }, rng: Rng) {
    super();
    this.type = args.type;
    this.outDim = args.outDim;
    this.linear = this.child('linear', new Linear({ inDim: args.dModel, outDim: args.outDim }, rng));
  }

  /** h [B, d] -> logits (or standardized values) [B, outDim]. */
  apply(h: tf.Tensor2D): tf.Tensor2D {
    return this.linear.apply(h) as tf.Tensor2D;
  }
}

/** Targets of one batch, built in JS: `values` [B, K] row-major; `weights` [B] per-sample loss weights. */
export interface BatchTargets {
  values: Float32Array;
  /** For multi-label: per-label weights [K] instead of per-sample. */
  weights?: Float32Array;
}

/**
 * Mean (weighted) loss of a batch. Category: `values` is the one-hot target, smoothed here as
 * (1 - eps) * onehot + eps / K; weights [B] give a weighted mean sum(w l) / sum(w).
 */
export function headLoss(type: OutputType, logits: tf.Tensor2D, targets: BatchTargets, labelSmoothing: number): tf.Scalar {
  const [b, k] = logits.shape;
  const y = tf.tensor2d(targets.values, [b, k]);
  if (type === 'category') {
    const t = labelSmoothing > 0 ? y.mul(1 - labelSmoothing).add(labelSmoothing / k) : y;
    const perSample = t.mul(tf.logSoftmax(logits, -1)).sum(1).neg(); // [B]
    if (targets.weights === undefined) return perSample.mean() as tf.Scalar;
    const w = tf.tensor1d(targets.weights);
    return perSample.mul(w).sum().div(w.sum().maximum(1e-12)) as tf.Scalar;
  }
  if (type === 'multi-label') {
    const t = labelSmoothing > 0 ? y.mul(1 - labelSmoothing).add(labelSmoothing / 2) : y;
    // Stable BCE with logits: max(x, 0) - x t + log(1 + exp(-|x|)).
    let l = logits.relu().sub(logits.mul(t)).add(logits.abs().neg().exp().log1p()); // [B, K]
    if (targets.weights !== undefined) l = l.mul(tf.tensor1d(targets.weights));
    return l.mean() as tf.Scalar;
  }
  return logits.sub(y).square().mean() as tf.Scalar;
}
