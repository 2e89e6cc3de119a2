// A poison job on real workers: `mmfuse prepare --redis` over a manifest where one file kills any worker
// that prepares it (tests/distributed/crash-plugin.ts). Its chunk is taken over a bounded number of times
// (`--max-stalls 1`: two workers die, no more; a lock of 8 s keeps a live worker starved of CPU on a
// loaded machine from being taken for dead), then reported as failed (exit 1, the chunk's samples named
// as not prepared); every other chunk is prepared, and the workers started after the crashes go on working.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { jsonl } from '../cli/fixtures.js';
import { repoRoot } from '../cli/helpers.js';
import { runMmfuse, startMmfuse, stopAll } from './cli-helpers.js';
import type { Proc } from './cli-helpers.js';
import { CRASH_MAGIC } from './crash-plugin.js';
import { startRedis } from './redis-server.js';
import type { RedisServer } from './redis-server.js';

// Every test here starts real processes (tsx, the engine, Redis): limits are hang detection only, sized for a
// machine loaded far beyond its cores.
vi.setConfig({ testTimeout: 1_200_000, hookTimeout: 1_200_000 });

let dir: string;
let redis: RedisServer;
const N = 140; // chunks of 64: lines 1-64, 65-128 (with the poison line), 129-140
const POISON_LINE = 100;

/** A float32 trace of 32 samples; the poison one starts with the crash bytes (still a multiple of 4). */
function trace(i: number, poison = false): Buffer {
  const out = Buffer.alloc(32 * 4);
  for (let k = 0; k < 32; k++) out.writeFloatLE(Math.sin(i + k / 4), k * 4);
  if (poison) out.write(CRASH_MAGIC, 0, 'latin1');
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-dist-poison-'));
  redis = await startRedis();
  mkdirSync(path.join(dir, 'traces'));
  const rows = Array.from({ length: N }, (_, k) => {
    const line = k + 1;
    writeFileSync(path.join(dir, 'traces', `t${line}.f32`), trace(line, line === POISON_LINE));
    return { id: `t${line}`, trace: `traces/t${line}.f32`, label: line % 2 === 0 ? 'even' : 'odd' };
  });
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows));
  writeFileSync(path.join(dir, 'model.yaml'), [
    `plugins: [${JSON.stringify(path.relative(dir, path.join(repoRoot, 'tests/distributed/crash-plugin.ts')))}]`,
    'inputs:',
    '  trace: { type: signal, encoder: { kind: crashy, frame: 8, dim: 8 } }',
    'output: { field: label }',
    'fusion: { dModel: 16, heads: 2, layers: 1, ffDim: 32 }',
    'data: { train: train.jsonl }',
  ].join('\n'));
});

afterAll(async () => {
  await stopAll();
  await redis?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('a poison job (its input kills every worker that takes it)', () => {
  it('is taken over a bounded number of times, then reported; every other chunk is prepared', async () => {
    // Two workers at all times: a worker that dies is replaced, as a process supervisor would.
    const workers: Proc[] = [];
    const alive = (): Proc[] => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const spawnWorker = (): void => { workers.push(startMmfuse(['worker', '--redis', redis.url, '--max-stalls', '1', '--lock-seconds', '8'], { cwd: dir })); };
    spawnWorker();
    spawnWorker();
    await Promise.all(workers.map((w) => w.waitFor(/ready: /)));
    const supervisor = setInterval(() => { while (alive().length < 2) spawnWorker(); }, 200);
    let r: Awaited<ReturnType<typeof runMmfuse>>;
    try {
      r = await runMmfuse(['prepare', 'model.yaml', '--cache', 'cache', '--redis', redis.url, '--json'], { cwd: dir });
    } finally {
      clearInterval(supervisor);
    }
    const killed = workers.filter((w) => (w.child as ChildProcess).signalCode === 'SIGKILL');
    // Bounded: the first worker to take the chunk dies, one other takes it over and dies, then it fails.
    expect(killed).toHaveLength(2);
    for (const w of killed) expect(w.stderr()).toMatch(/started prepare-chunk/);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(out.failedJobs).toBe(1);
    expect(out.sets).toEqual([{ set: 'train', manifest: path.join(dir, 'train.jsonl'), samples: N, prepared: N - 64, skipped: 0 }]);
    expect(r.stderr).toMatch(/train: a chunk of 64 samples could not be prepared: \[\w+\] [^\n]*stalled/);
    expect(r.stderr).toMatch(/train: 76 of 140 samples prepared/);
    // Every sample of the other chunks is in the cache (one entry per trace file: all distinct), and the
    // poison file is not (samples of its chunk prepared before the crash may be).
    const entries = readdirSync(path.join(dir, 'cache'), { withFileTypes: true }).filter((d) => d.isDirectory()) // not the folder's marker file
      .flatMap((d) => readdirSync(path.join(dir, 'cache', d.name))).filter((f) => f.endsWith('.v8'));
    expect(entries.length).toBeGreaterThanOrEqual(N - 64);
    expect(entries.length).toBeLessThan(N);
    expect(out.entries.writes).toBeGreaterThanOrEqual(N - 64);
    // The workers that are left still work: a manifest without the poison line is prepared in full.
    writeFileSync(path.join(dir, 'train.jsonl'), jsonl(Array.from({ length: N }, (_, k) => k + 1).filter((l) => l !== POISON_LINE).map((l) => ({ id: `t${l}`, trace: `traces/t${l}.f32`, label: l % 2 === 0 ? 'even' : 'odd' }))));
    const again = await runMmfuse(['prepare', 'model.yaml', '--cache', 'cache', '--redis', redis.url, '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ failedJobs: 0, sets: [{ samples: N - 1, prepared: N - 1 }] });
    expect(alive()).toHaveLength(2);
  });
});
