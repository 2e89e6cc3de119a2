import type { Rng } from '@mmfuse/core/base';
import { checkInteger } from '@mmfuse/core/base';
import { checkRng } from './internal/check-rng.js';

/**
 * Gaussian white noise, unit variance (a flat spectrum).
 * @returns `[length]`.
 */
export function whiteNoise(length: number, rng: Rng): Float32Array {
  checkInteger(length, 'length', 0);
  checkRng(rng);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.normal();
  return out;
}
