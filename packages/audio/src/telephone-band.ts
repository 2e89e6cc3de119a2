import { ConfigError } from '@mmfuse/core/base';
import { highpassBiquad } from './highpass-biquad.js';
import { checkInteger } from '@mmfuse/core/base';
import { lowpassBiquad } from './lowpass-biquad.js';
import { resample } from './resample.js';
import type { Samples } from './types.js';

/** Options of `telephoneBand`. */
export interface TelephoneBandOptions {
  /** Rate of the signal, Hz (above 6800, so the 3400 Hz edge is below Nyquist). */
  sampleRateHz: number;
  /** Low edge, Hz. Default 300. */
  lowHz?: number;
  /** High edge, Hz. Default 3400. */
  highHz?: number;
}

/**
 * A narrowband telephone channel: high-pass at `lowHz` and low-pass at `highHz` (Butterworth biquads),
 * then a round trip through 8 kHz (down and back up with the band-limited resampler), so the result has
 * the telephone band and the aliasing/imaging of an 8 kHz link, at the input's rate.
 * @returns `[numSamples']` at `sampleRateHz` (the round trip can add a sample).
 */
export function telephoneBand(samples: Samples, options: TelephoneBandOptions): Float32Array {
  if (options === null || typeof options !== 'object') throw new ConfigError('options { sampleRateHz } are required', { path: 'options' });
  const rate = checkInteger(options.sampleRateHz, 'sampleRateHz', 6801);
  const low = options.lowHz ?? 300;
  const high = options.highHz ?? 3400;
  if (!(low > 0 && high > low)) throw new ConfigError(`the band ${low}..${high} Hz is empty`, { path: 'lowHz' });
  let y = highpassBiquad(samples, { sampleRateHz: rate, cutoffHz: low });
  y = lowpassBiquad(y, { sampleRateHz: rate, cutoffHz: high });
  if (rate === 8000) return y;
  return resample(resample(y, rate, 8000), 8000, rate);
}
