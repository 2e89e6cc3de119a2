import { ConfigError, InvalidInputError } from '@mmfuse/core/base';
import { checkFeatureMatrix } from './internal/check.js';
import type { FeatureMatrix } from './types.js';

/** Per-bin mean and standard deviation of a training set, JSON-friendly so models can save them. */
export interface FeatureStatistics {
  /** Mean of each bin over every frame of every matrix. */
  mean: number[];
  /** Population standard deviation of each bin. */
  std: number[];
  /** Number of frames the statistics were computed from. */
  frames: number;
}

/**
 * Fit per-bin statistics over all frames of `matrices` (two passes in float64, so large sets stay accurate).
 * @throws ConfigError when the matrices disagree on the bin count or hold no frames at all.
 */
export function featureStatistics(matrices: readonly FeatureMatrix[]): FeatureStatistics {
  if (!Array.isArray(matrices) || matrices.length === 0) throw new ConfigError('needs at least one feature matrix', { path: 'matrices' });
  matrices.forEach((m, i) => checkFeatureMatrix(m, `matrices[${i}]`));
  const bins = (matrices[0] as FeatureMatrix).bins;
  let frames = 0;
  const sum = new Float64Array(bins);
  for (const [i, m] of matrices.entries()) {
    if (m.bins !== bins) throw new ConfigError(`has ${m.bins} bins but matrices[0] has ${bins}`, { path: `matrices[${i}]` });
    for (let t = 0; t < m.frames; t++) for (let b = 0; b < bins; b++) sum[b] = (sum[b] as number) + (m.data[t * bins + b] as number);
    frames += m.frames;
  }
  if (frames === 0) throw new InvalidInputError('the feature matrices hold no frames');
  const mean = Array.from(sum, (s) => s / frames);
  const sq = new Float64Array(bins);
  for (const m of matrices) {
    for (let t = 0; t < m.frames; t++) {
      for (let b = 0; b < bins; b++) {
        const d = (m.data[t * bins + b] as number) - (mean[b] as number);
        sq[b] = (sq[b] as number) + d * d;
      }
    }
  }
  return { mean, std: Array.from(sq, (s) => Math.sqrt(s / frames)), frames };
}
