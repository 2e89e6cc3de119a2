import { ConfigError, LimitExceededError } from '@mmfuse/core';
import { checkBoolean, checkInteger, checkNumber } from './internal/check.js';
import { MemorySource } from './internal/byte-source.js';
import type { ByteSource } from './internal/byte-source.js';
import { decodeBlock } from './internal/pcm.js';
import { StreamingResampler } from './internal/resampler.js';
import { readWavHeader } from './internal/wav-header.js';
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

/** Shared by decodeWav and decodeWavFile. */
export function decodeFromSource(src: ByteSource, options: DecodeWavOptions): DecodedAudio {
  const mono = checkBoolean(options.mono ?? true, 'mono');
  const target = options.sampleRateHz === undefined ? undefined : checkInteger(options.sampleRateHz, 'sampleRateHz', 1);
  const maxDuration = options.maxDurationSeconds === undefined ? Number.POSITIVE_INFINITY : checkNumber(options.maxDurationSeconds, 'maxDurationSeconds', 0, Number.POSITIVE_INFINITY, true);
  const blockFrames = checkInteger(options.blockFrames ?? 65536, 'blockFrames', 1);
  const header = readWavHeader(src);
  const durationSeconds = header.frames / header.sampleRateHz;
  if (durationSeconds > maxDuration) {
    throw new LimitExceededError(`the audio lasts ${durationSeconds.toFixed(2)} s, over the limit of ${maxDuration} s; trim it or raise maxDurationSeconds`, { details: { durationSeconds, maxDurationSeconds: maxDuration } });
  }
  const outChannels = mono ? 1 : header.channels;
  const rate = target ?? header.sampleRateHz;
  const resampling = rate !== header.sampleRateHz;
  const resamplers = resampling ? Array.from({ length: outChannels }, () => new StreamingResampler(header.sampleRateHz, rate, header.frames)) : [];
  const direct = resampling ? [] : Array.from({ length: outChannels }, () => new Float32Array(header.frames));
  const block = resampling ? Array.from({ length: outChannels }, () => new Float32Array(Math.min(blockFrames, header.frames))) : [];
  for (let f0 = 0; f0 < header.frames; f0 += blockFrames) {
    const n = Math.min(blockFrames, header.frames - f0);
    const bytes = src.read(header.dataOffset + f0 * header.blockAlign, n * header.blockAlign);
    if (resampling) {
      decodeBlock(header, bytes, n, block, 0, mono, f0);
      for (let c = 0; c < outChannels; c++) (resamplers[c] as StreamingResampler).push((block[c] as Float32Array).subarray(0, n));
    } else {
      decodeBlock(header, bytes, n, direct, f0, mono, f0);
    }
  }
  const channels = resampling ? resamplers.map((r) => r.finish()) : direct;
  return { channels, sampleRateHz: rate, sourceSampleRateHz: header.sampleRateHz, sourceChannels: header.channels, encoding: header.encoding, bitsPerSample: header.bitsPerSample, durationSeconds };
}
