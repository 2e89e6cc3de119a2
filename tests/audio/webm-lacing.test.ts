/**
 * The WebM reader against layouts ffmpeg does not write: the Opus packets of an Ogg Opus file re-muxed by
 * a tiny EBML writer here into a live-stream WebM (Segment and Clusters of unknown size, as MediaRecorder
 * writes) with every lacing mode (none, Xiph, EBML, fixed-size), EBML Void elements between blocks, and a
 * final BlockGroup whose DiscardPadding trims the end. The result must decode to exactly the samples of
 * the Ogg file (same packets, same decoder, same trimming).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '@mmfuse/core';
import { decodeAudio } from '@mmfuse/audio';
import { ffmpeg, sweep, writeWav } from './format-files.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-webm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Packets of an Ogg file's single stream, and its last granule position. */
function oggPackets(b: Uint8Array): { packets: Uint8Array[]; lastGranule: number } {
  const packets: Uint8Array[] = [];
  let open: number[] = [];
  let lastGranule = 0;
  for (let at = 0; at < b.length;) {
    const v = new DataView(b.buffer, b.byteOffset + at);
    const granule = v.getUint32(6, true) + v.getUint32(10, true) * 2 ** 32;
    const n = b[at + 26] as number;
    let body = at + 27 + n;
    for (let i = 0; i < n; i++) {
      const l = b[at + 27 + i] as number;
      open.push(...b.subarray(body, body + l));
      body += l;
      if (l < 255) { packets.push(Uint8Array.from(open)); open = []; }
    }
    if (granule !== 2 ** 64 - 1) lastGranule = granule;
    at = body;
  }
  return { packets, lastGranule };
}

function frameSamples(p: Uint8Array): number {
  const config = (p[0] as number) >> 3;
  const size = config < 12 ? [480, 960, 1920, 2880][config % 4]! : config < 16 ? [480, 960][config % 2]! : [120, 240, 480, 960][config % 4]!;
  const code = (p[0] as number) & 3;
  return size * (code === 0 ? 1 : code === 3 ? (p[1] as number) & 0x3f : 2);
}

// --- a minimal EBML writer ---
const cat = (...parts: ArrayLike<number>[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(Array.from(p), at); at += p.length; }
  return out;
};
const size8 = (n: number): number[] => [0x01, ...Array.from({ length: 7 }, (_, i) => Math.floor(n / 2 ** (8 * (6 - i))) & 0xff)];
const UNKNOWN = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const el = (id: number[], ...payload: ArrayLike<number>[]): Uint8Array => { const body = cat(...payload); return cat(id, size8(body.length), body); };
const uint = (id: number[], v: number): Uint8Array => el(id, [v >> 24 & 0xff, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff]);
const text = (id: number[], s: string): Uint8Array => el(id, Array.from(s, (c) => c.charCodeAt(0)));
const f64 = (id: number[], v: number): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v); return el(id, b); };
const vint2 = (v: number): number[] => [0x40 | (v >> 8), v & 0xff];

type Lacing = 'none' | 'xiph' | 'ebml' | 'fixed';
function block(frames: Uint8Array[], lacing: Lacing, timecode: number): Uint8Array {
  const code = { none: 0, xiph: 1, fixed: 2, ebml: 3 }[lacing];
  const head = [0x81, (timecode >> 8) & 0xff, timecode & 0xff, 0x80 | (code << 1)];
  if (lacing === 'none') return cat(head, frames[0] as Uint8Array);
  const lace: number[] = [frames.length - 1];
  if (lacing === 'xiph') {
    for (const f of frames.slice(0, -1)) { let s = f.length; while (s >= 255) { lace.push(255); s -= 255; } lace.push(s); }
  } else if (lacing === 'ebml') {
    lace.push(...vint2((frames[0] as Uint8Array).length));
    for (let i = 1; i < frames.length - 1; i++) lace.push(...vint2((frames[i] as Uint8Array).length - (frames[i - 1] as Uint8Array).length + 8191));
  }
  return cat(head, lace, ...frames);
}

let ogg: Uint8Array;
let liveWebm: Uint8Array;

beforeAll(() => {
  const wav = path.join(tmp, 'src.wav');
  writeWav(wav, [sweep(48000, 2, 100, 8000, 0.4), sweep(48000, 2, 6000, 200, 0.3)], 48000);
  // Constant bitrate: every packet has the same size, so fixed-size lacing can hold them.
  ffmpeg(['-i', wav, '-c:a', 'libopus', '-b:a', '96k', '-vbr', 'off', '-frame_duration', '20', path.join(tmp, 'cbr.opus')]);
  ogg = readFileSync(path.join(tmp, 'cbr.opus'));
  const { packets, lastGranule } = oggPackets(ogg);
  const head = packets[0] as Uint8Array;
  const preSkip = (head[10] as number) | ((head[11] as number) << 8);
  const audio = packets.slice(2);
  expect(new Set(audio.slice(0, -1).map((p) => p.length)).size).toBe(1);
  const total = audio.reduce((s, p) => s + frameSamples(p), 0);
  const discardSamples = total - lastGranule; // lastGranule counts the pre-skip too
  expect(discardSamples).toBeGreaterThan(0);

  const modes: Lacing[] = ['none', 'xiph', 'ebml', 'fixed'];
  const clusters: Uint8Array[] = [];
  let blocks: Uint8Array[] = [];
  let clusterStart = 0;
  let i = 0;
  let n = 0;
  while (i < audio.length - 1) {
    const mode = modes[n % 4] as Lacing;
    const take = mode === 'none' ? 1 : Math.min(3, audio.length - 1 - i);
    const frames = audio.slice(i, i + take);
    blocks.push(el([0xa3], block(frames, frames.length === 1 ? 'none' : mode, (i - clusterStart) * 20)));
    if (n % 5 === 2) blocks.push(el([0xec], [0, 0, 0])); // Void
    i += take;
    n++;
    if (n % 8 === 0) { clusters.push(cat([0x1f, 0x43, 0xb6, 0x75], UNKNOWN, uint([0xe7], clusterStart * 20), ...blocks)); blocks = []; clusterStart = i; }
  }
  // The last packet in a BlockGroup with DiscardPadding (ns) trimming the encoder's end padding.
  const discardNs = Math.round((discardSamples * 1e9) / 48000);
  blocks.push(el([0xa0], el([0xa1], block([audio[audio.length - 1] as Uint8Array], 'none', (i - clusterStart) * 20)), uint([0x75, 0xa2], discardNs)));
  clusters.push(cat([0x1f, 0x43, 0xb6, 0x75], UNKNOWN, uint([0xe7], clusterStart * 20), ...blocks));
  const header = el([0x1a, 0x45, 0xdf, 0xa3], text([0x42, 0x82], 'webm'));
  const info = el([0x15, 0x49, 0xa9, 0x66], uint([0x2a, 0xd7, 0xb1], 1_000_000));
  const tracks = el([0x16, 0x54, 0xae, 0x6b], el([0xae], uint([0xd7], 1), uint([0x83], 2), text([0x86], 'A_OPUS'), el([0x63, 0xa2], head), el([0xe1], f64([0xb5], 48000), uint([0x9f], 2))));
  liveWebm = cat(header, [0x18, 0x53, 0x80, 0x67], UNKNOWN, info, tracks, ...clusters);
  expect(preSkip).toBeGreaterThan(0);
});

describe('WebM reader: lacing, unknown sizes, DiscardPadding', () => {
  it('a re-muxed live WebM with every lacing mode decodes to exactly the Ogg file\'s samples', async () => {
    const a = await decodeAudio(ogg, { mono: false });
    const b = await decodeAudio(liveWebm, { mono: false });
    expect(b.container).toBe('webm');
    expect(b.durationSeconds).toBe(a.durationSeconds);
    expect(b.channels).toHaveLength(2);
    for (const ch of [0, 1]) {
      const x = a.channels[ch] as Float32Array;
      const y = b.channels[ch] as Float32Array;
      expect(y.length).toBe(x.length);
      let same = true;
      for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) { same = false; break; }
      expect(same).toBe(true);
    }
    expect(Math.abs(a.durationSeconds - 2)).toBeLessThan(1e-9);
  });

  it('the live WebM cut inside a laced block is a truncated file; an empty stream is refused', async () => {
    const cut = liveWebm.subarray(0, Math.floor(liveWebm.length * 0.5));
    await expect(decodeAudio(cut)).rejects.toThrow(InvalidInputError);
    await expect(decodeAudio(cut)).rejects.toThrow(/truncated WebM/);
    // Only the headers (no cluster): a stream with no audio.
    const headersOnly = liveWebm.subarray(0, liveWebm.findIndex((_, i) => liveWebm[i] === 0x1f && liveWebm[i + 1] === 0x43 && liveWebm[i + 2] === 0xb6 && liveWebm[i + 3] === 0x75));
    await expect(decodeAudio(headersOnly)).rejects.toThrow(/the WebM Opus track holds no audio/);
  });
});
