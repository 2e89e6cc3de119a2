/** SpecAugment option resolution and mask drawing, shared by specAugment and the audio/cnn encoder. */
import type { Rng } from '@mmfuse/core/base';
import type { SpecAugmentMask, SpecAugmentOptions } from '../types.js';
import { parseOptions, z } from '@mmfuse/core/base';

/** SpecAugment options as a schema (see `SpecAugmentOptions`): the one place their defaults live. */
export const specAugmentOptionsSchema = z.strictObject({
  timeMasks: z.int().min(0).default(2).describe('Number of time masks. Default 2.'),
  timeMaskMax: z.int().min(0).default(20).describe('Largest time mask, in frames. Default 20.'),
  freqMasks: z.int().min(0).default(2).describe('Number of frequency masks. Default 2.'),
  freqMaskMax: z.int().min(0).default(8).describe('Largest frequency mask, in bins. Default 8.'),
  maskValue: z.number().default(0).describe('Value written into masked cells. Default 0.'),
});

/** Check SpecAugment options and fill in the defaults; errors name `specAugment.<key>`. */
export function resolveSpecAugment(options: SpecAugmentOptions): Required<SpecAugmentOptions> {
  return parseOptions(specAugmentOptionsSchema, options, { path: 'specAugment' });
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

