import { ConfigError } from '@mmfuse/core/base';
import { checkInteger, checkNumber } from '@mmfuse/core/base';
import { resample } from './resample.js';
import type { Samples } from './types.js';

/** Options of `speedPerturb`. */
export interface SpeedPerturbOptions {
  /** Rate of the signal, Hz. */
  sampleRateHz: number;
  /** Speed factor: 1.1 plays 10% faster (shorter, higher), 0.9 slower. Range 0.5..2. */
  factor: number;
}

/**
 * Speed perturbation (Ko et al. 2015) by resampling, as torchaudio.functional.speed: the signal is
 * resampled from `round(sampleRateHz * factor)` Hz to `sampleRateHz` Hz, so tempo and pitch both change.
 * @param samples `[numSamples]`.
 * @returns `[ceil(numSamples / factor')]` where factor' = round(sampleRateHz * factor) / sampleRateHz.
 */
export function speedPerturb(samples: Samples, options: SpeedPerturbOptions): Float32Array {
  if (options === null || typeof options !== 'object') throw new ConfigError('options { sampleRateHz, factor } are required', { path: 'options' });
  const rate = checkInteger(options.sampleRateHz, 'sampleRateHz', 1);
  const factor = checkNumber(options.factor, 'factor', 0.5, 2);
  return resample(samples, Math.round(rate * factor), rate);
}
