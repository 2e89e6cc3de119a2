import { ConfigError, InvalidInputError } from '@mmfuse/core/base';
import { checkSamples } from './internal/check.js';
import { checkInteger } from '@mmfuse/core/base';
import type { Samples } from './types.js';

/** Options of `encodeWav`. */
export interface EncodeWavOptions {
  /** Sample rate written in the header, Hz. */
  sampleRateHz: number;
  /** `pcm16` (16-bit integer PCM, the most widely read) or `float32` (IEEE float). Default `pcm16`. */
  encoding?: 'pcm16' | 'float32';
}

/**
 * A mono WAV file (RIFF, `fmt ` + `data` chunks) holding `samples`.
 * @param samples `[numSamples]` in [-1, 1] for `pcm16`: a sample outside is refused, never clipped
 *   (scale the signal first, e.g. with `gain`); PCM values are `round(x * 32767)`.
 * @returns the file's bytes.
 * @throws InvalidInputError for NaN/Infinity or (pcm16) out-of-range samples; ConfigError for bad options.
 */
export function encodeWav(samples: Samples, options: EncodeWavOptions): Uint8Array {
  checkSamples(samples);
  if (options === null || typeof options !== 'object') throw new ConfigError('options with sampleRateHz are required', { path: 'options' });
  const rate = checkInteger(options.sampleRateHz, 'sampleRateHz', 1, 0xffffffff);
  const encoding = options.encoding ?? 'pcm16';
  if (encoding !== 'pcm16' && encoding !== 'float32') throw new ConfigError(`must be "pcm16" or "float32", got ${JSON.stringify(encoding)}`, { path: 'encoding' });
  const bytesPer = encoding === 'pcm16' ? 2 : 4;
  const n = samples.length;
  const dataBytes = n * bytesPer;
  if (dataBytes + 36 > 0xffffffff) throw new ConfigError(`${n} samples do not fit a WAV file (4 GiB)`, { path: 'samples' });
  const buf = new ArrayBuffer(44 + dataBytes);
  const view = new DataView(buf);
  const ascii = (offset: number, s: string): void => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, encoding === 'pcm16' ? 1 : 3, true); // 1 = PCM, 3 = IEEE float
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * bytesPer, true);
  view.setUint16(32, bytesPer, true);
  view.setUint16(34, bytesPer * 8, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  if (encoding === 'float32') {
    for (let i = 0; i < n; i++) view.setFloat32(44 + 4 * i, samples[i] as number, true);
  } else {
    for (let i = 0; i < n; i++) {
      const x = samples[i] as number;
      if (x > 1 || x < -1) throw new InvalidInputError(`samples[${i}] is ${x}, outside [-1, 1]; scale the signal before writing 16-bit PCM`, { details: { index: i } });
      view.setInt16(44 + 2 * i, Math.round(x * 32767), true);
    }
  }
  return new Uint8Array(buf);
}
