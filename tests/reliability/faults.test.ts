// Faults: training processes SIGKILLed at seeded random moments (one of them while a checkpoint is being
// written) always leave a loadable latest checkpoint, and a resumed run (library, and `mmfuse train
// --checkpoint DIR --resume`, an ensemble killed inside its second member too) continues from it to the end,
// cleaning up the temp folders of cut writes; a
// crash between the two renames of a checkpoint swap loses nothing; a model folder with one flipped byte in
// its weights is refused at load (library and CLI); two processes filling the same feature cache at once
// leave every entry readable and equal to an uncontended run's, and a truncated entry is rewritten.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError, createRng } from '@mmfuse/core';
import { FusionModel, trainFromManifest } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { jsonl, writeSamples } from '../cli/fixtures.js';
import { HANG_MILLIS, repoRoot } from '../cli/helpers.js';

const child = path.join(repoRoot, 'tests/reliability/train-child.ts');
const EPOCHS = 14;
let dir: string;
let distinctTexts: number;

function config(inputs: Array<'text' | 'audio'>, epochs: number): FusionModelConfig {
  const all = {
    text: { type: 'text', encoder: { kind: 'text/rnn', cell: 'gru', embeddingDim: 8, hiddenSize: 8, bidirectional: false } },
    audio: { type: 'audio', encoder: { kind: 'audio/cnn', sampleRateHz: 16000, features: 'log-mel', nMels: 20, channels: [4] } },
  };
  return {
    inputs: Object.fromEntries(inputs.map((m) => [m, all[m]])),
    output: { field: 'label', type: 'category' },
    fusion: { strategy: 'transformer', dModel: 8, layers: 1, heads: 2, ffDim: 16 },
    training: { epochs, batchSize: 8, learningRate: 0.003, earlyStoppingPatience: null, seed: 3 },
  } as unknown as FusionModelConfig;
}

interface Run {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** When each `epoch N` line of this run arrived (ms since epoch). */
  epochTimes: number[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startTraining(args: { config: string; ckpt: string; out: string; resume: boolean; cache?: string; pauseInCheckpointWrite?: boolean }): Run {
  const argv = ['--conditions=source', '--import', 'tsx', child, args.config, path.join(dir, 'train.jsonl'), args.ckpt, args.out, args.resume ? '1' : '0', ...(args.cache ? [args.cache] : [])];
  const env = { ...process.env, MMFUSE_ENGINE: 'wasm', ...(args.pauseInCheckpointWrite === true ? { PAUSE_IN_CHECKPOINT_WRITE: '1' } : {}) };
  const proc = spawn(process.execPath, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const epochTimes: number[] = [];
  proc.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
    const seen = (stdout.match(/^epoch \d+$/gm) ?? []).length;
    while (epochTimes.length < seen) epochTimes.push(Date.now());
  });
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  // A hung child must fail the test, not the suite (hang detection only: generous on a loaded machine).
  const timer = setTimeout(() => proc.kill('SIGKILL'), HANG_MILLIS);
  void exited.then(() => clearTimeout(timer));
  return { proc, stdout: () => stdout, stderr: () => stderr, epochTimes, exited };
}

/** Resolves when `check` is true, polling every ~2 ms (a checkpoint write lasts a few ms). */
async function until(check: () => boolean, run: Run, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  let done = false;
  void run.exited.then(() => { done = true; });
  while (!done && Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

const epochsPrinted = (run: Run): number => (run.stdout().match(/^epoch \d+$/gm) ?? []).length;
const checkpointEpoch = (ckpt: string): number => (JSON.parse(readFileSync(path.join(ckpt, 'last', 'trainer.json'), 'utf8')) as { state: { epoch: number } }).state.epoch;

/** `mmfuse train ARGS --json` in a child: the CLI's own entry point, not the launcher, so SIGKILL reaches the process that trains. */
function cliTrain(args: string[]): Run {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', pathToFileURL(path.join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href, path.join(repoRoot, 'packages/cli/src/main.ts'), 'train', ...args, '--json'], { cwd: dir, env: { ...process.env, MMFUSE_ENGINE: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => proc.kill('SIGKILL'), HANG_MILLIS);
  void exited.then(() => clearTimeout(timer));
  return { proc, stdout: () => stdout, stderr: () => stderr, epochTimes: [], exited };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-faults-'));
  const rows = await writeSamples(dir, 's', 32);
  distinctTexts = new Set(rows.map((r) => r.text)).size;
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows.map((r) => ({ id: r.id, text: r.text, audio: r.audio, label: r.label }))));
  writeFileSync(path.join(dir, 'text.json'), JSON.stringify(config(['text'], EPOCHS)));
  writeFileSync(path.join(dir, 'text-audio.json'), JSON.stringify(config(['text', 'audio'], 1)));
});

describe('training killed with SIGKILL', () => {
  it('always leaves a loadable latest checkpoint, and resuming continues from it to the end', async () => {
    const ckpt = path.join(dir, 'ckpt');
    const out = path.join(dir, 'killed-model');
    const rng = createRng(20261130);
    const cfg = path.join(dir, 'text.json');
    let lastEpoch = 0;
    // Three kills: at a random moment after the first epoch, the moment a checkpoint temp folder appears
    // (mid-write), and at a random moment again.
    for (const moment of ['random', 'during-checkpoint-write', 'random'] as const) {
      // Temp folders left by an earlier kill do not count as a write in progress.
      const stale = new Set(existsSync(ckpt) ? readdirSync(ckpt) : []);
      const run = startTraining({ config: cfg, ckpt, out, resume: lastEpoch > 0, pauseInCheckpointWrite: moment === 'during-checkpoint-write' });
      if (moment === 'random') {
        // A random moment inside a random epoch, scaled by this machine's measured epoch time, so the kill
        // lands mid-training however fast or loaded the machine is (a fixed delay let quiet machines finish).
        const target = 2 + rng.int(2);
        expect(await until(() => epochsPrinted(run) >= target, run, HANG_MILLIS), run.stderr()).toBe(true);
        const t = run.epochTimes;
        const epochMillis = Math.max(1, Math.floor((t[t.length - 1] ?? 0) - (t[t.length - 2] ?? 0)));
        await new Promise((r) => setTimeout(r, rng.int(epochMillis)));
      } else {
        // The child stops inside its first checkpoint write (model files written, trainer.json not yet) and says so.
        const writing = await until(() => /^writing-checkpoint$/m.test(run.stdout()) && readdirSync(ckpt).some((f) => f.startsWith('.last.tmp-') && !stale.has(f)), run, HANG_MILLIS);
        expect(writing, `no checkpoint write seen; ${run.stderr()}`).toBe(true);
      }
      run.proc.kill('SIGKILL');
      const exit = await run.exited;
      if (exit.signal !== 'SIGKILL') {
        // Training finished before the kill landed: that is not the case under test.
        throw new Error(`the run ended on its own (code ${exit.code}); ${run.stderr()}`);
      }
      if (lastEpoch > 0) expect(run.stderr()).toMatch(new RegExp(`resuming from .*: epoch ${lastEpoch}`));
      // The latest checkpoint loads, and it is never older than the previous one.
      const model = await FusionModel.load(path.join(ckpt, 'last'));
      expect(model.labels).toEqual(['no', 'yes']);
      model.dispose();
      const epoch = checkpointEpoch(ckpt);
      expect(epoch).toBeGreaterThanOrEqual(lastEpoch);
      expect(epoch).toBeLessThan(EPOCHS);
      lastEpoch = epoch;
    }
    expect(lastEpoch).toBeGreaterThanOrEqual(1);
    const final = startTraining({ config: cfg, ckpt, out, resume: true });
    const exit = await final.exited;
    expect(exit.code, final.stderr()).toBe(0);
    expect(final.stderr()).toMatch(new RegExp(`resuming from .*: epoch ${lastEpoch}`));
    // Only the epochs after the checkpoint were run again; the history covers them all.
    expect(epochsPrinted(final)).toBe(EPOCHS - lastEpoch);
    const done = JSON.parse(/^done (.*)$/m.exec(final.stdout())?.[1] ?? 'null') as { history: number[] };
    expect(done.history).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(checkpointEpoch(ckpt)).toBe(EPOCHS);
    // Temp folders of writes cut short by a kill were removed when the next run resumed.
    expect(readdirSync(ckpt)).toEqual(['last']);
    const model = await FusionModel.load(out);
    expect(model.labels).toEqual(['no', 'yes']);
    model.dispose();
  });

  it('`mmfuse train --checkpoint DIR --resume` continues a run killed with SIGKILL', async () => {
    writeFileSync(path.join(dir, 'cli.yaml'), 'inputs:\n  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }\noutput: { field: label }\nfusion: { dModel: 8, heads: 2, layers: 1, ffDim: 16 }\ntraining: { epochs: 12, batchSize: 8, earlyStoppingPatience: null }\ndata: { train: train.jsonl }\n');
    const cliRun = (extra: string[]): Run => cliTrain(['cli.yaml', '--out', 'cli-model', '--checkpoint', 'cli-ckpt', ...extra]);
    const first = cliRun([]);
    expect(await until(() => /epoch 2\/12 /.test(first.stderr()), first, HANG_MILLIS), first.stderr()).toBe(true);
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const saved = checkpointEpoch(path.join(dir, 'cli-ckpt'));
    expect(saved).toBeGreaterThanOrEqual(1);
    const second = cliRun(['--resume']);
    const exit = await second.exited;
    expect(exit.code, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(new RegExp(`resuming from .*cli-ckpt: epoch ${saved}`));
    const out = JSON.parse(second.stdout().trim().split('\n').at(-1) as string);
    expect(out.epochs).toBe(12);
    expect(out.history.map((h: { epoch: number }) => h.epoch)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Only the epochs after the checkpoint ran again.
    expect(second.stderr().match(/epoch \d+\/12 /g)).toHaveLength(12 - saved);
    // --resume without a checkpoint folder is a usage error.
    let stderr = '';
    const code = await main(['train', 'cli.yaml', '--out', 'x', '--resume'], { stdout: () => {}, stderr: (t) => { stderr += t; }, cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toMatch(/--resume needs --checkpoint DIR/);
  });

  it('an ensemble killed with SIGKILL inside member 2 resumes with `--resume` to the model an uninterrupted run gives', async () => {
    writeFileSync(path.join(dir, 'ens.yaml'), 'inputs:\n  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }\noutput: { field: label }\nfusion: { dModel: 8, heads: 2, layers: 1, ffDim: 16 }\ntraining: { epochs: 8, batchSize: 8, earlyStoppingPatience: null, ensemble: 2 }\ndata: { train: train.jsonl }\n');
    const first = cliTrain(['ens.yaml', '--out', 'ens-model', '--checkpoint', 'ens-ckpt']);
    expect(await until(() => /member 2\/2: epoch 2\/8 /.test(first.stderr()), first, HANG_MILLIS), first.stderr()).toBe(true);
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const ckpt = path.join(dir, 'ens-ckpt');
    expect(checkpointEpoch(ckpt)).toBe(8); // member 1 had finished
    const saved = checkpointEpoch(path.join(ckpt, 'member-2'));
    expect(saved).toBeGreaterThanOrEqual(1); // the epoch line comes before that epoch's checkpoint is written
    expect(saved).toBeLessThan(8);
    const second = cliTrain(['ens.yaml', '--out', 'ens-model', '--checkpoint', 'ens-ckpt', '--resume']);
    expect((await second.exited).code, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(/resuming from .*ens-ckpt: its 8 epochs were done/);
    expect(second.stderr()).toMatch(new RegExp(`member 2/2: resuming from .*member-2: epoch ${saved},`));
    // Member 1 trained no further; member 2 ran only the epochs after its checkpoint.
    expect(second.stderr().match(/member 1\/2: epoch \d+\/8 /g)).toBeNull();
    expect(second.stderr().match(/member 2\/2: epoch \d+\/8 /g)).toHaveLength(8 - saved);
    // The same weights, byte for byte, as a run that was never killed.
    const reference = cliTrain(['ens.yaml', '--out', 'ens-reference']);
    expect((await reference.exited).code, reference.stderr()).toBe(0);
    expect(readFileSync(path.join(dir, 'ens-model', 'weights.bin')).equals(readFileSync(path.join(dir, 'ens-reference', 'weights.bin')))).toBe(true);
  });

  it('loses nothing when killed between the two renames that swap in a new checkpoint', async () => {
    // A checkpoint write renames `last` to `.last.old-T`, then `.last.tmp-T` to `last`. A kill between the
    // two leaves no `last`: resume must still find the checkpoint.
    const ckpt = path.join(dir, 'ckpt-swap');
    const before = tf.memory().numTensors;
    const first = await trainFromManifest({ config: config(['text'], 3), epochs: 2, train: path.join(dir, 'train.jsonl'), checkpointDir: ckpt, progress: 'lines', log: () => {} });
    first.model.dispose();
    cpSync(path.join(ckpt, 'last'), path.join(ckpt, '.last.tmp-1234-abcd'), { recursive: true });
    renameSync(path.join(ckpt, 'last'), path.join(ckpt, '.last.old-1234-abcd'));
    const lines: string[] = [];
    const resumed = await trainFromManifest({ config: config(['text'], 3), train: path.join(dir, 'train.jsonl'), checkpointDir: ckpt, resume: true, progress: 'lines', log: (l) => lines.push(l) });
    resumed.model.dispose();
    expect(lines.join('\n')).toMatch(/resuming from .*: epoch 2/);
    expect(resumed.history.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(checkpointEpoch(ckpt)).toBe(3);
    expect(readdirSync(ckpt).filter((f) => f !== 'last')).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a model folder with a flipped byte in its weights', () => {
  it('is refused at load with ModelFormatError, through the library and the CLI', async () => {
    const out = path.join(dir, 'flip-source');
    const { model } = await trainFromManifest({ config: config(['text'], 1), train: path.join(dir, 'train.jsonl'), out, progress: 'lines', log: () => {} });
    model.dispose();
    const rng = createRng(99);
    const size = readFileSync(path.join(out, 'weights.bin')).length;
    for (let k = 0; k < 3; k++) {
      const flipped = path.join(dir, `flipped-${k}`);
      cpSync(out, flipped, { recursive: true });
      const weights = readFileSync(path.join(flipped, 'weights.bin'));
      const at = rng.int(size);
      weights[at] = (weights[at] as number) ^ (1 << rng.int(8));
      writeFileSync(path.join(flipped, 'weights.bin'), weights);
      const before = tf.memory().numTensors;
      const err = await FusionModel.load(flipped).then(() => undefined, (e: unknown) => e);
      expect(err, `byte ${at}`).toBeInstanceOf(ModelFormatError);
      expect((err as ModelFormatError).message).toMatch(/weights\.bin/);
      expect(tf.memory().numTensors).toBe(before);
      for (const argv of [['inspect', flipped, '--json'], ['predict', '--model', flipped, '--text', 'good day', '--json']]) {
        let stdout = '';
        let stderr = '';
        const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
        expect(code, `${argv[0]}: ${stderr}`).toBe(1);
        const e = JSON.parse(stdout.trim().split('\n').at(-1) as string).error;
        expect(e.code).toBe('MODEL_FORMAT');
        expect(e.message).toMatch(/weights\.bin/);
        expect(stderr).toMatch(/MODEL_FORMAT/);
      }
    }
  });
});

describe('two processes writing the same feature cache', () => {
  it('both finish; every entry is readable and equal to an uncontended run\'s; a truncated entry is rewritten', async () => {
    const cfg = path.join(dir, 'text-audio.json');
    const reference = path.join(dir, 'cache-reference');
    const shared = path.join(dir, 'cache-shared');
    const { model } = await trainFromManifest({ config: JSON.parse(readFileSync(cfg, 'utf8')) as FusionModelConfig, train: path.join(dir, 'train.jsonl'), cacheDir: reference, progress: 'lines', log: () => {} });
    model.dispose();
    const runs = [0, 1].map((i) => startTraining({ config: cfg, ckpt: '-', out: path.join(dir, `cache-model-${i}`), resume: false, cache: shared }));
    const exits = await Promise.all(runs.map((r) => r.exited));
    exits.forEach((e, i) => expect(e.code, runs[i]?.stderr()).toBe(0));
    const entries = (root: string): string[] => readdirSync(root, { recursive: true }).map(String).filter((f) => statSync(path.join(root, f)).isFile()).sort();
    const ref = entries(reference);
    // One entry per distinct text and per clip.
    expect(ref.filter((f) => f.endsWith('.v8'))).toHaveLength(distinctTexts + 32);
    expect(entries(shared)).toEqual(ref);
    for (const f of ref) {
      const bytes = readFileSync(path.join(shared, f));
      expect(bytes.equals(readFileSync(path.join(reference, f))), f).toBe(true);
      // Entries are v8-serialized values; the folder's marker (.mmfuse-cache.json, which says it is mmfuse's) is JSON.
      if (f.endsWith('.v8')) expect(() => v8.deserialize(bytes), f).not.toThrow();
      else expect(JSON.parse(bytes.toString('utf8')), f).toMatchObject({ format: 'mmfuse-prepared-cache' });
    }
    // An entry cut short (a disk filled up, a copy interrupted) is prepared again and rewritten whole.
    const victim = ref.find((f) => f.endsWith('.v8')) as string;
    const whole = readFileSync(path.join(reference, victim));
    writeFileSync(path.join(reference, victim), whole.subarray(0, Math.floor(whole.length / 3)));
    const again = await trainFromManifest({ config: JSON.parse(readFileSync(cfg, 'utf8')) as FusionModelConfig, train: path.join(dir, 'train.jsonl'), cacheDir: reference, progress: 'lines', log: () => {} });
    again.model.dispose();
    expect(readFileSync(path.join(reference, victim)).equals(whole)).toBe(true);
  });
});
