import { checkSamples } from './internal/check.js';
import { checkInteger } from '@mmfuse/core/base';
import { StreamingResampler } from './internal/resampler.js';
import type { Samples } from './types.js';

/**
 * Resample a mono signal from `fromHz` to `toHz` with a Hann-windowed sinc (lowpass filter width 6,
 * rolloff 0.99), numerically torchaudio.functional.resample's default method.
 * @param samples `[numSamples]`.
 * @returns `[ceil(numSamples * toHz / fromHz)]`; a copy when the rates are equal.
 * @throws ConfigError for non-integer or non-positive rates; InvalidInputError for NaN/Infinity samples.
 */
export function resample(samples: Samples, fromHz: number, toHz: number): Float32Array {
  checkInteger(fromHz, 'fromHz', 1);
  checkInteger(toHz, 'toHz', 1);
  checkSamples(samples);
  if (fromHz === toHz) return Float32Array.from(samples);
  const r = new StreamingResampler(fromHz, toHz, samples.length);
  r.push(samples);
  return r.finish();
}
