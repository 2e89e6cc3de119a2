import { ConfigError } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { checkFeatureMatrix, checkInteger, checkNumber } from './internal/check.js';
import type { FeatureMatrix } from './types.js';

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

/** One mask: `[start, start + width)` along time or frequency. */
export interface SpecAugmentMask {
  axis: 'time' | 'freq';
  start: number;
  width: number;
}

export function resolveSpecAugment(options: SpecAugmentOptions): Required<SpecAugmentOptions> {
  if (options === null || typeof options !== 'object') throw new ConfigError('must be an options object', { path: 'specAugment' });
  return {
    timeMasks: checkInteger(options.timeMasks ?? 2, 'specAugment.timeMasks', 0),
    timeMaskMax: checkInteger(options.timeMaskMax ?? 20, 'specAugment.timeMaskMax', 0),
    freqMasks: checkInteger(options.freqMasks ?? 2, 'specAugment.freqMasks', 0),
    freqMaskMax: checkInteger(options.freqMaskMax ?? 8, 'specAugment.freqMaskMax', 0),
    maskValue: checkNumber(options.maskValue ?? 0, 'specAugment.maskValue', Number.NEGATIVE_INFINITY),
  };
}

/** Draw the masks for a `frames x bins` matrix. Widths never exceed the axis; positions are uniform. */
export function drawSpecAugmentMasks(frames: number, bins: number, options: Required<SpecAugmentOptions>, rng: Rng): SpecAugmentMask[] {
  const masks: SpecAugmentMask[] = [];
  const draw = (axis: 'time' | 'freq', count: number, max: number, size: number): void => {
    for (let i = 0; i < count; i++) {
      const width = Math.min(rng.int(max + 1), size);
      const start = rng.int(size - width + 1);
      masks.push({ axis, start, width });
    }
  };
  draw('freq', options.freqMasks, options.freqMaskMax, bins);
  draw('time', options.timeMasks, options.timeMaskMax, frames);
  return masks;
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
