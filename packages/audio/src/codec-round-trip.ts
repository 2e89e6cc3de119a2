import { ConfigError, InvalidInputError } from '@mmfuse/core/base';
import { alawToLinear, linearToAlaw, linearToUlaw, ulawToLinear } from './internal/g711.js';
import { checkSamples } from './internal/check.js';
import type { Samples } from './types.js';

/** A telephone codec. */
export type TelephoneCodec = 'mu-law' | 'a-law';

/**
 * Encode and decode through an 8-bit G.711 codec (mu-law: North America/Japan; A-law: elsewhere), the
 * quantization noise of a telephone line. Samples become 16-bit PCM (`round(x * 32768)`, 1.0 -> 32767),
 * then 8-bit codes (bit-exact with audioop/sox), then back to floats (`pcm / 32768`).
 * @param samples `[numSamples]` in [-1, 1] (values outside are refused: scale first).
 * @returns a new `[numSamples]` array.
 */
export function codecRoundTrip(samples: Samples, codec: TelephoneCodec): Float32Array {
  checkSamples(samples);
  if (codec !== 'mu-law' && codec !== 'a-law') throw new ConfigError(`must be "mu-law" or "a-law", got ${JSON.stringify(codec)}`, { path: 'codec' });
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i] as number;
    if (x > 1 || x < -1) throw new InvalidInputError(`samples[${i}] is ${x}, outside [-1, 1]; scale the signal before a codec`, { details: { index: i } });
    const pcm = Math.min(32767, Math.round(x * 32768));
    out[i] = (codec === 'mu-law' ? ulawToLinear(linearToUlaw(pcm)) : alawToLinear(linearToAlaw(pcm))) / 32768;
  }
  return out;
}
