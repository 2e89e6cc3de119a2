import { checkSamples } from './internal/check.js';
import { checkNumber } from '@mmfuse/core/base';
import type { Samples } from './types.js';

/**
 * Scale a signal by `gainDb` decibels (amplitude x 10^(gainDb / 20)), as torchaudio.functional.gain.
 * Values past full scale are kept (never clipped); `encodeWav` refuses them for 16-bit PCM.
 * @param samples `[numSamples]`.
 * @returns a new `[numSamples]` array.
 */
export function gain(samples: Samples, gainDb: number): Float32Array {
  checkSamples(samples);
  checkNumber(gainDb, 'gainDb', -200, 200);
  const g = 10 ** (gainDb / 20);
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = (samples[i] as number) * g;
  return out;
}
