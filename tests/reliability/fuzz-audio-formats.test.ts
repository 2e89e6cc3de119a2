// Property tests for the compressed audio formats (the WAV and image cases are in fuzz.test.ts): mutated
// MP3, FLAC, Ogg Vorbis, Ogg Opus and WebM files, and random bytes behind each format's magic bytes, go
// through the WebAssembly decoders via decodeAudio and audio/cnn prepare. Whatever the bytes, the result
// is finite audio of the promised shape or a typed MmfuseError with a known code, never another
// exception; no tensor is left behind. Runs are bounded (a fixed count per property, small files); no
// timing is asserted.
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encoders, isMmfuseError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { decodeAudio } from '@mmfuse/audio';
import { toneFixture } from '../audio/format-files.js';
import { mutate, mutation } from './mutate.js';

const TYPED = ['INVALID_INPUT', 'UNSUPPORTED_FORMAT', 'LIMIT_EXCEEDED'];
const FORMATS = ['mp3', 'flac', 'ogg', 'opus', 'webm'] as const;
const bases = FORMATS.map((f) => toneFixture(f));

function expectTyped(error: unknown, what: string): void {
  expect(isMmfuseError(error), `${what} threw an untyped ${String(error)}`).toBe(true);
  expect(TYPED, `${what}: ${(error as Error).message}`).toContain((error as { code: string }).code);
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) return false;
  return true;
}

async function outcome<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

let audioEncoder: ModalityEncoder;
beforeAll(async () => {
  await import('@mmfuse/audio');
  audioEncoder = encoders.create('audio/cnn', { sampleRateHz: 16000, features: 'log-mel', nMels: 20, channels: [4], maxDurationSeconds: 30 }) as ModalityEncoder;
});

describe('compressed audio under mutated and random bytes', () => {
  it('mutated MP3/FLAC/Ogg/WebM files: decodeAudio and audio/cnn prepare give finite audio or a typed error', async () => {
    const before = tf.memory().numTensors;
    const decoded: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (which, mutations) => {
        const format = FORMATS[which] as string;
        const bytes = mutate(bases[which] as Uint8Array, mutations);
        const d = await outcome(() => decodeAudio(bytes, { sampleRateHz: 16000, maxDurationSeconds: 30 }));
        if (d.ok) {
          decoded[format] = (decoded[format] ?? 0) + 1;
          expect(d.value.sampleRateHz).toBe(16000);
          expect(d.value.channels).toHaveLength(1);
          expect(allFinite(d.value.channels[0] as Float32Array)).toBe(true);
          expect(d.value.channels[0]?.length).toBe(Math.ceil(d.value.durationSeconds * 16000 - 1e-6));
        } else expectTyped(d.error, `decodeAudio(${format})`);
        const p = await outcome(() => audioEncoder.prepare(bytes, { sample: 'fuzz', field: 'audio' }));
        if (p.ok) expect(allFinite((p.value as { features: Float32Array }).features)).toBe(true);
        else {
          expectTyped(p.error, `audio prepare(${format})`);
          expect(p.error).toMatchObject({ sample: 'fuzz', field: 'audio' });
        }
      }),
      { numRuns: 300, seed: 1515 },
    );
    // Not every mutation is fatal (a flipped bit inside compressed audio decodes to different audio), so
    // the success branch runs too.
    expect(Object.values(decoded).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('random bytes behind each format\'s magic bytes give only typed errors', async () => {
    const magics = [[0x66, 0x4c, 0x61, 0x43], [0x4f, 0x67, 0x67, 0x53, 0], [0x1a, 0x45, 0xdf, 0xa3], [0x49, 0x44, 0x33, 3, 0], [0xff, 0xfb, 0x90, 0x64]];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: magics.length - 1 }), fc.uint8Array({ maxLength: 400 }), async (which, tail) => {
        const bytes = Uint8Array.from([...(magics[which] as number[]), ...tail]);
        const d = await outcome(() => decodeAudio(bytes, { maxDurationSeconds: 30 }));
        if (d.ok) expect(d.value.channels.every(allFinite)).toBe(true);
        else expectTyped(d.error, 'decodeAudio');
      }),
      { numRuns: 300, seed: 2727 },
    );
  });
});
