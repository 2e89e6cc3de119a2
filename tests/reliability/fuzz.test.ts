// Property tests: random and mutated bytes into WAV decoding and image preparation. Whatever the bytes, the
// decoders either return finite values of the promised shape or throw a typed MmfuseError with a known
// code; they never crash, hang (each case has a generous hang limit, never a speed check) or throw
// anything else, and leave no tensor behind. Work that must stay bounded is counted, not timed.
// (Random JSON to the manifest reader: manifest-fuzz.test.ts; to the server: tests/cli/server.test.ts.)
import fc from 'fast-check';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encoders, isMmfuseError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { decodeWav } from '@mmfuse/audio';
import { loadImage } from '@mmfuse/vision-cnn';
import { float32Bytes, pcm16, rawWav, sine } from '../audio/wav-writer.js';
import { encode, solid } from '../vision/helpers.js';
import { mutate, mutation } from './mutate.js';

const TYPED = ['INVALID_INPUT', 'UNSUPPORTED_FORMAT', 'LIMIT_EXCEEDED'];
/**
 * Longest a single decode may take before it counts as a hang. Hang detection only: far above anything a
 * loaded machine needs, so no case fails by slowness (bounded work is checked by counting it).
 */
const HANG_MILLIS = 300_000;

/** Run `fn`; fail if it takes longer than HANG_MILLIS, whether it is synchronous or not. */
async function timed<T>(what: string, fn: () => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer after ${HANG_MILLIS} ms (hang)`)), HANG_MILLIS); });
  try {
    const value = await Promise.race([Promise.resolve().then(fn), hang]);
    return { ok: true, value };
  } catch (error) {
    if (error instanceof Error && /\(hang\)$/.test(error.message)) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
    const ms = performance.now() - t0;
    if (ms > HANG_MILLIS) throw new Error(`${what} took ${ms.toFixed(0)} ms (hang)`);
  }
}

function expectTyped(error: unknown, what: string): void {
  expect(isMmfuseError(error), `${what} threw an untyped ${String(error)}`).toBe(true);
  expect(TYPED, `${what}: ${(error as Error).message}`).toContain((error as { code: string }).code);
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) return false;
  return true;
}

function pcm24(s: Float32Array): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  s.forEach((x, i) => { const v = Math.round(x * 8388607); out[i * 3] = v & 0xff; out[i * 3 + 1] = (v >> 8) & 0xff; out[i * 3 + 2] = (v >> 16) & 0xff; });
  return out;
}

const wavBases: Uint8Array[] = [
  rawWav({ data: pcm16([sine(440, 16000, 0.2)]) }),
  rawWav({ formatTag: 3, bitsPerSample: 32, data: float32Bytes([sine(300, 8000, 0.2)]), sampleRate: 8000 }),
  rawWav({ channels: 2, sampleRate: 44100, data: pcm16([sine(440, 44100, 0.1), sine(660, 44100, 0.1)]) }),
  rawWav({ bitsPerSample: 24, data: pcm24(sine(200, 16000, 0.2)) }),
  rawWav({ formatTag: 7, bitsPerSample: 8, sampleRate: 8000, data: new Uint8Array(1600).map((_, i) => (i * 37) & 0xff) }),
  rawWav({ data: pcm16([sine(440, 16000, 0.1)]), extraChunks: [{ id: 'LIST', body: new Uint8Array(10).fill(65) }] }),
];

let audioEncoder: ModalityEncoder;
let imageEncoder: ModalityEncoder;
let imageBases: Uint8Array[];

beforeAll(async () => {
  await import('@mmfuse/audio');
  await import('@mmfuse/vision-cnn');
  audioEncoder = encoders.create('audio/cnn', { sampleRateHz: 16000, features: 'log-mel', nMels: 20, channels: [4] }) as ModalityEncoder;
  imageEncoder = encoders.create('image/cnn', { width: 16, height: 16, blocks: [4] }) as ModalityEncoder;
  const px = solid(12, 10, [200, 40, 40]);
  imageBases = [
    await encode(px, 12, 10, 3, 'png'),
    await encode(px, 12, 10, 3, 'jpeg'),
    await encode(new Uint8Array(12 * 10 * 2).map((_, i) => (i * 13) & 0xff), 12, 10, 2, 'png'),
    await sharp(Buffer.from(px), { raw: { width: 12, height: 10, channels: 3 } }).toColourspace('rgb16').png().toBuffer(),
    await sharp(Buffer.from(px), { raw: { width: 12, height: 10, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  ];
});

describe('WAV decoding under mutated and random bytes', () => {
  it('decodeWav and audio/cnn prepare return finite audio or a typed error', async () => {
    const before = tf.memory().numTensors;
    let decoded = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: wavBases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (which, mutations) => {
        const bytes = mutate(wavBases[which] as Uint8Array, mutations);
        const d = await timed('decodeWav', () => decodeWav(bytes, { sampleRateHz: 16000, maxDurationSeconds: 30 }));
        if (d.ok) {
          decoded++;
          expect(d.value.sampleRateHz).toBe(16000);
          expect(d.value.channels).toHaveLength(1);
          expect(allFinite(d.value.channels[0] as Float32Array)).toBe(true);
        } else expectTyped(d.error, 'decodeWav');
        const p = await timed('audio prepare', () => audioEncoder.prepare(bytes, { sample: 'fuzz', field: 'audio' }));
        if (p.ok) expect(allFinite((p.value as { features: Float32Array }).features)).toBe(true);
        else {
          expectTyped(p.error, 'audio prepare');
          expect(p.error).toMatchObject({ sample: 'fuzz', field: 'audio' });
        }
      }),
      { numRuns: 400, seed: 9001 },
    );
    // The mutations are not all fatal: some files still decode (so the success branch is tested too).
    expect(decoded).toBeGreaterThan(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('decodes a WAV at an odd (prime) sample rate to 16 kHz with bounded work', async () => {
    // The resampling table of coprime rates used to be built over every tap of every phase: O(to * from)
    // work (16000 x ~1e6 window evaluations for 999983 Hz, minutes); a flipped header byte was enough to
    // tie a server up. The work is counted, not timed: each tap of the table evaluates one Hann window
    // (Math.cos), and the bounded table needs about 12 M of them. Past a budget of 60 M the count throws,
    // so the old algorithm fails this test in seconds on any machine, and a loaded machine never does.
    const bytes = rawWav({ sampleRate: 999_983, data: pcm16([sine(1000, 999_983, 0.05)]) });
    const cos = Math.cos;
    let calls = 0;
    Math.cos = (x: number): number => {
      if (++calls > 60_000_000) throw new Error('resampling table work is unbounded: over 60 M window evaluations');
      return cos(x);
    };
    let d: Awaited<ReturnType<typeof timed<ReturnType<typeof decodeWav>>>>;
    try {
      d = await timed('decodeWav 999983 Hz', () => decodeWav(bytes, { sampleRateHz: 16000 }));
    } finally {
      Math.cos = cos;
    }
    if (!d.ok) throw d.error;
    expect(calls).toBeGreaterThan(1_000_000); // the table was built here (not served from a cache)
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.value.channels[0]).toHaveLength(800);
      expect(allFinite(d.value.channels[0] as Float32Array)).toBe(true);
    }
    // A rate no recording uses is a corrupt header, refused before any work.
    const absurd = await timed('decodeWav 2 GHz', () => decodeWav(rawWav({ sampleRate: 2_000_000_000, data: pcm16([sine(1000, 16000, 0.05)]) }), { sampleRateHz: 16000 }));
    expect(absurd.ok).toBe(false);
    if (!absurd.ok) expect((absurd.error as Error).message).toMatch(/sample rate of 2000000000 Hz, above the 1 MHz/);
  });

  it('random bytes, with and without a RIFF/WAVE header in front, give only typed errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (tail, header) => {
        const bytes = header ? Uint8Array.from([...Buffer.from('RIFF'), tail.length & 0xff, 0, 0, 0, ...Buffer.from('WAVEfmt '), ...tail]) : tail;
        const d = await timed('decodeWav', () => decodeWav(bytes));
        if (d.ok) expect(d.value.channels.every(allFinite)).toBe(true);
        else expectTyped(d.error, 'decodeWav');
      }),
      { numRuns: 300, seed: 4242 },
    );
  });
});

describe('image preparation under mutated and random bytes', () => {
  it('loadImage and image/cnn prepare return a finite image of the asked size or a typed error', async () => {
    const before = tf.memory().numTensors;
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 4 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (which, mutations) => {
        const bytes = mutate(imageBases[which] as Uint8Array, mutations);
        const l = await timed('loadImage', () => loadImage(bytes, { width: 16, height: 16, channels: 3 }));
        if (l.ok) {
          loaded++;
          expect([l.value.width, l.value.height, l.value.channels]).toEqual([16, 16, 3]);
          expect(l.value.data).toHaveLength(16 * 16 * 3);
          expect(allFinite(l.value.data)).toBe(true);
        } else expectTyped(l.error, 'loadImage');
        const p = await timed('image prepare', () => imageEncoder.prepare(bytes, { sample: 'fuzz', field: 'image' }));
        if (!p.ok) {
          expectTyped(p.error, 'image prepare');
          expect(p.error).toMatchObject({ sample: 'fuzz', field: 'image' });
        }
      }),
      { numRuns: 200, seed: 77 },
    );
    expect(loaded).toBeGreaterThan(5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('random bytes behind image signatures give only typed errors', async () => {
    const signatures = [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0xff, 0xd8, 0xff], [0x47, 0x49, 0x46, 0x38, 0x39, 0x61], [0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50], []];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: signatures.length - 1 }), fc.uint8Array({ maxLength: 200 }), async (s, tail) => {
        const bytes = Uint8Array.from([...(signatures[s] as number[]), ...tail]);
        const l = await timed('loadImage', () => loadImage(bytes, { width: 8, height: 8 }));
        if (l.ok) expect(allFinite(l.value.data)).toBe(true);
        else expectTyped(l.error, 'loadImage');
      }),
      { numRuns: 150, seed: 31337 },
    );
  });
});
