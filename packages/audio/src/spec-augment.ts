import { ConfigError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';
import { checkFeatureMatrix } from './internal/check.js';
import { drawSpecAugmentMasks, resolveSpecAugment } from './internal/spec-augment-masks.js';
import type { FeatureMatrix, SpecAugmentOptions } from './types.js';

export type { SpecAugmentMask, SpecAugmentOptions } from './types.js';

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
