/**
 * The output head: one Linear on the fused vector, whatever the output kind (the kinds differ in their
 * loss and decoding: see `outputs/`).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';
import type { OutputType } from './config.js';
import { Linear } from './layers/linear.js';
import { Module } from './layers/module.js';
import { outputKind } from './outputs/index.js';
import type { BatchTargets } from './outputs/index.js';

export interface HeadArgs {
  /** Width of the fused vector. */
  dModel: number;
  /** Width of the output (labels, or regression values). */
  outDim: number;
}

export class Head extends Module {
  readonly linear: Linear;
  readonly outDim: number;

  constructor(args: HeadArgs, rng: Rng) {
    super();
    this.outDim = args.outDim;
    this.linear = this.child('linear', new Linear({ inDim: args.dModel, outDim: args.outDim }, rng));
  }

  /** h [B, d] -> logits (or standardized values) [B, outDim]. */
  apply(h: tf.Tensor2D): tf.Tensor2D {
    return this.linear.apply(h) as tf.Tensor2D;
  }
}

export type { BatchTargets };

/** The loss of an output type on a batch (the kind's own loss; see `outputs/`). */
export function headLoss(type: OutputType, logits: tf.Tensor2D, targets: BatchTargets, labelSmoothing: number): tf.Scalar {
  return outputKind(type).loss(logits, targets, { labelSmoothing });
}
