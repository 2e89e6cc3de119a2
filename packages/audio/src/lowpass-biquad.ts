import { ConfigError } from '@mmfuse/core/base';
import { runBiquad, rbj } from './internal/biquad.js';
import { checkSamples } from './internal/check.js';
import { checkNumber } from '@mmfuse/core/base';
import type { Samples } from './types.js';

/** Options of `lowpassBiquad` and `highpassBiquad`. */
export interface BiquadOptions {
  /** Rate of the signal, Hz. */
  sampleRateHz: number;
  /** Cutoff frequency, Hz, below Nyquist. */
  cutoffHz: number;
  /** Quality factor. Default 0.707 (Butterworth). */
  q?: number;
}

export function resolveBiquad(options: BiquadOptions): { rate: number; cutoff: number; q: number } {
  if (options === null || typeof options !== 'object') throw new ConfigError('options { sampleRateHz, cutoffHz } are required', { path: 'options' });
  const rate = checkNumber(options.sampleRateHz, 'sampleRateHz', 0, Number.POSITIVE_INFINITY, true);
  const cutoff = checkNumber(options.cutoffHz, 'cutoffHz', 0, rate / 2, true);
  if (cutoff >= rate / 2) throw new ConfigError(`must be below Nyquist (${rate / 2} Hz), got ${cutoff}`, { path: 'cutoffHz' });
  return { rate, cutoff, q: checkNumber(options.q ?? 0.707, 'q', 0, Number.POSITIVE_INFINITY, true) };
}

/**
 * Second-order low-pass filter (RBJ cookbook), as torchaudio.functional.lowpass_biquad (without its
 * clamp to [-1, 1]).
 * @returns a new `[numSamples]` array.
 */
export function lowpassBiquad(samples: Samples, options: BiquadOptions): Float32Array {
  checkSamples(samples);
  const { rate, cutoff, q } = resolveBiquad(options);
  const { cos, alpha } = rbj(rate, cutoff, q);
  return runBiquad(samples, (1 - cos) / 2, 1 - cos, (1 - cos) / 2, 1 + alpha, -2 * cos, 1 - alpha);
}
