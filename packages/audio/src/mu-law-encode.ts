import { checkSamples } from './internal/check.js';
import { checkInteger } from '@mmfuse/core/base';
import type { Samples } from './types.js';

/**
 * Mu-law companding and quantization, as torchaudio.functional.mu_law_encoding:
 * `y = sign(x) ln(1 + mu |x|) / ln(1 + mu)`, code = `floor((y + 1) / 2 * mu + 0.5)`, mu = channels - 1.
 * @param samples `[numSamples]` in [-1, 1].
 * @returns codes in 0..quantizationChannels-1.
 */
export function muLawEncode(samples: Samples, quantizationChannels = 256): Int32Array {
  checkSamples(samples);
  const mu = checkInteger(quantizationChannels, 'quantizationChannels', 2, 65536) - 1;
  const lmu = Math.log1p(mu);
  const out = new Int32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i] as number;
    const y = (Math.sign(x) * Math.log1p(mu * Math.abs(x))) / lmu;
    out[i] = Math.floor(((y + 1) / 2) * mu + 0.5);
  }
  return out;
}
