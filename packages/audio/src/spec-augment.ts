import { ConfigError } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { checkFeatureMatrix } from './internal/check.js';
import { drawSpecAugmentMasks, resolveSpecAugment } from './internal/spec-augment-masks.js';
import type { FeatureMatrix } from './types.js';

export type { SpecAugmentMask } from './internal/spec-augment-masks.js';

/** Options of `specAugment` (time and frequency masking of Park et al. 2019; no time warping). */
export interface SpecAugmentOptions {
  /** Number of time masks. Default 2. */
  timeMasks?: number;
  /** Largest time mask, in frames (each width is uniform in 0..timeMaskMax). Default 20. */
  timeMaskMax?: number;
  /** Number of frequency masks. Default 2. */
  freqMasks?: number;
  /** Largest frequency mask, in bins. Default 8. */
  freqMaskMax?: number;
  /** Value written into masked cells (0 = the mean after normalization). Default 0. */
  maskValue?: number;
}

/**
 * SpecAugment: overwrite `freqMasks` random bands of bins and `timeMasks` random spans of frames with
 * `maskValue`. Use on training data only; `rng` makes it reproducible.
 * @returns a new matrix; the input is not modified.
 */
export function specAugment(input: FeatureMatrix, options: SpecAugmentOptions, rng: Rng): FeatureMatrix {
  checkFeatureMatrix(input, 'input');
  const opts = resolveSpecAugment(options);
  if (rng === undefined || rng === null || typeof (rng as Rng).int !== 'function') throw new ConfigError('specAugment needs an Rng (from @mmfuse/core) for reproducible masks', { path: 'rng' });
  const data = input.data.slice();
  const { frames, bins } = input;
  for (const m of drawSpecAugmentMasks(frames, bins, opts, rng)) {
    if (m.axis === 'freq') {
      for (let t = 0; t < frames; t++) data.fill(opts.maskValue, t * bins + m.start, t * bins + m.start + m.width);
    } else {
      data.fill(opts.maskValue, m.start * bins, (m.start + m.width) * bins);
    }
  }
  return { data, frames, bins };
}
