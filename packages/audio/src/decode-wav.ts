import { ConfigError } from '@mmfuse/core/base';
import { MemorySource } from './internal/byte-source.js';
import { decodeFromSource } from './internal/decode-source.js';
import type { DecodeWavOptions, DecodedAudio } from './types.js';

export type { DecodeWavOptions, DecodedAudio } from './types.js';

/**
 * Decode WAV bytes: PCM 8/16/24/32-bit, IEEE float 32/64, A-law, mu-law, any channel count and sample rate,
 * RIFF (little-endian) or RIFX. Integer samples are scaled by 1/2^(bits-1) (8-bit is unsigned, centred at
 * 128), as torchaudio.load(normalize=True). The data chunk is converted block by block straight into the
 * downmix and the streaming resampler, so memory beyond the output stays bounded.
 *
 * @throws InvalidInputError for empty, truncated or lying files, zero channels, non-WAV data and NaN/Infinity
 *   samples; UnsupportedFormatError for other codecs and formats; LimitExceededError past `maxDurationSeconds`.
 *   Errors carry no sample/field; callers add them with `err.locate(...)`.
 */
export function decodeWav(bytes: Uint8Array, options: DecodeWavOptions = {}): DecodedAudio {
  if (!(bytes instanceof Uint8Array)) throw new ConfigError(`bytes must be a Uint8Array or Buffer, got ${bytes === null ? 'null' : typeof bytes}`, { path: 'bytes' });
  return decodeFromSource(new MemorySource(bytes), options);
}
