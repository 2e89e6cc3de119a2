import { ConfigError } from '@mmfuse/core';
import { MemorySource } from './internal/byte-source.js';
import { decodeFromSource } from './internal/decode-source.js';
import type { WavEncoding } from './internal/wav-header.js';

/** Options of `decodeWav` and `decodeWavFile`. */
export interface DecodeWavOptions {
  /** Average all channels into one (true) or keep each channel (false). Default true. */
  mono?: boolean;
  /** Resample to this rate (band-limited sinc, as `resample`). Default: keep the file's rate. */
  sampleRateHz?: number;
  /** Refuse files longer than this many seconds with a LimitExceededError. Default: no limit. */
  maxDurationSeconds?: number;
  /** Frames converted per block; bounds the decoder's working memory. Default 65536. */
  blockFrames?: number;
}

/** A decoded WAV file. */
export interface DecodedAudio {
  /** One Float32Array per output channel (one when `mono`), samples in [-1, 1] for integer formats. */
  channels: Float32Array[];
  /** Rate of `channels` (the requested rate, or the file's). */
  sampleRateHz: number;
  /** The file's own rate and channel count. */
  sourceSampleRateHz: number;
  sourceChannels: number;
  /** Sample encoding and bits per sample of the file. */
  encoding: WavEncoding;
  bitsPerSample: number;
  /** Duration of the file in seconds. */
  durationSeconds: number;
}

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
