/** Greedy (best path) CTC decoding: the most likely class per frame, repeats collapsed, blanks dropped. */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.js';

/** Options of `ctcGreedyDecode`. */
export interface CtcGreedyDecodeOptions {
  /** Index of the blank symbol. Default 0. */
  blank?: number;
  /** Frames that count per sample (<= time); default every frame. */
  lengths?: ArrayLike<number>;
}

/**
 * Decode a batch of CTC scores.
 * @param scores `[batch, time, classes]` logits or log-probabilities (only the arg max per frame matters),
 *   as a tensor (read, not disposed) or a flat row-major array with its `shape`.
 * @returns one class-index sequence per sample.
 */
export function ctcGreedyDecode(scores: tf.Tensor3D | { data: ArrayLike<number>; shape: [number, number, number] }, options: CtcGreedyDecodeOptions = {}): number[][] {
  const isTensor = scores instanceof tf.Tensor;
  const shape = isTensor ? (scores as tf.Tensor3D).shape : (scores as { shape: [number, number, number] }).shape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new ConfigError('must be [batch, time, classes]', { path: 'scores' });
  const [B, T, C] = shape;
  const data = isTensor ? (scores as tf.Tensor3D).dataSync() : (scores as { data: ArrayLike<number> }).data;
  if (data.length !== B * T * C) throw new ConfigError(`holds ${data.length} values, expected ${B * T * C} for shape [${B}, ${T}, ${C}]`, { path: 'scores' });
  const blank = options.blank ?? 0;
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) throw new ConfigError(`must be an integer in 0..${C - 1}, got ${String(blank)}`, { path: 'blank' });
  const out: number[][] = [];
  for (let b = 0; b < B; b++) {
    const len = options.lengths === undefined ? T : (options.lengths[b] as number);
    if (!Number.isInteger(len) || len < 0 || len > T) throw new ConfigError(`must be an integer in 0..${T}, got ${String(len)}`, { path: `lengths[${b}]` });
    const seq: number[] = [];
    let prev = -1;
    for (let t = 0; t < len; t++) {
      const base = (b * T + t) * C;
      let best = 0;
      let bestV = data[base] as number;
      for (let c = 1; c < C; c++) {
        const v = data[base + c] as number;
        if (v > bestV) { bestV = v; best = c; }
      }
      if (best !== prev && best !== blank) seq.push(best);
      prev = best;
    }
    out.push(seq);
  }
  return out;
}
