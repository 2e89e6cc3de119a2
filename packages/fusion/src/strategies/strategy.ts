import type * as tf from '@tensorflow/tfjs';
import type { ModalityTokens } from '../alignment.js';
import type { BlockShape } from '../config.js';
import { Module } from '../layers/module.js';
import type { ApplyOptions } from '../layers/module.js';

/**
 * A fusion strategy turns the aligned tokens of every modality into one vector per sample.
 * `tokens[m]` is null when no sample of the batch has modality m.
 */
export abstract class FusionStrategy extends Module {
  /** Returns [B, dModel]. */
  abstract apply(tokens: (ModalityTokens | null)[], batchSize: number, options: ApplyOptions): tf.Tensor2D;
}

/** Masked mean over time: x [B, T, d], mask [B, T] -> [B, d]; rows without a real token give zeros. */
export function maskedMean(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  // One step per row (pooled encoders: text/use, text/ngram, a vector input): a sum of one term divided by
  // max(count, 1) = 1 is x × mask, the same values and gradient in 2 kernels instead of 6.
  if (x.shape[1] === 1) return x.reshape([x.shape[0], x.shape[2]]).mul(mask) as tf.Tensor2D;
  const sum = x.mul(mask.expandDims(2)).sum(1); // [B, d]
  const count = mask.sum(1, true); // [B, 1]
  return sum.div(count.maximum(1)) as tf.Tensor2D;
}

/**
 * The arguments of the Transformer block at `path`: its pruned sizes from `blockShapes` when listed (heads
 * keep the unpruned width dModel / heads), else the strategy's.
 */
export function blockArgs<T extends { dModel: number; heads: number; ffDim: number; blockShapes?: Readonly<Record<string, BlockShape>> }>(args: T, path: string): T & { headDim: number } {
  const shape = args.blockShapes?.[path];
  return { ...args, headDim: args.dModel / args.heads, heads: shape?.heads ?? args.heads, ffDim: shape?.ffDim ?? args.ffDim };
}

/** The block paths a strategy has (the keys `fusion.blockShapes` may use). */
export function blockPaths(strategy: string, layers: number, modalities: number): string[] {
  if (strategy === 'late') return ['hidden'];
  if (strategy === 'cross-attention') return Array.from({ length: modalities }, (_, m) => Array.from({ length: layers }, (_, l) => `stream${m}.block${l}`)).flat();
  return Array.from({ length: layers }, (_, l) => `block${l}`);
}
