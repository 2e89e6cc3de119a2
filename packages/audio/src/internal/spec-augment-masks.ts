/** SpecAugment option resolution and mask drawing, shared by specAugment and the audio/cnn encoder. */
import { ConfigError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';
import type { SpecAugmentMask, SpecAugmentOptions } from '../types.js';
import { checkInteger, checkNumber } from '@mmfuse/core/base';

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

