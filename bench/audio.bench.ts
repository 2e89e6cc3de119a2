/**
 * `npm run bench audio`: log-mel throughput (BENCHMARK-SPEC.md: 100 clips of 1 s of 16 kHz Gaussian noise,
 * std 0.1; nFft 400, hop 160, periodic Hann, centred reflect padding, 64 HTK mels without normalization,
 * ln(x + 1e-6); clips one at a time; median of 5 runs) for @mmfuse/audio's `logMel` against torchaudio
 * (bench/peers/audio_logmel_torchaudio.py) on the same clips in the same run. Our runs are split in two
 * halves around the peer so both see the same machine load. Also: 10 minutes of 44.1 kHz stereo WAV
 * decoded to 16 kHz mono (`decodeWav`), which has no peer here, and `decodeAudio` on MP3, FLAC, Ogg
 * Vorbis, Ogg Opus and WebM Opus files against Debian's ffmpeg decoding the same files to PCM (a
 * subprocess each run, so ffmpeg's start-up is in its time), alternating in the same run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio, decodeWav, logMel } from '@mmfuse/audio';
import { createRng } from '@mmfuse/core';
import type { BenchFigure, Benchmark, BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIPS = 100;
const ROUNDS = 3;
const RATE = 16000;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Seconds of audio per wall-clock second and per CPU second of this process, one entry per run. */
function timeOurs(clips: Float32Array[], runs: number): { wall: number[]; cpu: number[] } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const clip of clips) logMel(clip, { sampleRateHz: RATE });
    const c = process.cpuUsage(c0);
    wall.push(clips.length / ((performance.now() - t0) / 1000));
    cpu.push(clips.length / ((c.user + c.system) / 1e6));
  }
  return { wall, cpu };
}

interface PeerThreads { audioSecondsPerSecond: number; runs: number[]; cpuAudioSecondsPerSecond: number; cpuRuns: number[]; batchedAudioSecondsPerSecond: number; batchedRuns: number[] }
interface PeerResult { torch: string; torchaudio: string; shape: number[]; clip0: number[]; threads1: PeerThreads; threads2: PeerThreads }

/** All rounds' runs pooled, medians recomputed. */
function mergePeer(rounds: PeerResult[]): PeerResult {
  const pool = (key: 'threads1' | 'threads2'): PeerThreads => {
    const runs = rounds.flatMap((r) => r[key].runs);
    const cpuRuns = rounds.flatMap((r) => r[key].cpuRuns);
    const batchedRuns = rounds.flatMap((r) => r[key].batchedRuns);
    return { audioSecondsPerSecond: median(runs), runs, cpuAudioSecondsPerSecond: median(cpuRuns), cpuRuns, batchedAudioSecondsPerSecond: median(batchedRuns), batchedRuns };
  };
  const first = rounds[0] as PeerResult;
  return { ...first, threads1: pool('threads1'), threads2: pool('threads2') };
}

function decodeBench(): { seconds: number; audioSecondsPerSecond: number } {
  const rate = 44100;
  const seconds = 600;
  const frames = rate * seconds;
  const bytes = new Uint8Array(44 + frames * 4);
  const v = new DataView(bytes.buffer);
  bytes.set([0x52, 0x49, 0x46, 0x46], 0);
  v.setUint32(4, 36 + frames * 4, true);
  bytes.set([0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20], 8);
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 2, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 4, true); v.setUint16(32, 4, true); v.setUint16(34, 16, true);
  bytes.set([0x64, 0x61, 0x74, 0x61], 36);
  v.setUint32(40, frames * 4, true);
  const pcm = new Int16Array(bytes.buffer, 44, frames * 2);
  const rng = createRng(7);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(3000 * rng.normal());
  const t0 = performance.now();
  const out = decodeWav(bytes, { sampleRateHz: RATE });
  const took = (performance.now() - t0) / 1000;
  if (out.channels[0]?.length !== seconds * RATE) throw new Error('decode bench: unexpected output length');
  return { seconds: took, audioSecondsPerSecond: seconds / took };
}

const FORMAT_SECONDS = 60;
const FORMATS: { name: string; file: string; args: string[] }[] = [
  { name: 'mp3', file: 'a.mp3', args: ['-c:a', 'libmp3lame', '-b:a', '128k'] },
  { name: 'flac', file: 'a.flac', args: ['-c:a', 'flac'] },
  { name: 'ogg-vorbis', file: 'a.ogg', args: ['-c:a', 'libvorbis', '-q:a', '4'] },
  { name: 'ogg-opus', file: 'a.opus', args: ['-c:a', 'libopus', '-b:a', '96k'] },
  { name: 'webm-opus', file: 'a.webm', args: ['-c:a', 'libopus', '-b:a', '96k'] },
];

interface FormatResult { name: string; ours: number[]; oursTo16k: number[]; ffmpeg: number[]; fileBytes: number }

/**
 * Seconds of audio per second for decodeAudio (stream rate, both channels kept, as ffmpeg's PCM output;
 * and to 16 kHz mono, the encoder's use) and for `ffmpeg -i FILE -f f32le -` on the same file, 3 alternating
 * runs each after one untimed warm-up. Null when ffmpeg is missing (the encoder and the peer).
 */
async function formatBench(tmp: string): Promise<FormatResult[] | null> {
  const ff = (args: string[]) => spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { maxBuffer: 1 << 30 });
  const wav = path.join(tmp, 'a.wav');
  // 60 s of 44.1 kHz stereo: a sweep in one channel, noise in the other (not trivially compressible).
  if (ff(['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${FORMAT_SECONDS}`, '-f', 'lavfi', '-i', `anoisesrc=color=pink:sample_rate=44100:amplitude=0.2:duration=${FORMAT_SECONDS}`, '-filter_complex', '[0][1]amerge=inputs=2', wav]).status !== 0) return null;
  const out: FormatResult[] = [];
  for (const f of FORMATS) {
    const file = path.join(tmp, f.file);
    if (ff(['-i', wav, ...f.args, file]).status !== 0) return null;
    const r: FormatResult = { name: f.name, ours: [], oursTo16k: [], ffmpeg: [], fileBytes: statSync(file).size };
    await decodeAudio(file, { mono: false });
    ff(['-i', file, '-f', 'f32le', '-']);
    for (let run = 0; run < 3; run++) {
      let t0 = performance.now();
      await decodeAudio(file, { mono: false });
      r.ours.push(FORMAT_SECONDS / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      const peer = ff(['-i', file, '-f', 'f32le', '-']);
      r.ffmpeg.push(FORMAT_SECONDS / ((performance.now() - t0) / 1000));
      if (peer.status !== 0) return null;
      t0 = performance.now();
      await decodeAudio(file, { sampleRateHz: 16000 });
      r.oursTo16k.push(FORMAT_SECONDS / ((performance.now() - t0) / 1000));
    }
    out.push(r);
  }
  return out;
}

export const benchmark: Benchmark = {
  id: 'audio',
  title: 'Audio: log-mel throughput vs torchaudio',
  async run(): Promise<BenchSection> {
    const rng = createRng(20240601);
    const clips = Array.from({ length: CLIPS }, () => Float32Array.from({ length: RATE }, () => 0.1 * rng.normal()));
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-audio-bench-'));
    try {
      const clipFile = path.join(tmp, 'clips.f32');
      const all = new Float32Array(CLIPS * RATE);
      clips.forEach((c, i) => all.set(c, i * RATE));
      writeFileSync(clipFile, new Uint8Array(all.buffer));

      // Warm-up, untimed: builds the window, filterbank and the generated WebAssembly kernel, and gives the
      // engine time to tier the kernel up from its baseline compiler to the optimizing one (about a second
      // of calls on this machine). At least 3 passes and 3 s.
      const warmStart = performance.now();
      const firstCall0 = performance.now();
      logMel(clips[0] as Float32Array, { sampleRateHz: RATE });
      const firstCallMs = performance.now() - firstCall0;
      const warmup: number[] = [];
      while (warmup.length < 3 || performance.now() - warmStart < 3000) warmup.push(...timeOurs(clips, 1).wall);
      // Rounds alternate ours and the peer (2 runs each), then ours once more, so both sides sample the
      // machine's load over the same stretch of time.
      const ours: number[] = [];
      const oursCpu: number[] = [];
      const peerRounds: PeerResult[] = [];
      let peerError = '';
      for (let round = 0; round < ROUNDS; round++) {
        const o = timeOurs(clips, 2);
        ours.push(...o.wall);
        oursCpu.push(...o.cpu);
        const peerRun = spawnSync('/usr/bin/python3', [path.join(here, 'peers', 'audio_logmel_torchaudio.py'), clipFile, String(CLIPS), '2'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
        if (peerRun.status === 0) peerRounds.push(JSON.parse(peerRun.stdout) as PeerResult);
        else peerError = (peerRun.stderr || String(peerRun.error)).slice(-500);
      }
      const last = timeOurs(clips, 1);
      ours.push(...last.wall);
      oursCpu.push(...last.cpu);
      const peer = peerRounds.length === ROUNDS ? mergePeer(peerRounds) : null;

      // same computation? compare clip 0 with the peer's output
      const mine = logMel(clips[0] as Float32Array, { sampleRateHz: RATE });
      let maxDiff: number | null = null;
      let maxAbs = 0;
      if (peer !== null) {
        maxDiff = 0;
        peer.clip0.forEach((v, i) => { maxDiff = Math.max(maxDiff as number, Math.abs(v - (mine.data[i] as number))); maxAbs = Math.max(maxAbs, Math.abs(v)); });
      }
      const decode = decodeBench();
      const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      const formats = await formatBench(tmp);
      const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

      const value = median(ours);
      const peerName = peer === null ? 'torchaudio (1 thread)' : `torchaudio ${peer.torchaudio} (1 thread)`;
      const figures: BenchFigure[] = [
        {
          name: 'audio.logmel.throughput',
          value,
          unit: 'audio-s/s',
          peer: peerName,
          peerValue: peer?.threads1.audioSecondsPerSecond ?? null,
          details: {
            runs: ours,
            clips: CLIPS,
            shape: [mine.frames, mine.bins],
            peerRuns1Thread: peer?.threads1.runs ?? null,
            peer2Threads: peer?.threads2.audioSecondsPerSecond ?? null,
            peerBatched1Thread: peer?.threads1.batchedAudioSecondsPerSecond ?? null,
            peerBatched2Threads: peer?.threads2.batchedAudioSecondsPerSecond ?? null,
            maxAbsDiffClip0: maxDiff,
            warmupRuns: warmup,
            firstCallMs,
            maxAbsClip0: maxAbs,
            peerError: peerError || undefined,
          },
        },
        {
          name: 'audio.logmel.cpu-throughput',
          value: median(oursCpu),
          unit: 'audio-s/cpu-s',
          peer: peerName,
          peerValue: peer?.threads1.cpuAudioSecondsPerSecond ?? null,
          details: { runs: oursCpu, peerRuns: peer?.threads1.cpuRuns ?? null, note: 'per CPU second of each process: less sensitive to other load on the machine' },
        },
        {
          name: 'audio.logmel.throughput.vs2threads',
          value,
          unit: 'audio-s/s',
          peer: peer === null ? 'torchaudio (2 threads)' : `torchaudio ${peer.torchaudio} (2 threads)`,
          peerValue: peer?.threads2.audioSecondsPerSecond ?? null,
        },
        { name: 'audio.decode.wav44k-stereo-to-16k', value: decode.audioSecondsPerSecond, unit: 'audio-s/s', details: { seconds: decode.seconds, file: '10 min, 44.1 kHz, stereo, 16-bit PCM, in memory', output: '16 kHz mono' } },
        ...(formats ?? []).map((r): BenchFigure => ({
          name: `audio.decode.${r.name}`,
          value: median(r.ours),
          unit: 'audio-s/s',
          peer: 'ffmpeg -f f32le (subprocess)',
          peerValue: median(r.ffmpeg),
          details: { runs: r.ours, peerRuns: r.ffmpeg, to16kMono: median(r.oursTo16k), to16kMonoRuns: r.oursTo16k, fileBytes: r.fileBytes, seconds: FORMAT_SECONDS, loadavgBefore: loadBefore, loadavgAfter: loadAfter },
        })),
      ];
      const f = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(0));
      const markdown = [
        'Log-mel per BENCHMARK-SPEC.md: 100 clips of 1 s of 16 kHz Gaussian noise (std 0.1, seeded), `nFft` 400, window 400',
        '(periodic Hann), hop 160, centred reflect padding, 64 HTK mels without normalization, ln(x + 1e-6): output',
        '[101 frames, 64 mels] per clip, clips one at a time. Both sides run in 3 alternating rounds of 2 runs (ours once',
        'more at the end), so they sample the same stretch of machine load; medians over all runs (7 ours, 6 the peer\'s).',
        'The peer gets the same clips (written to a float32 file) and its clip-0 output is',
        'compared with ours. `logMel` runs a WebAssembly SIMD kernel generated for the parameter set on first use',
        `(${firstCallMs.toFixed(0)} ms for the first clip, kernel generation and compilation included); the runs are timed after an`,
        `untimed warm-up of ${warmup.length} passes over 3 s (first three ${warmup.slice(0, 3).map((x) => x.toFixed(0)).join(', ')}, last ${(warmup[warmup.length - 1] as number).toFixed(0)} audio-s/s), while the engine moves the kernel`,
        'from its baseline to its optimizing compiler.',
        '',
        '| | seconds of audio per wall-clock second | per CPU second |',
        '| --- | --- | --- |',
        `| @mmfuse/audio \`logMel\` (one thread, generated WebAssembly SIMD kernel) | ${f(value)} (runs: ${ours.map((x) => x.toFixed(0)).join(', ')}) | ${f(median(oursCpu))} |`,
        `| torchaudio, 1 thread, one clip at a time | ${f(peer?.threads1.audioSecondsPerSecond)} | ${f(peer?.threads1.cpuAudioSecondsPerSecond)} |`,
        `| torchaudio, 2 threads, one clip at a time | ${f(peer?.threads2.audioSecondsPerSecond)} | ${f(peer?.threads2.cpuAudioSecondsPerSecond)} |`,
        `| torchaudio, 1 thread, 100 clips in one batched call | ${f(peer?.threads1.batchedAudioSecondsPerSecond)} | |`,
        `| torchaudio, 2 threads, 100 clips in one batched call | ${f(peer?.threads2.batchedAudioSecondsPerSecond)} | |`,
        '',
        peer === null ? `Peer failed: ${peerError}` : `Clip 0: largest difference from torchaudio ${maxDiff?.toExponential(2)} (largest |value| ${maxAbs.toFixed(2)}).`,
        '',
        `WAV decoding: 10 minutes of 44.1 kHz stereo 16-bit PCM (in memory) decoded, downmixed and resampled to 16 kHz mono in ${decode.seconds.toFixed(2)} s`,
        `(${decode.audioSecondsPerSecond.toFixed(0)} seconds of audio per second); no peer.`,
        '',
        `Compressed formats: ${FORMAT_SECONDS} s of 44.1 kHz stereo (a tone and pink noise) encoded by ffmpeg, decoded from disk by`,
        '`decodeAudio` (WebAssembly: mpg123, libFLAC, libvorbis, libopus) at the stream\'s rate with both channels (the same output',
        'as the peer), and to 16 kHz mono; the peer is `ffmpeg -i FILE -f f32le -` on the same file, a subprocess per run (its',
        `start-up, tens of ms, is in its time). Medians of 3 alternating runs. Load average ${loadBefore} before, ${loadAfter} after.`,
        '',
        '| format | decodeAudio, stream rate (audio-s/s) | ffmpeg (audio-s/s) | ratio | decodeAudio to 16 kHz mono |',
        '| --- | --- | --- | --- | --- |',
        ...(formats === null ? ['| (ffmpeg missing: not measured) | | | | |'] : formats.map((r) => `| ${r.name} | ${f(median(r.ours))} | ${f(median(r.ffmpeg))} | ${(median(r.ours) / median(r.ffmpeg)).toFixed(2)} | ${f(median(r.oursTo16k))} |`)),
        '',
        'The machine is shared (2 cores, other jobs running): absolute figures move with the load; the ratio to the',
        'peer measured in the same run is the comparable number.',
      ].join('\n');
      return { id: 'audio', title: 'Audio: log-mel throughput vs torchaudio', markdown, figures };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
