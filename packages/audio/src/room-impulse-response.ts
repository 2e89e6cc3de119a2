import { ConfigError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';
import { checkInteger, checkNumber } from '@mmfuse/core/base';
import { checkRng } from './internal/check-rng.js';

/** Options of `roomImpulseResponse`. */
export interface RoomImpulseResponseOptions {
  /** Rate of the response, Hz. */
  sampleRateHz: number;
  /** Reverberation time: seconds for the energy to decay by 60 dB. Range 0.05..3. */
  rt60Seconds: number;
  /** Direct-to-reverberant energy ratio, dB (higher = drier, closer talker). Default 6. */
  directToReverberantDb?: number;
  /** Delay between the direct sound and the first reflections, ms. Default 2. */
  preDelayMs?: number;
  /** Early reflections (sparse, in the first 50 ms, decaying like the tail). Default 8. */
  earlyReflections?: number;
  /** Length of the response, seconds. Default min(3, rt60Seconds) (60 dB down at the end). */
  lengthSeconds?: number;
}

/**
 * A synthetic room impulse response: a unit direct impulse at t = 0, a few sparse early reflections, and
 * a diffuse tail of Gaussian noise under the envelope `exp(-3 ln(10) t / rt60)` (so the energy falls 60 dB
 * in `rt60Seconds`; Schroeder integration recovers that RT60), with the reverberant energy set to
 * `directToReverberantDb` below the direct impulse's. The statistical model of Polack (1988), the usual
 * stand-in for measured responses in data augmentation.
 * @returns `[round(lengthSeconds * sampleRateHz)]`, direct sound at index 0.
 */
export function roomImpulseResponse(options: RoomImpulseResponseOptions, rng: Rng): Float32Array {
  if (options === null || typeof options !== 'object') throw new ConfigError('options { sampleRateHz, rt60Seconds } are required', { path: 'options' });
  checkRng(rng);
  const rate = checkInteger(options.sampleRateHz, 'sampleRateHz', 1000);
  const rt60 = checkNumber(options.rt60Seconds, 'rt60Seconds', 0.05, 3);
  const drr = checkNumber(options.directToReverberantDb ?? 6, 'directToReverberantDb', -20, 40);
  const preDelay = checkNumber(options.preDelayMs ?? 2, 'preDelayMs', 0, 100);
  const early = checkInteger(options.earlyReflections ?? 8, 'earlyReflections', 0, 100);
  const seconds = checkNumber(options.lengthSeconds ?? Math.min(3, rt60), 'lengthSeconds', 0.01, 10);
  const n = Math.round(seconds * rate);
  const start = Math.max(1, Math.round((preDelay / 1000) * rate));
  if (start >= n) throw new ConfigError(`a ${preDelay} ms pre-delay leaves no room in a ${seconds} s response`, { path: 'preDelayMs' });
  const decay = (3 * Math.LN10) / (rt60 * rate); // amplitude decay per sample
  const h = new Float64Array(n);
  for (let i = start; i < n; i++) h[i] = rng.normal() * Math.exp(-decay * i);
  const earlyEnd = Math.min(n, start + Math.round(0.05 * rate));
  for (let r = 0; r < early; r++) {
    const i = start + rng.int(Math.max(1, earlyEnd - start));
    h[i] = (h[i] as number) + (rng.bernoulli(0.5) ? 1 : -1) * 3 * Math.exp(-decay * i);
  }
  let energy = 0;
  for (let i = start; i < n; i++) energy += (h[i] as number) ** 2;
  const scale = energy > 0 ? Math.sqrt(10 ** (-drr / 10) / energy) : 0;
  const out = new Float32Array(n);
  out[0] = 1;
  for (let i = start; i < n; i++) out[i] = (h[i] as number) * scale;
  return out;
}
