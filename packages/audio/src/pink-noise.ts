import type { Rng } from '@mmfuse/core/base';
import { checkInteger } from '@mmfuse/core/base';
import { checkRng } from './internal/check-rng.js';

/**
 * Pink (1/f) noise: white noise through Paul Kellet's refined filter (seven first-order sections, within
 * ±0.05 dB of -3 dB per octave above ~10 Hz at 44.1 kHz; the slope holds across the band at any rate),
 * scaled to unit variance over the clip.
 * @returns `[length]`.
 */
export function pinkNoise(length: number, rng: Rng): Float32Array {
  checkInteger(length, 'length', 0);
  checkRng(rng);
  const out = new Float32Array(length);
  let b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
  // Warm the filter up so the clip starts in its steady state.
  const warm = 2048;
  let sumSq = 0;
  for (let i = -warm; i < length; i++) {
    const w = rng.normal();
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    const y = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    if (i >= 0) {
      out[i] = y;
      sumSq += y * y;
    }
  }
  const scale = length > 0 && sumSq > 0 ? Math.sqrt(length / sumSq) : 1;
  for (let i = 0; i < length; i++) out[i] = (out[i] as number) * scale;
  return out;
}
