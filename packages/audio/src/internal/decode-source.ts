/** The block-wise decoder behind decodeWav and decodeWavFile. */
import { LimitExceededError, checkBoolean, checkInteger, checkNumber } from '@mmfuse/core/base';
import type { DecodeWavOptions, DecodedAudio } from '../types.js';
import type { ByteSource } from './byte-source.js';
import { decodeBlock } from './pcm.js';
import { StreamingResampler } from './resampler.js';
import { readWavHeader } from './wav-header.js';

/** Validate the header, then convert the data chunk block by block into the downmix / resampler. */
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
