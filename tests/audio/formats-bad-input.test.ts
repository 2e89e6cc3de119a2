/**
 * Bad compressed audio gets the same kind of typed errors as bad WAV: empty, unrecognised, recognised but
 * unsupported, truncated, garbage after the magic bytes, corrupt in the middle, over the duration limit
 * (refused from the container's stated length, before decoding), and headers that claim huge sizes (never
 * trusted with memory). Through audio/cnn the errors name the sample and the field; from a path, the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, LimitExceededError, UnsupportedFormatError, createRng, encoders, isMmfuseError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { decodeAudio } from '@mmfuse/audio';
import { ffmpeg, run, sweep, writeWav } from './format-files.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-audio-bad-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Kind = 'mp3' | 'flac' | 'ogg' | 'opus' | 'webm' | 'live.webm';
const files: Record<string, Uint8Array> = {};
const make: Record<Kind, string[]> = {
  mp3: ['-c:a', 'libmp3lame', '-b:a', '64k'],
  flac: ['-c:a', 'flac'],
  ogg: ['-c:a', 'libvorbis'],
  opus: ['-c:a', 'libopus'],
  webm: ['-c:a', 'libopus', '-f', 'webm'],
  'live.webm': ['-c:a', 'libopus', '-f', 'webm', '-live', '1'],
};

beforeAll(() => {
  const wav = path.join(tmp, 'src.wav');
  writeWav(wav, [sweep(16000, 1, 200, 4000, 0.5), sweep(16000, 1, 3000, 300, 0.5)], 16000);
  const long = path.join(tmp, 'long.wav');
  writeWav(long, [sweep(16000, 5, 200, 4000, 0.5)], 16000);
  for (const [kind, args] of Object.entries(make)) {
    for (const [name, input] of [[kind, wav], [`long.${kind}`, long]] as const) {
      const out = path.join(tmp, `${name}.${kind === 'live.webm' ? 'webm' : kind}`);
      ffmpeg(['-i', input, ...args, out]);
      files[name] = readFileSync(out);
    }
  }
});

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

async function expectError(p: Promise<unknown>, cls: abstract new (...args: never[]) => Error, pattern: RegExp): Promise<void> {
  const err = await errorOf(p);
  expect(err, `${err.message}`).toBeInstanceOf(cls);
  expect(err.message).toMatch(pattern);
}

function withBytes(bytes: Uint8Array, at: number, patch: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes);
  out.set(Array.from(patch), at);
  return out;
}

/** Offset of the last "OggS" page. */
function lastOggPage(b: Uint8Array): number {
  for (let i = b.length - 4; i >= 0; i--) if (b[i] === 0x4f && b[i + 1] === 0x67 && b[i + 2] === 0x67 && b[i + 3] === 0x53) return i;
  throw new Error('no page');
}

/** Ogg's CRC-32 (polynomial 0x04C11DB7, no reflection), to rewrite a page the test has edited. */
function fixOggCrc(b: Uint8Array, at: number): void {
  const segments = b[at + 26] as number;
  let body = 0;
  for (let i = 0; i < segments; i++) body += b[at + 27 + i] as number;
  const page = b.subarray(at, at + 27 + segments + body);
  page.fill(0, 22, 26);
  let crc = 0;
  for (const byte of page) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = (crc & 0x80000000) !== 0 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  new DataView(page.buffer, page.byteOffset).setUint32(22, crc >>> 0, true);
}

describe('decodeAudio: unrecognised and unsupported data', () => {
  it('zero bytes, text, an image: InvalidInputError naming what the data starts with', async () => {
    await expectError(decodeAudio(new Uint8Array(0)), InvalidInputError, /the audio data is empty \(0 bytes\)/);
    await expectError(decodeAudio(new TextEncoder().encode('hello, this is not audio')), InvalidInputError, /not an audio file mmfuse reads \(WAV, MP3, FLAC, Ogg Vorbis\/Opus, WebM Opus\): it starts with bytes 68 65 6c 6c \("hell"\)/);
    await expectError(decodeAudio(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10])), InvalidInputError, /starts with bytes 89 50 4e 47 \("\.PNG"\)/);
    const empty = path.join(tmp, 'empty.mp3');
    writeFileSync(empty, new Uint8Array(0));
    const err = await errorOf(decodeAudio(empty));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(isMmfuseError(err) && err.file).toBe(empty);
  });

  it('MP4/AAC, ADTS AAC, AIFF, FLAC in Ogg, Vorbis in WebM and chained Ogg: UnsupportedFormatError naming the format', async () => {
    const wav = path.join(tmp, 'src.wav');
    const conv = (name: string, ...args: string[]): Uint8Array => {
      const out = path.join(tmp, name);
      ffmpeg(['-i', wav, ...args, out]);
      return readFileSync(out);
    };
    await expectError(decodeAudio(conv('a.m4a', '-c:a', 'aac')), UnsupportedFormatError, /MP4\/M4A .* not supported; convert it to WAV, MP3, FLAC, Ogg/);
    await expectError(decodeAudio(conv('a.aac', '-c:a', 'aac', '-f', 'adts')), UnsupportedFormatError, /AAC \(ADTS stream\)/);
    await expectError(decodeAudio(conv('a.aiff', '-f', 'aiff')), UnsupportedFormatError, /AIFF/);
    await expectError(decodeAudio(conv('flac.oga', '-c:a', 'flac', '-f', 'ogg')), UnsupportedFormatError, /the Ogg file holds FLAC, not Opus or Vorbis/);
    await expectError(decodeAudio(conv('vorbis.webm', '-c:a', 'libvorbis', '-f', 'webm')), UnsupportedFormatError, /WebM audio codec "A_VORBIS" is not supported/);
    const opus = files.opus as Uint8Array;
    const chained = new Uint8Array(opus.length * 2);
    chained.set(opus, 0);
    chained.set(opus, opus.length);
    await expectError(decodeAudio(chained), UnsupportedFormatError, new RegExp(`chained Ogg: a second stream starts at byte ${opus.length}`));
  });
});

describe('decodeAudio: truncated, corrupt and lying files', () => {
  const truncated: [Kind, RegExp][] = [
    ['mp3', /truncated MP3: frame \d+ at byte \d+ needs \d+ bytes but only \d+ remain/],
    ['flac', /truncated or corrupt FLAC: STREAMINFO declares 16000 samples \(1\.00 s\) but only \d+ \(0\.\d\d s\) decode/],
    ['ogg', /truncated Ogg: page \d+ at byte \d+ (claims \d+ bytes but only \d+ remain|is cut off inside its (lacing table|27-byte header))/],
    ['opus', /truncated Ogg: page \d+ at byte \d+ (claims \d+ bytes but only \d+ remain|is cut off inside its (lacing table|27-byte header))/],
    ['webm', /truncated WebM: (Cluster|element 0x[0-9A-F]+ in the Cluster) at byte \d+ (claims \d+ bytes but only \d+ remain|is cut off)/],
    ['live.webm', /truncated WebM: (Cluster|element 0x[0-9A-F]+ in the Cluster) at byte \d+ (claims \d+ bytes but only \d+ remain|is cut off)/],
  ];
  for (const [kind, pattern] of truncated) {
    it(`${kind} cut short: InvalidInputError saying where`, async () => {
      const bytes = files[kind] as Uint8Array;
      // Cut inside a frame/page/block: half-way, then one byte more if that happened to be a boundary.
      await expectError(decodeAudio(bytes.subarray(0, Math.floor(bytes.length * 0.6) + 1)), InvalidInputError, pattern);
    });
  }

  it('a file cut inside its first header', async () => {
    await expectError(decodeAudio((files.flac as Uint8Array).subarray(0, 20)), InvalidInputError, /truncated FLAC: metadata block 0 \(STREAMINFO\) at byte 4 claims 34 bytes but only 12 remain/);
    await expectError(decodeAudio((files.opus as Uint8Array).subarray(0, 20)), InvalidInputError, /truncated Ogg: page 0 at byte 0 is cut off inside its 27-byte header/);
    await expectError(decodeAudio((files.webm as Uint8Array).subarray(0, 10)), InvalidInputError, /truncated WebM: the EBML header at byte 0 claims \d+ bytes but only \d+ remain/);
    await expectError(decodeAudio((files.mp3 as Uint8Array).subarray(0, 3)), InvalidInputError, /truncated MP3: the ID3v2 tag at byte 0 is cut off/);
  });

  it('an Ogg stream that ends without its end-of-stream page (cut at a page boundary)', async () => {
    const b = files.opus as Uint8Array;
    await expectError(decodeAudio(b.subarray(0, lastOggPage(b))), InvalidInputError, /truncated Ogg: the Opus stream stops after page \d+ without its end-of-stream page/);
  });

  const garbage = createRng(5).fork('garbage');
  const noise = Uint8Array.from({ length: 3000 }, () => Math.floor(garbage.uniform() * 256));
  const magic: [string, number[]][] = [
    ['FLAC', [0x66, 0x4c, 0x61, 0x43]],
    ['Ogg', [0x4f, 0x67, 0x67, 0x53]],
    ['WebM', [0x1a, 0x45, 0xdf, 0xa3]],
    ['MP3 (ID3)', [0x49, 0x44, 0x33]],
    ['MP3 (frame header)', [0xff, 0xfb, 0x90, 0x64]],
  ];
  for (const [name, head] of magic) {
    it(`${name} magic bytes followed by garbage: InvalidInputError`, async () => {
      const bytes = new Uint8Array(head.length + noise.length);
      bytes.set(head, 0);
      bytes.set(noise, head.length);
      await expectError(decodeAudio(bytes), InvalidInputError, /corrupt|truncated|no MPEG audio frame|not an MPEG frame header|does not start/);
    });
  }

  it('corruption in the middle: an Ogg page fails its CRC, an MP3 loses a frame header', async () => {
    const ogg = files.ogg as Uint8Array;
    await expectError(decodeAudio(withBytes(ogg, Math.floor(ogg.length / 2), [0x55, 0xaa])), InvalidInputError, /corrupt Ogg: page \d+ at byte \d+ fails its CRC check/);
    // A frame header in the middle (positions from ffprobe) loses its sync word.
    const mp3Path = path.join(tmp, 'mp3.mp3');
    const positions = run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pos', '-of', 'csv=p=0', mp3Path]).toString().trim().split('\n').map(Number);
    const at = positions[Math.floor(positions.length / 2)] as number;
    await expectError(decodeAudio(withBytes(files.mp3 as Uint8Array, at, [0x00])), InvalidInputError, new RegExp(`corrupt MP3: byte ${at} \\(after frame \\d+\\) is not an MPEG frame header`));
    // A FLAC frame with flipped bits fails libFLAC's CRC and the frames no longer add up to STREAMINFO's total.
    const flac = files.flac as Uint8Array;
    await expectError(decodeAudio(withBytes(flac, Math.floor(flac.length * 0.7), [0x12, 0x34])), InvalidInputError, /truncated or corrupt FLAC: STREAMINFO declares 16000 samples/);
  });

  it('huge declared sizes are refused from the bytes that exist, never allocated', async () => {
    // FLAC STREAMINFO claiming 2^36 - 1 samples (about 18 days at 44.1 kHz), no duration limit.
    const flac = withBytes(files.flac as Uint8Array, 21, [0x0f | ((files.flac as Uint8Array)[21] as number & 0xf0), 0xff, 0xff, 0xff, 0xff]);
    await expectError(decodeAudio(flac), InvalidInputError, /truncated or corrupt FLAC: STREAMINFO declares 68719476735 samples/);
    // WebM Segment claiming 2^40 bytes (1 TiB).
    const webm = files.webm as Uint8Array;
    const seg = webm.findIndex((_, i) => webm[i] === 0x18 && webm[i + 1] === 0x53 && webm[i + 2] === 0x80 && webm[i + 3] === 0x67);
    await expectError(decodeAudio(withBytes(webm, seg + 4, [0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00])), InvalidInputError, /truncated WebM: the Segment at byte \d+ claims 1099511627776 bytes/);
    // Ogg last granule position of 2^50 (CRC rewritten, so only the length lies).
    const opus = new Uint8Array(files.opus as Uint8Array);
    const last = lastOggPage(opus);
    opus.set([0, 0, 0, 0, 0, 0, 4, 0], last + 6);
    fixOggCrc(opus, last);
    await expectError(decodeAudio(opus), InvalidInputError, /truncated Ogg Opus: the container states \d+ samples \(\d+\.\d+ s\) but the packets hold only \d+/);
    // An ID3v2 tag claiming 256 MiB.
    await expectError(decodeAudio(withBytes(files.mp3 as Uint8Array, 6, [0x7f, 0x7f, 0x7f, 0x7f])), InvalidInputError, /the ID3v2 tag at byte 0 claims 268435465 bytes but only \d+ remain/);
  });
});

describe('decodeAudio: the duration limit', () => {
  const over: [Kind, RegExp][] = [
    ['flac', /the audio lasts 5\.00 s \(FLAC STREAMINFO\), over the limit of 2 s/],
    ['ogg', /the audio lasts 5\.00 s \(last Ogg Vorbis granule position\), over the limit of 2 s/],
    ['opus', /the audio lasts 5\.00 s \(last Ogg Opus granule position\), over the limit of 2 s/],
    ['webm', /the audio lasts 5\.0\d s \(the WebM Info duration\), over the limit of 2 s/],
    ['live.webm', /the audio lasts more than 2 s \(the limit; found at block \d+ at byte \d+\)/],
    ['mp3', /the audio lasts 5\.0\d s \(\d+ MPEG frames\), over the limit of 2 s/],
  ];
  for (const [kind, pattern] of over) {
    it(`${kind}: LimitExceededError from the container, before decoding`, async () => {
      const long = files[`long.${kind}`] as Uint8Array;
      await expectError(decodeAudio(long, { maxDurationSeconds: 2 }), LimitExceededError, pattern);
      expect((await decodeAudio(long, { maxDurationSeconds: 5.1, sampleRateHz: 8000 })).durationSeconds).toBeCloseTo(5, 1);
    });
  }

  it('a stated length over the limit wins over data that is cut short (so it was checked first)', async () => {
    // 5 s stated in STREAMINFO / the WebM Info, but only a third of the data is there.
    const flac = files['long.flac'] as Uint8Array;
    await expectError(decodeAudio(flac.subarray(0, Math.floor(flac.length / 3)), { maxDurationSeconds: 2 }), LimitExceededError, /5\.00 s \(FLAC STREAMINFO\)/);
    const webm = files['long.webm'] as Uint8Array;
    await expectError(decodeAudio(webm.subarray(0, Math.floor(webm.length / 3)), { maxDurationSeconds: 2 }), LimitExceededError, /\(the WebM Info duration\)/);
  });
});

describe('errors through audio/cnn name the sample and the field', () => {
  let enc: ModalityEncoder;
  beforeAll(async () => {
    await import('@mmfuse/audio');
    enc = encoders.create('audio/cnn', { nMels: 20, channels: [4] }) as ModalityEncoder;
  });

  it('bytes and paths of every format: prepared, or refused with the location', async () => {
    const ctx = { sample: 'clip-3', field: 'voice' };
    for (const kind of Object.keys(make) as Kind[]) {
      const ok = (await enc.prepare(files[kind], ctx)) as { frames: number };
      expect(ok.frames, kind).toBeGreaterThan(90); // 1 s at a 10 ms hop
      const bytes = files[kind] as Uint8Array;
      await expect(enc.prepare(bytes.subarray(0, Math.floor(bytes.length * 0.6) + 1), ctx)).rejects.toThrow(/^sample "clip-3", field "voice": truncated/);
      await expect(enc.prepare(files[`long.${kind}`], ctx)).resolves.toBeDefined();
    }
    const cut = path.join(tmp, 'cut.opus');
    writeFileSync(cut, (files.opus as Uint8Array).subarray(0, 500));
    const err = await errorOf(enc.prepare(cut, { ...ctx, baseDir: undefined }));
    expect(err.message).toMatch(new RegExp(`^${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, sample "clip-3", field "voice": truncated Ogg`));
    const limited = encoders.create('audio/cnn', { nMels: 20, channels: [4], maxDurationSeconds: 2 }) as ModalityEncoder;
    await expect(limited.prepare(files['long.mp3'], ctx)).rejects.toThrow(/^sample "clip-3", field "voice": the audio lasts 5\.0\d s/);
  });
});
