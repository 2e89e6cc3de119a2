// `mmfuse hyperopt`: random search + ASHA over a tiny text model, in this process, in two child processes
// (--parallel 2) and on two real worker processes through a real redis-server. Trials sample the same
// values wherever they run (seeded per trial) and train to the same numbers; ASHA stops exactly the trials
// its rule says; a trial whose values the config refuses fails alone; results come as JSON and HTML and
// the best model folder is kept (the beaten ones are removed).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ashaContinues } from '@mmfuse/distributed';
import { writeProject } from '../cli/fixtures.js';
import { runMmfuse, startWorker, stopAll } from './cli-helpers.js';
import { startRedis } from './redis-server.js';
import type { RedisServer } from './redis-server.js';

// Every test here starts real processes (tsx, the engine, Redis): limits are hang detection only, sized for a
// machine loaded far beyond its cores.
vi.setConfig({ testTimeout: 1_200_000, hookTimeout: 1_200_000 });

let dir: string;
let redis: RedisServer;
const SPACE = `# a tiny search: heads 3 does not divide dModel 16, so those trials fail alone
seed: 5
includeConfig: true
asha: { minEpochs: 1, reductionFactor: 2, maxEpochs: 4 }
params:
  training.learningRate: { type: log-uniform, min: 0.001, max: 0.03 }
  fusion.heads: { type: choice, values: [2, 3] }
  inputs.text.encoder.hiddenSize: { type: int, min: 4, max: 12, step: 4 }
`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-dist-hyperopt-'));
  redis = await startRedis();
  await writeProject(dir, ['text']);
  writeFileSync(path.join(dir, 'space.yaml'), SPACE);
});

afterAll(async () => {
  await stopAll();
  await redis?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const runs: Record<string, any> = {};

async function search(name: string, extra: string[]): Promise<any> {
  const r = await runMmfuse(['hyperopt', 'model.yaml', '--space', 'space.yaml', '--trials', '6', '--out', name, '--json', ...extra], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  runs[name] = out;
  return out;
}

function checkSearch(out: any, name: string): void {
  const byTrial = new Map<number, any>(out.trials.map((t: any) => [t.trial, t]));
  expect([...byTrial.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  expect(byTrial.get(1).params).toEqual({});
  expect(byTrial.get(1).baseline).toBe(true);
  // Trials with heads 3 fail alone, with the config's own error; the others ran.
  for (const t of out.trials) {
    if (t.params['fusion.heads'] === 3) {
      expect(t.status).toBe('failed');
      expect(t.error).toMatchObject({ code: 'CONFIG' });
      expect(t.error.message).toMatch(/fusion\.heads: must divide dModel 16, got 3/);
    } else {
      expect(['completed', 'stopped']).toContain(t.status);
      expect(t.valLossHistory).toHaveLength(t.epochs);
      expect(t.metric).toBe(Math.min(...t.valLossHistory));
      if (t.status === 'stopped') expect(out.rungs).toContain(t.epochs);
      else expect(t.epochs).toBe(4);
    }
  }
  expect(out.failed).toBeGreaterThan(0);
  expect(out.failed).toBeLessThan(6);
  // The best trial is the lowest validation loss, at least as good as the config as written.
  const ok = out.trials.filter((t: any) => t.status !== 'failed');
  expect(out.best.metric).toBe(Math.min(...ok.map((t: any) => t.metric)));
  expect(out.best.metric).toBeLessThanOrEqual(out.baseline.metric);
  // Outputs: the best model (loadable), no other trial's model left, results and report.
  const root = path.join(dir, name);
  expect(existsSync(path.join(root, 'best-model', 'model.json'))).toBe(true);
  for (const t of readdirSync(path.join(root, 'trials'))) expect(existsSync(path.join(root, 'trials', t, 'model'))).toBe(false);
  expect(JSON.parse(readFileSync(path.join(root, 'results.json'), 'utf8')).best.trial).toBe(out.best.trial);
  const html = readFileSync(path.join(root, 'report.html'), 'utf8');
  expect(html).toMatch(/<table class="trials">/);
  expect(html).toMatch(/<tr class="best">/);
  for (let t = 1; t <= 6; t++) expect(html).toContain(`<td>${t}${t === 1 ? ' (config)' : ''}</td>`);
}

describe('mmfuse hyperopt', () => {
  it('runs trials one after another in this process; ASHA stops exactly the trials its rule says', async () => {
    const out = await search('local', []);
    checkSearch(out, 'local');
    expect(out.executor).toBe('this process');
    // Replay ASHA in trial order (the order this process ran them): each trial's best value at each rung
    // against the values recorded there before it.
    const tables = new Map<number, number[]>();
    const sorted = [...out.trials].filter((t: any) => t.status !== 'failed').sort((a: any, b: any) => a.trial - b.trial);
    for (const t of sorted) {
      let stoppedAt: number | undefined;
      for (const rung of out.rungs as number[]) {
        if (t.valLossHistory.length < rung) break;
        const best = Math.min(...t.valLossHistory.slice(0, rung));
        const others = tables.get(rung) ?? [];
        tables.set(rung, [...others, best]);
        if (!ashaContinues(best, others, 2, false)) { stoppedAt = rung; break; }
      }
      expect(t.status === 'stopped' ? t.epochs : undefined).toBe(stoppedAt);
    }
    expect(out.stopped).toBeGreaterThan(0);
  });

  it('samples and trains the same trials in two child processes (--parallel 2) and on two workers (--redis)', async () => {
    const [w1, w2] = await Promise.all([startWorker(redis.url, dir), startWorker(redis.url, dir)]);
    const [children, workers] = await Promise.all([search('children', ['--parallel', '2']), search('workers', ['--redis', redis.url])]);
    expect(children.executor).toBe('2 child processes');
    expect(workers.executor).toMatch(/^redis:/);
    for (const out of [children, workers]) {
      checkSearch(out, out === children ? 'children' : 'workers');
      for (const t of out.trials) {
        const same = runs.local.trials.find((x: any) => x.trial === t.trial);
        expect(t.params).toEqual(same.params);
        // Deterministic training: where both ran an epoch, the same validation loss.
        const n = Math.min(t.valLossHistory?.length ?? 0, same.valLossHistory?.length ?? 0);
        expect(t.valLossHistory?.slice(0, n)).toEqual(same.valLossHistory?.slice(0, n));
      }
    }
    // Both workers ran trials.
    for (const w of [w1, w2]) expect(w.stderr()).toMatch(/finished trial/);
  });

  it('refuses a bad search space with the file and key path', async () => {
    writeFileSync(path.join(dir, 'bad-space.yaml'), 'params:\n  training.learningRate: { type: log-uniform, min: 0, max: 1 }\n');
    const r = await runMmfuse(['hyperopt', 'model.yaml', '--space', 'bad-space.yaml', '--trials', '2', '--out', 'bad', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout.trim().split('\n').at(-1) as string).error;
    expect(err).toMatchObject({ code: 'CONFIG', path: 'params.training.learningRate.min', file: path.join(dir, 'bad-space.yaml') });
    writeFileSync(path.join(dir, 'epochs-space.yaml'), 'params:\n  training.epochs: { type: int, min: 1, max: 3 }\n');
    const e = await runMmfuse(['hyperopt', 'model.yaml', '--space', 'epochs-space.yaml', '--trials', '2', '--out', 'bad', '--json'], { cwd: dir });
    expect(JSON.parse(e.stdout.trim().split('\n').at(-1) as string).error.message).toMatch(/training\.epochs: the epoch budget is not searched/);
    const used = await runMmfuse(['hyperopt', 'model.yaml', '--space', 'space.yaml', '--trials', '2', '--out', 'local'], { cwd: dir });
    expect(used.code).toBe(2);
    expect(used.stderr).toMatch(/--out .*local is not empty/);
  });
});
