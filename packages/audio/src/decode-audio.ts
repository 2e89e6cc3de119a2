import * as fs from 'node:fs';
import { ConfigError, InternalError, InvalidInputError, IoError, MmfuseError } from '@mmfuse/core/base';
import { decodeWav } from './decode-wav.js';
import type { DecodedAudio } from './decode-wav.js';
import { decodeWavFile } from './decode-wav-file.js';
import { FileSource, MemorySource } from './internal/byte-source.js';
import type { ByteSource } from './internal/byte-source.js';
import { checkBoolean, checkInteger, checkNumber } from '@mmfuse/core/base';
import type { AudioCodec, ReaderOptions, ReaderResult } from './internal/compressed.js';
import { decodeFlac } from './internal/decode-flac.js';
import { decodeMp3 } from './internal/decode-mp3.js';
import { decodeOgg } from './internal/decode-ogg.js';
import { decodeWebm } from './internal/decode-webm.js';
import { SNIFF_BYTES, sniffAudioContainer } from './internal/sniff.js';
import type { AudioContainer } from './internal/sniff.js';

export type { AudioCodec } from './internal/compressed.js';
export type { AudioContainer } from './internal/sniff.js';

/** Options of `decodeAudio`. */
export interface DecodeAudioOptions {
  /** Average all channels into one (true) or keep each channel (false). Default true. */
  mono?: boolean;
  /** Resample to this rate (band-limited sinc, as `resample`). Default: keep the stream's rate. */
  sampleRateHz?: number;
  /**
   * Refuse audio longer than this many seconds with a LimitExceededError: before decoding when the
   * container states the length (WAV, FLAC, Ogg, MP3 frames, WebM packets), else as soon as the decoded
   * audio passes it. Default: no limit.
   */
  maxDurationSeconds?: number;
  /** WAV only: frames converted per block (bounds the WAV decoder's working memory). Default 65536. */
  blockFrames?: number;
}

/** Audio decoded by `decodeAudio`. */
export interface DecodedAudioFile {
  /** One Float32Array per output channel (one when `mono`), samples in [-1, 1] (lossy codecs may overshoot slightly). */
  channels: Float32Array[];
  /** Rate of `channels` (the requested rate, or the stream's). */
  sampleRateHz: number;
  /** The stream's own rate (Opus always decodes at 48000 Hz) and channel count. */
  sourceSampleRateHz: number;
  sourceChannels: number;
  /** Duration in seconds (after the codec's start and end padding are removed). */
  durationSeconds: number;
  /** The container, found from the magic bytes (never the file name). */
  container: AudioContainer;
  codec: AudioCodec;
  /** Bits per sample of WAV and FLAC sources; undefined for lossy codecs. */
  bitsPerSample?: number;
}

const READERS: Record<Exclude<AudioContainer, 'wav'>, (src: ByteSource, opts: ReaderOptions) => Promise<ReaderResult>> = {
  mp3: decodeMp3,
  flac: decodeFlac,
  ogg: decodeOgg,
  webm: decodeWebm,
};

function fromWav(out: DecodedAudio): DecodedAudioFile {
  return { channels: out.channels, sampleRateHz: out.sampleRateHz, sourceSampleRateHz: out.sourceSampleRateHz, sourceChannels: out.sourceChannels, durationSeconds: out.durationSeconds, container: 'wav', codec: out.encoding, bitsPerSample: out.bitsPerSample };
}

function fromReader(container: AudioContainer, r: ReaderResult): DecodedAudioFile {
  return { ...r, container };
}

/** Errors that are not mmfuse's own are bugs: wrap them so they still travel typed. */
function typed(err: unknown, file?: string): MmfuseError {
  if (err instanceof MmfuseError) return file !== undefined ? err.locate({ file }) : err;
  return new InternalError(`audio decoding failed unexpectedly: ${(err as Error)?.message ?? String(err)}`, { cause: err, ...(file !== undefined ? { file } : {}) });
}

/**
 * Decode audio bytes or an audio file: WAV (every encoding `decodeWav` reads), MP3 (MPEG-1/2/2.5 layers
 * I-III), FLAC, Ogg Vorbis, Ogg Opus and WebM/Matroska Opus. The container is found from the magic bytes,
 * not the file name. WAV is decoded synchronously as by `decodeWav`/`decodeWavFile`; the other codecs run
 * in WebAssembly (mpg123, libFLAC, libvorbis, libopus), one decoder instance per call, freed at the end.
 * A file is read in 64 KiB pieces and decoded blocks go straight into the downmix and the streaming
 * resampler, so a long file never sits in memory whole.
 *
 * @param input Bytes (`Uint8Array`/`Buffer`) or a file path.
 * @throws InvalidInputError for empty, truncated, corrupt or unrecognised data (the message names the byte,
 *   page, frame or block); UnsupportedFormatError for a recognised format or codec that is not decoded
 *   (AAC/MP4, AIFF, Vorbis in WebM, chained Ogg, free-format MP3, ...); LimitExceededError past
 *   `maxDurationSeconds`; ConfigError for bad options. Errors about a file name it (`err.file`); callers
 *   add the sample and field with `err.locate(...)`.
 */
export async function decodeAudio(input: Uint8Array | string, options: DecodeAudioOptions = {}): Promise<DecodedAudioFile> {
  const opts: ReaderOptions = {
    mono: checkBoolean(options.mono ?? true, 'mono'),
    targetRateHz: options.sampleRateHz === undefined ? undefined : checkInteger(options.sampleRateHz, 'sampleRateHz', 1),
    maxDurationSeconds: options.maxDurationSeconds === undefined ? Number.POSITIVE_INFINITY : checkNumber(options.maxDurationSeconds, 'maxDurationSeconds', 0, Number.POSITIVE_INFINITY, true),
  };
  if (options.blockFrames !== undefined) checkInteger(options.blockFrames, 'blockFrames', 1);
  if (input instanceof Uint8Array) {
    try {
      const container = sniffAudioContainer(input.subarray(0, SNIFF_BYTES));
      if (container === 'wav') return fromWav(decodeWav(input, options));
      return fromReader(container, await READERS[container](new MemorySource(input), opts));
    } catch (err) {
      throw typed(err);
    }
  }
  if (typeof input !== 'string') {
    throw new ConfigError(`input must be a file path or a Uint8Array/Buffer, got ${input === null ? 'null' : typeof input}`, { path: 'input' });
  }
  return decodeAudioFile(input, options, opts);
}

async function decodeAudioFile(filePath: string, options: DecodeAudioOptions, opts: ReaderOptions): Promise<DecodedAudioFile> {
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InvalidInputError(`audio file not found: ${filePath}`, { file: filePath, cause: err });
    if (code === 'EISDIR') throw new InvalidInputError(`${filePath} is a directory, not an audio file`, { file: filePath, cause: err });
    throw new IoError(`cannot open ${filePath}: ${(err as Error).message}`, { file: filePath, cause: err, details: { errno: code } });
  }
  let wav = false;
  try {
    if (!fs.fstatSync(fd).isFile()) throw new InvalidInputError(`${filePath} is not a regular file`, { file: filePath });
    const src = new FileSource(fd);
    const container = sniffAudioContainer(new Uint8Array(src.read(0, Math.min(SNIFF_BYTES, src.size))));
    wav = container === 'wav';
    if (!wav) return fromReader(container, await READERS[container as Exclude<AudioContainer, 'wav'>](src, opts));
  } catch (err) {
    throw typed(err, filePath);
  } finally {
    fs.closeSync(fd);
  }
  try {
    return fromWav(decodeWavFile(filePath, options));
  } catch (err) {
    throw typed(err, filePath);
  }
}
