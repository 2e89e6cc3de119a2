/** Turn a raw audio field value (path, audio file bytes, or samples + rate) into mono samples at one rate. */
import * as fs from 'node:fs';
import { InvalidInputError, LimitExceededError, describeValue, resolveDataPath } from '@mmfuse/core/base';
import type { PrepareContext } from '@mmfuse/core/base';
import { decodeAudio } from '../decode-audio.js';
import { resample } from '../resample.js';

/** Raw values `audio/cnn` accepts. */
export type AudioInput = string | Uint8Array | { samples: Float32Array; sampleRateHz: number };

/** Containers are sniffed from the bytes (WAV decodes synchronously, as before; the others in WebAssembly). */
export async function loadAudio(raw: unknown, ctx: PrepareContext, sampleRateHz: number, maxDurationSeconds: number): Promise<Float32Array> {
  const loc = { sample: ctx.sample, field: ctx.field };
  if (typeof raw === 'string') {
    const file = ctx.baseDir !== undefined
      ? resolveDataPath(ctx.baseDir, raw, { ...loc, allowOutside: ctx.allowOutsideBaseDir ?? false })
      : raw;
    if (!fs.existsSync(file)) throw new InvalidInputError(`audio file ${JSON.stringify(raw)} does not exist (looked for ${file})`, { ...loc, file });
    return (await decodeAudio(file, { sampleRateHz, maxDurationSeconds })).channels[0] as Float32Array;
  }
  if (raw instanceof Uint8Array) return (await decodeAudio(raw, { sampleRateHz, maxDurationSeconds })).channels[0] as Float32Array;
  if (raw !== null && typeof raw === 'object' && 'samples' in raw) {
    const { samples, sampleRateHz: rate } = raw as { samples: unknown; sampleRateHz: unknown };
    if (!(samples instanceof Float32Array)) throw new InvalidInputError(`samples must be a Float32Array, got ${describeValue(samples)}`, loc);
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate <= 0) throw new InvalidInputError(`sampleRateHz must be a positive integer, got ${describeValue(rate)}`, loc);
    const duration = samples.length / rate;
    if (duration > maxDurationSeconds) throw new LimitExceededError(`the audio lasts ${duration.toFixed(2)} s, over the limit of ${maxDurationSeconds} s; trim it or raise maxDurationSeconds`, loc);
    return resample(samples, rate, sampleRateHz);
  }
  throw new InvalidInputError(`expected an audio file path, audio file bytes (Uint8Array/Buffer: WAV, MP3, FLAC, Ogg Vorbis/Opus or WebM Opus) or { samples: Float32Array, sampleRateHz }, got ${describeValue(raw)}`, loc);
}
