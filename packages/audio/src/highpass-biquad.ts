import { runBiquad, rbj } from './internal/biquad.js';
import { checkSamples } from './internal/check.js';
import { resolveBiquad } from './lowpass-biquad.js';
import type { BiquadOptions } from './lowpass-biquad.js';
import type { Samples } from './types.js';

/**
 * Second-order high-pass filter (RBJ cookbook), as torchaudio.functional.highpass_biquad (without its
 * clamp to [-1, 1]).
 * @returns a new `[numSamples]` array.
 */
export function highpassBiquad(samples: Samples, options: BiquadOptions): Float32Array {
  checkSamples(samples);
  const { rate, cutoff, q } = resolveBiquad(options);
  const { cos, alpha } = rbj(rate, cutoff, q);
  return runBiquad(samples, (1 + cos) / 2, -(1 + cos), (1 + cos) / 2, 1 + alpha, -2 * cos, 1 - alpha);
}
