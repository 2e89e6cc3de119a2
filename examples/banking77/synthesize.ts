/**
 * Turns Banking77 (text only) into a text + voice set: every query is spoken by espeak-ng in one of several
 * voices and speeds, converted to 8 kHz mono 16-bit WAV, and mixed with white noise at a random SNR. Reads
 * the CSVs in place and writes only under the output folder (git-ignored).
 *
 *   node --conditions=source --import tsx examples/banking77/synthesize.ts [--data DIR] [--out DIR] [--limit N] [--jobs N]
 *
 * --data   Banking77 folder with train.csv and test.csv; default $BANKING77_DIR or ../shared/datasets/banking77
 *          (relative to the repository root).
 * --out    Output folder; default examples/banking77/out.
 * --limit  Keep only the first N rows of each split (a quick trial); default all.
 * --jobs   Parallel espeak-ng/sox processes; default 2.
 *
 * Writes OUT/clips/{train,test}/NNNNN.wav and OUT/{train,test}.jsonl with fields
 * id, text, audio, label, voice, speedWpm, snrDb. Existing clips are kept (delete OUT to start over).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRng, loadManifest } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { readWavPcm16, writeWavPcm16 } from '../../scripts/synth/wav.js';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

/** espeak-ng voices (language + variant): US, British, Scottish, Caribbean and RP English, male and female. */
const VOICES = ['en-us', 'en-us+f3', 'en-gb', 'en-gb+f2', 'en-gb-scotland+m3', 'en-029+f4', 'en-gb-x-rp+m5', 'en-us-nyc+f1'];
const SPEED_WPM: [number, number] = [135, 200];
const SNR_DB: [number, number] = [5, 25];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Add white noise at `snrDb` relative to the speech power; rescale (never clip) if a peak passes full scale. */
function addNoise(samples: Float32Array, snrDb: number, rng: Rng): Float32Array {
  let power = 0;
  for (const x of samples) power += x * x;
  power /= Math.max(1, samples.length);
  const std = Math.sqrt(power / 10 ** (snrDb / 10));
  const out = new Float32Array(samples.length);
  let peak = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = (samples[i] as number) + rng.normal(0, std);
    peak = Math.max(peak, Math.abs(out[i] as number));
  }
  if (peak > 0.99) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) * (0.99 / peak);
  return out;
}

interface Job { id: string; text: string; label: string; file: string; voice: string; speedWpm: number; snrDb: number; seed: number }

async function synthesizeOne(job: Job, tmpDir: string): Promise<void> {
  if (existsSync(job.file)) return;
  const raw = path.join(tmpDir, `${job.id}.raw.wav`);
  const clean = path.join(tmpDir, `${job.id}.clean.wav`);
  await run('espeak-ng', ['-v', job.voice, '-s', String(job.speedWpm), '-w', raw, job.text]);
  await run('sox', ['-D', raw, '-r', '8000', '-c', '1', '-b', '16', clean, 'gain', '-3',
    'silence', '1', '0.02', '0.5%', 'reverse', 'silence', '1', '0.02', '0.5%', 'reverse']);
  const audio = readWavPcm16(clean);
  const tmpOut = `${job.file}.part`;
  writeWavPcm16(tmpOut, { samples: addNoise(audio.samples, job.snrDb, createRng(job.seed)), sampleRateHz: audio.sampleRateHz });
  renameSync(tmpOut, job.file); // a clip exists only once complete, so an interrupted run resumes safely
  rmSync(raw, { force: true });
  rmSync(clean, { force: true });
}

async function main(): Promise<void> {
  const dataDir = path.resolve(arg('data') ?? process.env.BANKING77_DIR ?? path.join(REPO, '..', 'shared', 'datasets', 'banking77'));
  const outDir = path.resolve(arg('out') ?? path.join(HERE, 'out'));
  const limit = arg('limit') === undefined ? Infinity : positiveInt('limit', arg('limit'), 1);
  const jobs = positiveInt('jobs', arg('jobs'), 2);
  if (!existsSync(path.join(dataDir, 'train.csv'))) {
    throw new Error([
      `Banking77 not found: expected ${path.join(dataDir, 'train.csv')} and test.csv (columns text,category).`,
      'Get them from the PolyAI-LDN/task-specific-datasets repository on GitHub, folder banking_data/ (CC BY 4.0), e.g.',
      '  git clone --depth 1 https://github.com/PolyAI-LDN/task-specific-datasets && cp task-specific-datasets/banking_data/{train,test}.csv DIR/',
      'then pass --data DIR or set BANKING77_DIR=DIR (default: ../shared/datasets/banking77 beside the repository).',
    ].join('\n'));
  }
  const tmpDir = path.join(os.tmpdir(), `mmfuse-banking77-${process.pid}`);
  mkdirSync(tmpDir, { recursive: true });
  const root = createRng(77);

  for (const split of ['train', 'test'] as const) {
    const { samples } = await loadManifest(path.join(dataDir, `${split}.csv`), { fields: { text: 'string', category: 'label' }, required: ['text', 'category'] });
    const rows = samples.slice(0, limit);
    mkdirSync(path.join(outDir, 'clips', split), { recursive: true });
    const rng = root.fork(split);
    const list: Job[] = rows.map((s, i) => {
      const id = `${split}-${String(i).padStart(5, '0')}`;
      return {
        id,
        text: s.fields.text as string,
        label: String(s.fields.category),
        file: path.join(outDir, 'clips', split, `${String(i).padStart(5, '0')}.wav`),
        voice: VOICES[rng.int(VOICES.length)]!,
        speedWpm: Math.round(rng.uniform(SPEED_WPM[0], SPEED_WPM[1])),
        snrDb: Math.round(rng.uniform(SNR_DB[0], SNR_DB[1]) * 10) / 10,
        seed: rng.nextSeed(),
      };
    });
    let next = 0;
    let done = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        const job = list[next++]!;
        await synthesizeOne(job, tmpDir);
        if (++done % 500 === 0) console.log(`${split}: ${done}/${list.length} clips (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    };
    await Promise.all(Array.from({ length: jobs }, worker));
    const lines = list.map((j) => JSON.stringify({
      id: j.id, text: j.text, audio: path.relative(outDir, j.file).split(path.sep).join('/'), label: j.label, voice: j.voice, speedWpm: j.speedWpm, snrDb: j.snrDb,
    }));
    writeFileSync(path.join(outDir, `${split}.jsonl`), `${lines.join('\n')}\n`);
    console.log(`${split}: ${list.length} samples → ${path.join(outDir, `${split}.jsonl`)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  rmSync(tmpDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
