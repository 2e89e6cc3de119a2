/**
 * decodeAudio on the compressed formats: MP3, FLAC, Ogg Vorbis, Ogg Opus (ffmpeg's and opus-tools' muxers)
 * and WebM Opus (ffmpeg's, and a live-stream layout with unknown sizes as MediaRecorder writes), made at
 * test time from a stereo sine sweep. Checked: container and codec found from the bytes, duration and
 * rate, the decoded signal against the source (correlation at lag 0) and against ffmpeg's own decoder,
 * stereo channels and downmix, resampling equal to resampling the decoded stream at once, path and bytes
 * equal. The committed tiny files (tests/fixtures/audio-formats) are checked without ffmpeg.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio, resample, sniffAudioContainer, spectrogram } from '@mmfuse/audio';
import type { DecodedAudioFile } from '@mmfuse/audio';
import { bestLag, ffmpeg, ffmpegDecode, maxAbsDiff, run, sweep, toneFixture, writeWav } from './format-files.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-audio-formats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RATE = 44100;
const SECONDS = 1.5;
// Left rises, right falls: the downmix and each channel are different signals.
const left = sweep(RATE, SECONDS, 100, 6000, 0.4);
const right = sweep(RATE, SECONDS, 5000, 150, 0.3);
const mono = left.map((v, i) => (v + (right[i] as number)) / 2);

interface Case {
  name: string;
  file: string;
  container: DecodedAudioFile['container'];
  codec: DecodedAudioFile['codec'];
  sourceRate: number;
  /** Correlation with the source at lag 0 (lossy codecs are not sample-exact). */
  minCorrelation: number;
  /** Largest difference from ffmpeg's own decode of the same file (same codec library, or an independent one). */
  maxFromFfmpeg: number;
  /** ffmpeg's Vorbis decoder may stop up to 128 samples before the length the last granule position states. */
  ffmpegLengthSlack?: number;
  exactLength?: boolean;
}

const cases: Case[] = [
  { name: 'MP3 (LAME, 192 kb/s)', file: 'sweep.mp3', container: 'mp3', codec: 'mp3', sourceRate: RATE, minCorrelation: 0.995, maxFromFfmpeg: 1e-4, exactLength: true },
  { name: 'FLAC (ffmpeg)', file: 'sweep.flac', container: 'flac', codec: 'flac', sourceRate: RATE, minCorrelation: 0.99999, maxFromFfmpeg: 1e-6, exactLength: true },
  { name: 'FLAC (libFLAC via sox)', file: 'sweep-sox.flac', container: 'flac', codec: 'flac', sourceRate: RATE, minCorrelation: 0.99999, maxFromFfmpeg: 1e-6, exactLength: true },
  { name: 'FLAC written to a pipe (no total in STREAMINFO)', file: 'sweep-pipe.flac', container: 'flac', codec: 'flac', sourceRate: RATE, minCorrelation: 0.99999, maxFromFfmpeg: 1e-6, exactLength: true },
  { name: 'Ogg Vorbis', file: 'sweep.ogg', container: 'ogg', codec: 'vorbis', sourceRate: RATE, minCorrelation: 0.99, maxFromFfmpeg: 1e-4, ffmpegLengthSlack: 128, exactLength: true },
  { name: 'Ogg Opus (ffmpeg)', file: 'sweep.opus', container: 'ogg', codec: 'opus', sourceRate: 48000, minCorrelation: 0.99, maxFromFfmpeg: 2e-3, exactLength: true },
  { name: 'Ogg Opus (opusenc)', file: 'sweep-opusenc.opus', container: 'ogg', codec: 'opus', sourceRate: 48000, minCorrelation: 0.99, maxFromFfmpeg: 2e-3 },
  { name: 'WebM Opus', file: 'sweep.webm', container: 'webm', codec: 'opus', sourceRate: 48000, minCorrelation: 0.99, maxFromFfmpeg: 2e-3, exactLength: true },
  { name: 'WebM Opus, live layout (unknown sizes)', file: 'sweep-live.webm', container: 'webm', codec: 'opus', sourceRate: 48000, minCorrelation: 0.99, maxFromFfmpeg: 2e-3 },
];

beforeAll(() => {
  const wav = path.join(tmp, 'sweep.wav');
  writeWav(wav, [left, right], RATE);
  const f = (out: string, ...args: string[]) => ffmpeg(['-i', wav, ...args, path.join(tmp, out)]);
  f('sweep.mp3', '-c:a', 'libmp3lame', '-b:a', '192k');
  f('sweep.flac', '-c:a', 'flac');
  run('sox', [wav, path.join(tmp, 'sweep-sox.flac')]);
  writeFileSync(path.join(tmp, 'sweep-pipe.flac'), ffmpeg(['-i', wav, '-c:a', 'flac', '-f', 'flac', 'pipe:1']));
  f('sweep.ogg', '-c:a', 'libvorbis', '-q:a', '6');
  f('sweep.opus', '-c:a', 'libopus', '-b:a', '160k');
  run('opusenc', ['--quiet', '--bitrate', '160', wav, path.join(tmp, 'sweep-opusenc.opus')]);
  f('sweep.webm', '-c:a', 'libopus', '-b:a', '160k');
  f('sweep-live.webm', '-c:a', 'libopus', '-b:a', '160k', '-f', 'webm', '-live', '1', '-cluster_time_limit', '200');
});

describe('decodeAudio: formats made by ffmpeg, sox and opusenc from one stereo sweep', () => {
  for (const c of cases) {
    it(`${c.name}: container, duration, and the signal at lag 0`, async () => {
      const file = path.join(tmp, c.file);
      const out = await decodeAudio(file, { sampleRateHz: RATE });
      expect([out.container, out.codec]).toEqual([c.container, c.codec]);
      expect(out.sourceSampleRateHz).toBe(c.sourceRate);
      expect(out.sourceChannels).toBe(2);
      expect(out.sampleRateHz).toBe(RATE);
      expect(out.channels).toHaveLength(1);
      const decoded = out.channels[0] as Float32Array;
      // Gapless MP3 (LAME's delay and padding removed), FLAC, and the Ogg/WebM stated lengths give the
      // source's exact length; opusenc and the live WebM round to their own frame grid.
      if (c.exactLength) expect(Math.abs(out.durationSeconds - SECONDS)).toBeLessThan(0.5 / c.sourceRate + 1e-9);
      else expect(Math.abs(out.durationSeconds - SECONDS)).toBeLessThan(0.03);
      expect(decoded.length).toBe(Math.ceil(out.durationSeconds * c.sourceRate * RATE / c.sourceRate - 1e-6));
      const { lag, r } = bestLag(mono, decoded, 400);
      expect(lag).toBe(0);
      expect(r).toBeGreaterThan(c.minCorrelation);
    });

    it(`${c.name}: equals ffmpeg's own decode`, async () => {
      const file = path.join(tmp, c.file);
      const ours = (await decodeAudio(file, { sampleRateHz: c.sourceRate, mono: false })).channels;
      for (const ch of [0, 1] as const) {
        const ref = ffmpegDecode(file, c.sourceRate, ch);
        const mine = ours[ch] as Float32Array;
        expect(Math.abs(mine.length - ref.length)).toBeLessThanOrEqual(c.ffmpegLengthSlack ?? (c.exactLength ? 0 : 960));
        expect(maxAbsDiff(mine, ref)).toBeLessThan(c.maxFromFfmpeg);
      }
    });
  }

  it('stereo: each channel follows its source channel and the default output is their average', async () => {
    for (const file of ['sweep.mp3', 'sweep.flac', 'sweep.ogg', 'sweep.opus', 'sweep.webm']) {
      const both = await decodeAudio(path.join(tmp, file), { mono: false, sampleRateHz: RATE });
      expect(both.channels).toHaveLength(2);
      expect(bestLag(left, both.channels[0] as Float32Array, 50).r, file).toBeGreaterThan(0.99);
      expect(bestLag(right, both.channels[1] as Float32Array, 50).r, file).toBeGreaterThan(0.99);
      const avg = (both.channels[0] as Float32Array).map((v, i) => (v + (both.channels[1] as Float32Array)[i]!) / 2);
      const down = (await decodeAudio(path.join(tmp, file), { sampleRateHz: RATE })).channels[0] as Float32Array;
      expect(maxAbsDiff(down, avg), file).toBeLessThan(1e-6);
    }
  });

  it('resampling while decoding equals resampling the decoded stream at once (bounded and unbounded lengths)', async () => {
    for (const file of ['sweep.mp3', 'sweep.flac', 'sweep-pipe.flac', 'sweep.ogg', 'sweep.opus', 'sweep.webm']) {
      const native = await decodeAudio(path.join(tmp, file));
      const at16k = await decodeAudio(path.join(tmp, file), { sampleRateHz: 16000 });
      const once = resample(native.channels[0] as Float32Array, native.sampleRateHz, 16000);
      expect(at16k.channels[0]?.length, file).toBe(once.length);
      expect(maxAbsDiff(at16k.channels[0] as Float32Array, once), file).toBeLessThan(1e-5);
    }
  });

  it('bytes and paths decode to the same samples; the file name plays no part', async () => {
    for (const c of cases) {
      const file = path.join(tmp, c.file);
      const misnamed = path.join(tmp, `${c.file}.wav`);
      writeFileSync(misnamed, readFileSync(file));
      const a = await decodeAudio(file, { sampleRateHz: 16000 });
      const b = await decodeAudio(readFileSync(file), { sampleRateHz: 16000 });
      const d = await decodeAudio(misnamed, { sampleRateHz: 16000 });
      expect(maxAbsDiff(a.channels[0] as Float32Array, b.channels[0] as Float32Array)).toBe(0);
      expect(maxAbsDiff(a.channels[0] as Float32Array, d.channels[0] as Float32Array)).toBe(0);
      expect(sniffAudioContainer(readFileSync(file).subarray(0, 16))).toBe(c.container);
    }
  });

  it('FLAC decodes to exactly the floats of the WAV it was made from (16 and 24 bits)', async () => {
    const wav16 = await decodeAudio(path.join(tmp, 'sweep.wav'), { mono: false });
    for (const file of ['sweep.flac', 'sweep-sox.flac', 'sweep-pipe.flac']) {
      const flac = await decodeAudio(path.join(tmp, file), { mono: false });
      expect(flac.bitsPerSample).toBe(16);
      [0, 1].forEach((ch) => expect(maxAbsDiff(flac.channels[ch] as Float32Array, wav16.channels[ch] as Float32Array), file).toBe(0));
    }
    const wav24 = path.join(tmp, 'sweep24.wav');
    ffmpeg(['-i', path.join(tmp, 'sweep.wav'), '-af', 'volume=0.7', '-c:a', 'pcm_s24le', wav24]);
    run('sox', [wav24, '-b', '24', path.join(tmp, 'sweep24.flac')]);
    const a = await decodeAudio(wav24, { mono: false });
    const b = await decodeAudio(path.join(tmp, 'sweep24.flac'), { mono: false });
    expect([a.bitsPerSample, b.bitsPerSample]).toEqual([24, 24]);
    [0, 1].forEach((ch) => expect(maxAbsDiff(b.channels[ch] as Float32Array, a.channels[ch] as Float32Array)).toBe(0));
  });

  it('a WAV still decodes through decodeAudio, synchronously underneath, with its encoding as the codec', async () => {
    const out = await decodeAudio(path.join(tmp, 'sweep.wav'), { mono: false });
    expect([out.container, out.codec, out.bitsPerSample, out.sourceChannels]).toEqual(['wav', 'pcm', 16, 2]);
    expect(maxAbsDiff(out.channels[0] as Float32Array, left)).toBeLessThan(1 / 32768 + 1e-7);
  });
});

describe('decodeAudio: committed tiny files (no ffmpeg needed)', () => {
  for (const ext of ['mp3', 'flac', 'ogg', 'opus', 'webm'] as const) {
    it(`tone.${ext}: 0.3 s, the 1 kHz tone at the right spectral bin and level`, async () => {
      const out = await decodeAudio(toneFixture(ext), { sampleRateHz: 16000 });
      expect(out.sampleRateHz).toBe(16000);
      expect(out.sourceChannels).toBe(1);
      expect(Math.abs(out.durationSeconds - 0.3)).toBeLessThan(0.03);
      const x = out.channels[0] as Float32Array;
      // bin 1000 / (16000 / 400) = 25, in every frame away from the edges
      const spec = spectrogram(x, { nFft: 400, hopLength: 160 });
      for (let f = 3; f < spec.frames - 3; f++) {
        let best = 0;
        for (let b = 1; b < spec.bins; b++) if ((spec.data[f * spec.bins + b] as number) > (spec.data[f * spec.bins + best] as number)) best = b;
        expect(best, `frame ${f}`).toBe(25);
      }
      // amplitude 0.5: mean square 0.125 over the middle (lossy codecs lose a little)
      const mid = x.subarray(800, x.length - 800);
      const meanSquare = mid.reduce((s, v) => s + v * v, 0) / mid.length; // signal power, not a time
      expect(meanSquare).toBeGreaterThan(0.1);
      expect(meanSquare).toBeLessThan(0.14);
    });
  }
});
