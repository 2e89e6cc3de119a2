import { ConfigError, InvalidInputError } from '@mmfuse/core/base';
import { checkSamples } from './internal/check.js';
import { checkNumber } from '@mmfuse/core/base';
import type { Samples } from './types.js';

/** Options of `addNoise`. */
export interface AddNoiseOptions {
  /** Signal-to-noise ratio of the result, dB (energy of `signal` over energy of the scaled noise). */
  snrDb: number;
}

/**
 * Mix `noise` into `signal` at a signal-to-noise ratio, as torchaudio.functional.add_noise:
 * `signal + noise * 10^((E_s - E_n - snrDb) / 20)` with `E = 10 log10(sum x^2)`.
 * @param signal `[numSamples]`.
 * @param noise `[numSamples]` (same length; cut or loop it first, e.g. with `babbleNoise`).
 * @returns a new `[numSamples]` array (not clipped).
 * @throws ConfigError for different lengths; InvalidInputError when the signal or the noise is silent.
 */
export function addNoise(signal: Samples, noise: Samples, options: AddNoiseOptions): Float32Array {
  checkSamples(signal, 'signal');
  checkSamples(noise, 'noise');
  if (options === null || typeof options !== 'object') throw new ConfigError('options { snrDb } are required', { path: 'options' });
  const snrDb = checkNumber(options.snrDb, 'snrDb', -100, 200);
  if (noise.length !== signal.length) throw new ConfigError(`noise has ${noise.length} samples, the signal ${signal.length}; they must match`, { path: 'noise' });
  let es = 0;
  let en = 0;
  for (let i = 0; i < signal.length; i++) {
    es += (signal[i] as number) ** 2;
    en += (noise[i] as number) ** 2;
  }
  if (es === 0) throw new InvalidInputError('the signal is silent: a signal-to-noise ratio is undefined', { field: 'signal' });
  if (en === 0) throw new InvalidInputError('the noise is silent: it cannot be scaled to an SNR', { field: 'noise' });
  const scale = Math.sqrt(es / en) * 10 ** (-snrDb / 20);
  const out = new Float32Array(signal.length);
  for (let i = 0; i < signal.length; i++) out[i] = (signal[i] as number) + scale * (noise[i] as number);
  return out;
}
