/**
 * Unstructured magnitude pruning: in every kernel and embedding table (the weights quantization would also
 * take: rank >= 2 with an output axis, at least `minSize` values), the `ratio` share of values smallest in
 * magnitude is set to 0. Shapes do not change, so the model is exactly as fast on dense kernels and its
 * folder exactly as large; only a compressed copy (gzip, or int8 + gzip) is smaller. Size-only. Every member
 * of an ensemble is pruned alike.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@mmfuse/core';
import type { FusionState } from '../state.js';
import { DEFAULT_MIN_QUANTIZED_SIZE } from './quantize.js';
import { describeStateWeights } from './weights.js';

export interface MagnitudePruneOptions {
  /** Share of each pruned weight's values set to 0, in (0, 1). */
  ratio: number;
  /** Weights with fewer values are left alone. Default 1024. */
  minSize?: number;
}

export interface MagnitudePruneReport {
  ratio: number;
  /** Per pruned weight: values and zeros after pruning. */
  weights: { name: string; label: string; size: number; zeros: number }[];
  /** Zeros over every weight of the model, after pruning. */
  zeros: number;
  parameters: number;
}

/** Zero the smallest-magnitude values of every kernel and embedding table, in place. */
export function pruneMagnitude(state: FusionState, options: MagnitudePruneOptions): MagnitudePruneReport {
  const ratio = options.ratio;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) throw new ConfigError(`must be a number between 0 and 1 (the share of values zeroed), got ${ratio}`, { path: 'ratio' });
  const minSize = options.minSize ?? DEFAULT_MIN_QUANTIZED_SIZE;
  const infos = new Map(describeStateWeights(state).map((i) => [i.name, i]));
  const weights: MagnitudePruneReport['weights'] = [];
  let zeros = 0;
  let parameters = 0;
  tf.tidy(() => {
    for (const [name, v] of state.namedWeights()) {
      const info = infos.get(name);
      const values = (v.dataSync() as Float32Array).slice();
      parameters += values.length;
      if (info !== undefined && info.outputAxis !== null && info.shape.length >= 2 && info.size >= minSize) {
        const cut = Math.floor(values.length * ratio);
        // The cut-th smallest magnitude; ties at the threshold are broken by position, so exactly `cut` values go.
        const order = Array.from(values.keys()).sort((a, b) => Math.abs(values[a] as number) - Math.abs(values[b] as number) || a - b);
        for (let i = 0; i < cut; i++) values[order[i] as number] = 0;
        v.assign(tf.tensor(values, v.shape, 'float32'));
        let z = 0;
        for (const x of values) if (x === 0) z++;
        weights.push({ name, label: info.label, size: values.length, zeros: z });
      }
      for (const x of values) if (x === 0) zeros++;
    }
  });
  return { ratio, weights, zeros, parameters };
}
