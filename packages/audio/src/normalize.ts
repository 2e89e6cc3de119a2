import { ConfigError, checkNumber } from '@mmfuse/core/base';
import { featureStatistics } from './feature-statistics.js';
import type { FeatureStatistics } from './feature-statistics.js';
import { checkFeatureMatrix } from './internal/check.js';
import type { FeatureMatrix } from './types.js';

/** Options of `normalize`. */
export interface NormalizeOptions {
  /** Added to the variance before the square root, so constant bins map to 0 instead of dividing by 0. Default 1e-5. */
  epsilon?: number;
}

/**
 * Standardize each bin: (x - mean) / sqrt(std^2 + epsilon).
 * @param stats `'utterance'` uses this matrix's own per-bin statistics (cepstral mean and variance
 *   normalization); a `FeatureStatistics` (from `featureStatistics` on the training set) applies global ones.
 * @returns a new matrix.
 */
export function normalize(input: FeatureMatrix, stats: FeatureStatistics | 'utterance', options: NormalizeOptions = {}): FeatureMatrix {
  checkFeatureMatrix(input, 'input');
  const epsilon = checkNumber(options.epsilon ?? 1e-5, 'epsilon', 0);
  const s = stats === 'utterance' ? (input.frames === 0 ? { mean: new Array<number>(input.bins).fill(0), std: new Array<number>(input.bins).fill(1), frames: 0 } : featureStatistics([input])) : stats;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.mean) || !Array.isArray(s.std) || s.mean.length !== input.bins || s.std.length !== input.bins) {
    throw new ConfigError(`must be "utterance" or statistics with ${input.bins} means and standard deviations`, { path: 'stats' });
  }
  const { bins, frames } = input;
  const scale = s.std.map((d) => 1 / Math.sqrt(d * d + epsilon));
  const data = new Float32Array(input.data.length);
  for (let t = 0; t < frames; t++) {
    for (let b = 0; b < bins; b++) {
      const i = t * bins + b;
      data[i] = ((input.data[i] as number) - (s.mean[b] as number)) * (scale[b] as number);
    }
  }
  return { data, frames, bins };
}
