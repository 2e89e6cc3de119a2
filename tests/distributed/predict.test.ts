// `mmfuse predict --data M --redis URL` on two real worker processes and a real redis-server: the output
// is byte for byte the local run's (every line once, in manifest order, bad samples included), also when a
// worker is SIGKILLed mid-run and when Redis restarts mid-run (with or without its data); clear errors
// when Redis is unreachable; worker health and graceful SIGTERM.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { jsonl, writeProject } from '../cli/fixtures.js';
import { runMmfuse, startMmfuse, startWorker, stopAll } from './cli-helpers.js';
import type { Proc } from './cli-helpers.js';
import { startRedis } from './redis-server.js';
import type { RedisServer } from './redis-server.js';

// Every test here starts real processes (tsx, the engine, Redis): limits are hang detection only, sized for a
// machine loaded far beyond its cores.
vi.setConfig({ testTimeout: 1_200_000, hookTimeout: 1_200_000 });

let dir: string;
let redis: RedisServer;
let local: string;
let localStderr: string;
const workers: Proc[] = [];
/** A killed worker's chunk goes to the other after about this long (a live one renews its lock every 2 s). */
const LOCK = ['--lock-seconds', '4'];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-dist-predict-'));
  redis = await startRedis();
  await writeProject(dir);
  // 520 lines: 20 copies of the evaluation and training manifests, with their bad lines (a missing image,
  // broken JSON, an unknown label, a file that is not audio): 9 chunks.
  const ev = readFileSync(path.join(dir, 'eval.jsonl'), 'utf8').trim().split('\n');
  const tr = readFileSync(path.join(dir, 'train.jsonl'), 'utf8').trim().split('\n');
  writeFileSync(path.join(dir, 'long.jsonl'), jsonl(Array.from({ length: 20 }, () => [...ev, ...tr]).flat()));
  const [trained, w1, w2] = await Promise.all([
    runMmfuse(['train', 'model.yaml', '--out', 'model', '--epochs', '2', '--seed', '3'], { cwd: dir }),
    startWorker(redis.url, dir, LOCK),
    startWorker(redis.url, dir, [...LOCK, '--health-port', '0']),
  ]);
  if (trained.code !== 0) throw new Error(`train failed: ${trained.stderr}`);
  workers.push(w1, w2);
  const r = await runMmfuse(['predict', '--model', 'model', '--data', 'long.jsonl', '--json'], { cwd: dir });
  if (r.code !== 0) throw new Error(`local predict failed: ${r.stderr}`);
  local = r.stdout;
  localStderr = r.stderr;
});

afterAll(async () => {
  await stopAll();
  await redis?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The skipped-sample lines of a run's stderr. */
const skips = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('mmfuse predict: skipped'));

describe('mmfuse predict --data --redis (2 workers)', () => {
  it('writes byte for byte what a local run writes: one line per manifest line, in order, bad samples included', async () => {
    const lines = local.trim().split('\n');
    expect(lines).toHaveLength(521);
    expect(JSON.parse(lines.at(-1) as string)).toEqual({ n: 520, predicted: 460, failed: 60 });
    const r = await runMmfuse(['predict', '--model', 'model', '--data', 'long.jsonl', '--redis', redis.url, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(local);
    // The same bad-sample reports on stderr, in the same order.
    expect(skips(r.stderr)).toEqual(skips(localStderr));
    expect(skips(r.stderr)).toHaveLength(60);
    // Both workers took chunks.
    for (const w of workers) expect(w.stderr()).toMatch(/finished predict-chunk/);
  });

  it('loses nothing and repeats nothing when a worker is SIGKILLed mid-run: its chunk goes to the other worker', async () => {
    const [victim] = workers.splice(0, 1) as [Proc];
    const before = (victim.stderr().match(/started predict-chunk/g) ?? []).length;
    const run = startMmfuse(['predict', '--model', 'model', '--data', 'long.jsonl', '--redis', redis.url, '--json'], { cwd: dir });
    // Kill it while it holds a chunk (it takes the next one as soon as it finishes one, and 9 are queued).
    await victim.waitFor(new RegExp(`(started predict-chunk[^\\n]*\\n[^]*){${before + 1}}`));
    victim.child.kill('SIGKILL');
    const { code } = await run.exited;
    expect(code, run.stderr()).toBe(0);
    expect(run.stdout()).toBe(local);
    expect(run.stderr()).toMatch(/taken over from a worker that stopped/);
    workers.push(await startWorker(redis.url, dir, LOCK));
  });

  for (const mode of ['save', 'nosave'] as const) {
    it(`completes with the same output when Redis restarts mid-run ${mode === 'save' ? 'with its data' : 'without its data (lost jobs submitted again)'}`, async () => {
      const run = startMmfuse(['predict', '--model', 'model', '--data', 'long.jsonl', '--redis', redis.url, '--json'], { cwd: dir });
      await run.waitFor(/"line"/, { stream: 'stdout' });
      await redis.shutdown(mode);
      await redis.start();
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(0);
      expect(run.stdout()).toBe(local);
      if (mode === 'nosave') expect(run.stderr()).toMatch(/submitted again after Redis lost them|submitting lost jobs again/);
    });
  }

  it('refuses with a clear, typed error when Redis is unreachable; a worker given --connect-timeout exits 1', async () => {
    const closed = 'redis://127.0.0.1:1';
    const p = await runMmfuse(['predict', '--model', 'model', '--data', 'long.jsonl', '--redis', closed, '--json'], { cwd: dir });
    expect(p.code).toBe(1);
    const err = JSON.parse(p.stdout.trim().split('\n').at(-1) as string).error;
    expect(err).toMatchObject({ name: 'RedisUnavailableError', code: 'IO' });
    expect(err.message).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 is unreachable \(ECONNREFUSED\)/);
    const w = await runMmfuse(['worker', '--redis', closed, '--connect-timeout', '2', '--json'], { cwd: dir });
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\); retrying with back-off/);
    expect(JSON.parse(w.stdout.trim().split('\n').at(-1) as string).error.name).toBe('RedisUnavailableError');
    const noUrl = await runMmfuse(['worker'], { cwd: dir });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/needs --redis URL \(or MMFUSE_REDIS_URL\)/);
  });

  it('refuses --runtime onnx with --redis before connecting (workers run model folders on the tfjs runtime)', async () => {
    const onnx = await runMmfuse(['predict', '--model', 'model', '--data', 'long.jsonl', '--redis', 'redis://127.0.0.1:1', '--runtime', 'onnx'], { cwd: dir });
    expect(onnx.code).toBe(2);
    expect(onnx.stderr).toMatch(/--redis \(or MMFUSE_REDIS_URL\) predicts on workers, which run a model folder on the TensorFlow\.js runtime; --runtime onnx/);
  });

  it('answers GET /healthz with the worker state, and exits 0 on SIGTERM', async () => {
    const w = workers.find((x) => /health: http/.test(x.stderr())) as Proc;
    const url = (await w.waitFor(/health: (http:\S+)/))[1] as string;
    const h = await (await fetch(url)).json() as Record<string, any>;
    expect(h).toMatchObject({ status: 'ready', redis: { connected: true }, queue: 'mmfuse:jobs', kinds: ['ping', 'predict-chunk', 'prepare-chunk', 'trial'] });
    expect(h.done).toBeGreaterThan(0);
    w.child.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    expect(w.stderr()).toMatch(/SIGTERM: stopping/);
  });
});
