/**
 * A 10-minute MP3 (44.1 kHz stereo, 128 kb/s) decoded from disk to 16 kHz mono must not balloon: the
 * frames are read in 64 KiB pieces and each decoded block goes straight into the downmix and the
 * streaming resampler, so peak memory is the output plus bounded working memory (measured in a fresh
 * process, as tests/audio/decode-memory.child.ts does for WAV). Control: the same file decoded at its
 * own rate with both channels kept, the size a decode-all-then-resample design would hold.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ffmpeg, ffmpegDecode, formatFixturesDir } from './format-files.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-formats-memory-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Report { peakGrowthBytes: number; outputBytes: number; length: number; durationSeconds: number; meanSquare: number; seconds: number; fileBytes: number }

describe('decodeAudio: long compressed files', () => {
  it('decodes 10 minutes of MP3 to 16 kHz mono with peak memory near the output size', () => {
    const file = path.join(tmp, 'long.mp3');
    ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=600', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', file]);
    const run = (mode: string): Report => JSON.parse(execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(here, 'decode-formats-memory.child.ts'), file, path.join(formatFixturesDir, 'tone.mp3'), '16000', mode], { encoding: 'utf8', cwd: path.resolve(here, '../..') })) as Report;
    const streamed = run('stream');
    expect(streamed.durationSeconds).toBe(600);
    expect(streamed.length).toBe(600 * 16000);
    // The level matches ffmpeg's decode of the first 10 s (both channels are the same tone, so the
    // average equals one channel; ffmpeg's own stereo-to-mono mix is not an average).
    const ref = ffmpegDecode(file, 16000, 0).subarray(0, 160000);
    const refMs = ref.reduce((s, v) => s + v * v, 0) / ref.length;
    expect(streamed.meanSquare).toBeCloseTo(refMs, 3);
    const native = run('native');
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(`[audio] 10-min MP3 (${mib(streamed.fileBytes)} MiB) decoded in ${streamed.seconds.toFixed(1)} s: output ${mib(streamed.outputBytes)} MiB, peak RSS growth ${mib(streamed.peakGrowthBytes)} MiB streamed to 16 kHz mono vs ${mib(native.peakGrowthBytes)} MiB kept at 44.1 kHz stereo`);
    expect(native.peakGrowthBytes).toBeGreaterThan(streamed.peakGrowthBytes + 100 * 2 ** 20);
    // Output (37 MiB) plus bounded working memory: the wasm instance and the decoder's per-block output
    // arrays awaiting collection (V8 collects them when external memory grows by tens of MiB, whatever
    // the file's length; measured about 40 MiB).
    expect(streamed.peakGrowthBytes).toBeLessThan(streamed.outputBytes + 64 * 2 ** 20);
  });
});
