/**
 * The bad-input corpus: one table of inputs mmfuse must refuse (each with the error code and a reason it must
 * give) and one of valid but unusual inputs it must process. Every file is built here from known bytes and
 * written by `writeCorpus` into `tests/fixtures/bad-inputs/` at test time (git-ignored): no binary is
 * committed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { MmfuseErrorCode } from '@mmfuse/core';
import { float32Bytes, pcm16, rawWav, sine } from '../audio/wav-writer.js';
import { encode, jpegClaiming, pngClaiming, solid } from '../vision/helpers.js';
import { wavBytes, tone, pngBytes } from '../cli/fixtures.js';

export type Route = 'library' | 'server';

export interface BadCase {
  /** Also the sample id in the manifest. */
  name: string;
  /** The manifest field / request field it goes into. */
  field: 'text' | 'audio' | 'image' | 'label' | null;
  /** A file: written as `<name>.<ext>`, referred to by relative path in the manifest, sent as base64 to the server. */
  bytes?: Uint8Array;
  ext?: string;
  /** Otherwise the raw manifest value of `field` (or, with `line`, the whole manifest line). */
  value?: unknown;
  line?: string;
  code: MmfuseErrorCode | MmfuseErrorCode[];
  reason: RegExp;
  /** Where else besides `mmfuse eval` the case applies (paths mean nothing to the server; labels only to eval). */
  routes: Route[];
}

export interface UnusualCase { name: string; field: 'text' | 'audio' | 'image'; bytes?: Uint8Array; ext?: string; value?: string }

const sec = (s: number, rate: number): Float32Array => sine(440, rate, s, 0.5);

/** A 16 kHz mono 16-bit clip with its header fields overridden. */
function lyingWav(over: Partial<Parameters<typeof rawWav>[0]>): Uint8Array {
  return rawWav({ data: pcm16([sec(0.25, 16000)]), ...over });
}

function withNonFinite(v: number): Uint8Array {
  const s = sec(0.25, 16000);
  s[1234] = v;
  return rawWav({ formatTag: 3, bitsPerSample: 32, data: float32Bytes([s]) });
}

/** 8-bit mu-law bytes (G.711) of float samples. */
function muLaw(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  samples.forEach((x, i) => {
    const v = Math.max(-32635, Math.min(32635, Math.round(x * 32767)));
    const sign = v < 0 ? 0x80 : 0;
    const m = Math.abs(v) + 0x84;
    let exp = 7;
    for (let mask = 0x4000; (m & mask) === 0 && exp > 0; mask >>= 1) exp--;
    const mant = (m >> (exp + 3)) & 0x0f;
    out[i] = ~(sign | (exp << 4) | mant) & 0xff;
  });
  return out;
}

function pcm24(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 3);
  samples.forEach((x, i) => {
    const v = Math.round(Math.max(-1, Math.min(1, x)) * 8388607);
    out[i * 3] = v & 0xff; out[i * 3 + 1] = (v >> 8) & 0xff; out[i * 3 + 2] = (v >> 16) & 0xff;
  });
  return out;
}

export async function badCases(): Promise<BadCase[]> {
  const goodWav = wavBytes(tone(440, 0.25, 16000, 1), 16000);
  const goodPng = await pngBytes([220, 40, 40], 16, 1);
  const pngWithLyingIhdr = Buffer.from(goodPng);
  pngWithLyingIhdr.writeUInt32BE(4096, 16); // IHDR width, CRC left as it was
  const both: Route[] = ['library', 'server'];
  return [
    // WAV
    { name: 'wav-zero-bytes', field: 'audio', bytes: new Uint8Array(0), ext: 'wav', code: 'INVALID_INPUT', reason: /empty/, routes: both },
    { name: 'wav-truncated', field: 'audio', bytes: goodWav.subarray(0, 2000), ext: 'wav', code: 'INVALID_INPUT', reason: /truncated WAV file/, routes: both },
    { name: 'wav-header-only', field: 'audio', bytes: goodWav.subarray(0, 30), ext: 'wav', code: 'INVALID_INPUT', reason: /truncated|no "data" chunk|no "fmt " chunk/, routes: both },
    { name: 'wav-riff-size-lies', field: 'audio', bytes: lyingWav({ riffSize: 10_000_000 }), ext: 'wav', code: 'INVALID_INPUT', reason: /RIFF header claims 10000008 bytes/, routes: both },
    { name: 'wav-data-size-lies', field: 'audio', bytes: lyingWav({ dataSize: 0x7ffffff0 }), ext: 'wav', code: 'INVALID_INPUT', reason: /claims \d+ bytes but only \d+ follow/, routes: both },
    { name: 'wav-huge-duration', field: 'audio', bytes: lyingWav({ sampleRate: 8 }), ext: 'wav', code: 'LIMIT_EXCEEDED', reason: /lasts 500\.00 s, over the limit of 30 s/, routes: both },
    { name: 'wav-zero-channels', field: 'audio', bytes: lyingWav({ channels: 0, blockAlign: 2 }), ext: 'wav', code: 'INVALID_INPUT', reason: /zero channels/, routes: both },
    { name: 'wav-absurd-rate', field: 'audio', bytes: lyingWav({ sampleRate: 0x7fff3e80 }), ext: 'wav', code: 'INVALID_INPUT', reason: /sample rate of 2147434112 Hz, above the 1 MHz/, routes: both },
    { name: 'wav-zero-rate', field: 'audio', bytes: lyingWav({ sampleRate: 0 }), ext: 'wav', code: 'INVALID_INPUT', reason: /sample rate of 0 Hz/, routes: both },
    { name: 'wav-nan-sample', field: 'audio', bytes: withNonFinite(Number.NaN), ext: 'wav', code: 'INVALID_INPUT', reason: /sample 1234 .* is NaN; audio samples must be finite/, routes: both },
    { name: 'wav-inf-sample', field: 'audio', bytes: withNonFinite(Number.POSITIVE_INFINITY), ext: 'wav', code: 'INVALID_INPUT', reason: /sample 1234 .* is Infinity/, routes: both },
    { name: 'wav-not-riff', field: 'audio', bytes: Buffer.from('this is plain text, not a WAV file at all'), ext: 'wav', code: 'INVALID_INPUT', reason: /not (a WAV|an audio) file/, routes: both },
    { name: 'wav-is-png', field: 'audio', bytes: goodPng, ext: 'wav', code: 'INVALID_INPUT', reason: /not (a WAV|an audio) file.*: it starts with (bytes 89 50 4e 47 \()?"\.PNG"/, routes: both },
    // Images
    { name: 'img-zero-bytes', field: 'image', bytes: new Uint8Array(0), ext: 'png', code: 'INVALID_INPUT', reason: /empty/, routes: both },
    { name: 'img-truncated-png', field: 'image', bytes: goodPng.subarray(0, Math.floor(goodPng.length / 2)), ext: 'png', code: 'INVALID_INPUT', reason: /png image (is truncated or corrupt|header is corrupt)/, routes: both },
    { name: 'img-header-lies', field: 'image', bytes: pngWithLyingIhdr, ext: 'png', code: 'INVALID_INPUT', reason: /png image (is truncated or corrupt|header is corrupt)/, routes: both },
    { name: 'img-huge-png', field: 'image', bytes: pngClaiming(200_000, 200_000), ext: 'png', code: 'LIMIT_EXCEEDED', reason: /200000×200000 .*over the limit/, routes: both },
    { name: 'img-huge-jpeg', field: 'image', bytes: await jpegClaiming(60_000, 60_000), ext: 'jpg', code: 'LIMIT_EXCEEDED', reason: /60000×60000 .*over the limit/, routes: both },
    { name: 'img-not-image', field: 'image', bytes: Buffer.from('GIF? no: just some words'), ext: 'png', code: 'INVALID_INPUT', reason: /not an image/, routes: both },
    { name: 'img-is-wav', field: 'image', bytes: goodWav, ext: 'png', code: ['INVALID_INPUT', 'UNSUPPORTED_FORMAT'], reason: /not an image|not supported/, routes: both },
    // Text: wrong JSON types
    { name: 'text-number', field: 'text', value: 12, code: 'INVALID_INPUT', reason: /expected (a string|text)/, routes: both },
    { name: 'text-object', field: 'text', value: { words: 'hi' }, code: 'INVALID_INPUT', reason: /expected (a string, got an object|text \(a string\), got an object)/, routes: both },
    { name: 'text-array', field: 'text', value: ['a', 'b'], code: 'INVALID_INPUT', reason: /expected (a string|text)/, routes: both },
    // Paths (manifest and library only: the server takes bytes, not paths)
    { name: 'path-escapes', field: 'audio', value: '../../outside.wav', code: 'INVALID_INPUT', reason: /escapes the data folder/, routes: ['library'] },
    { name: 'path-absolute', field: 'image', value: '/etc/hostname', code: 'INVALID_INPUT', reason: /absolute path "\/etc\/hostname" is not allowed/, routes: ['library'] },
    { name: 'path-missing', field: 'audio', value: 'clips/never-written.wav', code: 'INVALID_INPUT', reason: /does not exist/, routes: ['library'] },
    { name: 'path-nul', field: 'image', value: 'images/a\u0000.png', code: 'INVALID_INPUT', reason: /NUL byte/, routes: ['library'] },
    { name: 'path-wrong-type', field: 'audio', value: 5, code: 'INVALID_INPUT', reason: /expected (a path string|a WAV file path|an audio file path)/, routes: ['library'] },
    { name: 'path-is-folder', field: 'image', value: 'images', code: 'INVALID_INPUT', reason: /not a regular file/, routes: ['library'] },
    // Manifest lines and labels (eval only)
    { name: 'line-not-json', field: null, line: '{"id": "line-not-json", "text": "good day",', code: 'INVALID_INPUT', reason: /not valid JSON/, routes: [] },
    { name: 'line-array', field: null, line: '["good day", "yes"]', code: 'INVALID_INPUT', reason: /must be a JSON object, got (an )?array/, routes: [] },
    { name: 'line-string', field: null, line: '"just a string"', code: 'INVALID_INPUT', reason: /must be a JSON object/, routes: [] },
    { name: 'label-unseen', field: 'label', value: 'maybe', code: 'INVALID_INPUT', reason: /"maybe" was not among the training labels/, routes: [] },
    { name: 'label-wrong-type', field: 'label', value: { yes: true }, code: 'INVALID_INPUT', reason: /expected a label \(string, number, or array of them\), got an object/, routes: [] },
    { name: 'label-missing', field: 'label', value: undefined, code: 'INVALID_INPUT', reason: /required field is missing/, routes: [] },
  ];
}

export async function unusualCases(): Promise<UnusualCase[]> {
  const s16 = sec(0.4, 16000);
  const s8 = sec(0.4, 8000);
  const l = sec(0.3, 44100);
  const r = sine(660, 44100, 0.3, 0.3);
  const grey = new Uint8Array(24 * 16 * 2).map((_, i) => (i % 2 === 1 ? 200 : (i * 5) % 256));
  const rgb16 = await sharp(Buffer.from(solid(16, 16, [200, 30, 30])), { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  const exif = await sharp(Buffer.from(solid(24, 12, [200, 30, 30])), { raw: { width: 24, height: 12, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  return [
    { name: 'wav-pcm24', field: 'audio', bytes: rawWav({ bitsPerSample: 24, data: pcm24(s16) }), ext: 'wav' },
    { name: 'wav-float32', field: 'audio', bytes: rawWav({ formatTag: 3, bitsPerSample: 32, data: float32Bytes([s16]) }), ext: 'wav' },
    { name: 'wav-mulaw-8k', field: 'audio', bytes: rawWav({ formatTag: 7, bitsPerSample: 8, sampleRate: 8000, data: muLaw(s8) }), ext: 'wav' },
    { name: 'wav-stereo-44k', field: 'audio', bytes: rawWav({ channels: 2, sampleRate: 44100, data: pcm16([l, r]) }), ext: 'wav' },
    { name: 'img-png16', field: 'image', bytes: rgb16, ext: 'png' },
    { name: 'img-grey-alpha', field: 'image', bytes: await encode(grey, 24, 16, 2, 'png'), ext: 'png' },
    { name: 'img-exif-rotated', field: 'image', bytes: exif, ext: 'jpg' },
    { name: 'text-cjk', field: 'text', value: '我的信用卡还没到，请帮忙查一下' },
    { name: 'text-rtl', field: 'text', value: 'بطاقتي لم تصل بعد — כרטיס' },
    { name: 'text-emoji', field: 'text', value: 'great 👍🏽 day 👨‍👩‍👧 😀' },
    // Lone surrogates: the text package's documented contract replaces them with U+FFFD (not a refusal).
    { name: 'text-lone-surrogate', field: 'text', value: 'good \uD800 day \uDC00' },
  ];
}

/** The manifest value of a case: a relative path for files. */
export function manifestValue(c: { name: string; bytes?: Uint8Array; ext?: string; value?: unknown }): unknown {
  return c.bytes !== undefined ? `corpus/${c.name}.${c.ext}` : c.value;
}

/** Write every file of the cases into `dir/corpus/`. */
export function writeCorpus(dir: string, cases: ReadonlyArray<{ name: string; bytes?: Uint8Array; ext?: string }>): void {
  mkdirSync(path.join(dir, 'corpus'), { recursive: true });
  for (const c of cases) if (c.bytes !== undefined) writeFileSync(path.join(dir, 'corpus', `${c.name}.${c.ext}`), c.bytes);
}
