/**
 * Test files in the compressed formats, made at test time from a known signal with Debian's ffmpeg, sox and
 * opus-tools (listed in .ci/apt-packages.txt), plus the signal helpers the format tests share.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pcm16, rawWav } from './wav-writer.js';

export const formatFixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/audio-formats');

/** A committed tiny file (0.3 s of 1 kHz at amplitude 0.5, 16 kHz mono); see scripts/make-audio-format-fixtures.sh. */
export function toneFixture(ext: 'mp3' | 'flac' | 'ogg' | 'opus' | 'webm'): Uint8Array {
  return readFileSync(path.join(formatFixturesDir, `tone.${ext}`));
}

/** Exponential sine sweep from f0 to f1 Hz: every lag gives a different waveform, so alignment is unique. */
export function sweep(rateHz: number, seconds: number, f0: number, f1: number, amplitude: number): Float32Array {
  const n = Math.round(rateHz * seconds);
  const k = Math.log(f1 / f0);
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / rateHz;
    return amplitude * Math.sin(((2 * Math.PI * f0 * seconds) / k) * (Math.exp((t / seconds) * k) - 1));
  });
}

export function run(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
}

export function ffmpeg(args: string[]): Buffer {
  return run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
}

/** Write a 16-bit WAV of the channels. */
export function writeWav(file: string, channels: Float32Array[], rateHz: number): void {
  writeFileSync(file, rawWav({ channels: channels.length, sampleRate: rateHz, data: pcm16(channels) }));
}

/** ffmpeg's own decode of a file to float samples (mono average, or one channel), as a reference. */
export function ffmpegDecode(file: string, rateHz: number, channel?: 0 | 1): Float32Array {
  const pan = channel === undefined ? ['-ac', '1'] : ['-af', `pan=mono|c0=c${channel}`];
  const out = ffmpeg(['-i', file, ...pan, '-ar', String(rateHz), '-f', 'f32le', '-']);
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

/** The lag (b shifted by lag against a) with the highest normalized correlation, and that correlation. */
export function bestLag(a: ArrayLike<number>, b: ArrayLike<number>, maxLag: number): { lag: number; r: number } {
  let best = { lag: 0, r: -2 };
  const n = Math.min(a.length, b.length);
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = Math.max(0, -lag); i < n && i + lag < b.length; i++) {
      const x = a[i] as number;
      const y = b[i + lag] as number;
      sab += x * y;
      saa += x * x;
      sbb += y * y;
    }
    const r = sab / Math.sqrt(saa * sbb || 1);
    if (r > best.r) best = { lag, r };
  }
  return best;
}

/** Root mean square of a - b over their common length. */
export function rmsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let s = 0;
  for (let i = 0; i < n; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s / n);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
