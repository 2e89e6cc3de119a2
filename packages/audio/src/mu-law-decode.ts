import { InvalidInputError } from '@mmfuse/core/base';
import { checkInteger } from '@mmfuse/core/base';

/**
 * Inverse of `muLawEncode`, as torchaudio.functional.mu_law_decoding:
 * `y = code / mu * 2 - 1`, `x = sign(y) ((1 + mu)^|y| - 1) / mu`.
 * @returns `[numCodes]` in [-1, 1].
 */
export function muLawDecode(codes: ArrayLike<number>, quantizationChannels = 256): Float32Array {
  const mu = checkInteger(quantizationChannels, 'quantizationChannels', 2, 65536) - 1;
  const lmu = Math.log1p(mu);
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] as number;
    if (!Number.isInteger(c) || c < 0 || c > mu) throw new InvalidInputError(`codes[${i}] is ${c}; mu-law codes are integers in 0..${mu}`, { details: { index: i } });
    const y = (c / mu) * 2 - 1;
    out[i] = (Math.sign(y) * Math.expm1(Math.abs(y) * lmu)) / mu;
  }
  return out;
}
