// `mmfuse prepare CONFIG --cache DIR [--redis URL]`: the train/validation/test manifests prepared into the
// content-keyed cache on two real worker processes, with the same bad-sample reports as in this process;
// `mmfuse train --cache DIR` then finds every sample there (no entry written or rewritten), and the cache
// answers every training sample as a disk hit; `train --redis --cache` prepares on the workers first.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadManifest } from '@mmfuse/core';
import { FusionModel, PrepareCache, loadConfigFile, manifestFields, prepareAll } from '@mmfuse/fusion';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';
import { writeProject } from '../cli/fixtures.js';
import { runMmfuse, startWorker, stopAll } from './cli-helpers.js';
import { startRedis } from './redis-server.js';
import type { RedisServer } from './redis-server.js';

// Every test here starts real processes (tsx, the engine, Redis): limits are hang detection only, sized for a
// machine loaded far beyond its cores.
vi.setConfig({ testTimeout: 1_200_000, hookTimeout: 1_200_000 });

let dir: string;
let redis: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-dist-prepare-'));
  redis = await startRedis();
  await Promise.all([writeProject(dir), startWorker(redis.url, dir), startWorker(redis.url, dir)]);
});

afterAll(async () => {
  await stopAll();
  await redis?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Every cache entry: file name → [inode, mtime, size]. */
function snapshot(cache: string): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  for (const sub of readdirSync(cache)) {
    if (!statSync(path.join(cache, sub)).isDirectory()) continue; // the folder's own marker file (.mmfuse-cache.json)
    for (const f of readdirSync(path.join(cache, sub))) {
      const st = statSync(path.join(cache, sub, f));
      out.set(`${sub}/${f}`, [st.ino, st.mtimeMs, st.size]);
    }
  }
  return out;
}

const skipLines = (stderr: string): string[] => stderr.split('\n').filter((l) => / skipped /.test(l)).map((l) => l.replace(/^mmfuse \w+: /, ''));

describe('mmfuse prepare (2 workers) and train --cache', () => {
  it('prepares every manifest on the workers with the reports of a local run; train then prepares nothing again', async () => {
    const [localRun, distRun] = await Promise.all([
      runMmfuse(['prepare', 'model.yaml', '--cache', 'cache-local', '--json'], { cwd: dir }),
      runMmfuse(['prepare', 'model.yaml', '--cache', 'cache', '--redis', redis.url, '--json'], { cwd: dir }),
    ]);
    expect(localRun.code, localRun.stderr).toBe(0);
    expect(distRun.code, distRun.stderr).toBe(0);
    const local = JSON.parse(localRun.stdout.trim().split('\n').at(-1) as string);
    const dist = JSON.parse(distRun.stdout.trim().split('\n').at(-1) as string);
    expect(dist.executor).toMatch(/^redis:\/\/127\.0\.0\.1:\d+ \(queue mmfuse:jobs\)$/);
    expect(local.executor).toBe('this process');
    // Same sets, counts and bad-sample reports (file, line, field, reason), in the same order.
    expect(dist.sets).toEqual(local.sets);
    expect(dist.skipped).toEqual(local.skipped);
    expect(skipLines(distRun.stderr)).toEqual(skipLines(localRun.stderr));
    expect(dist.sets.map((s: any) => [s.set, s.samples, s.prepared])).toEqual([['train', 17, 16], ['validation', 6, 6], ['test', 9, 7]]);
    expect(dist.skipped.map((s: any) => [s.set, s.line, s.field ?? null, s.code])).toEqual([
      ['train', 9, 'audio', 'INVALID_INPUT'],
      ['test', 1, 'image', 'INVALID_INPUT'],
      ['test', 2, null, 'INVALID_INPUT'],
    ]);
    expect(dist.skipped[0].reason).toMatch(/not an audio file/);
    // Content-keyed: the workers wrote exactly the entries this process wrote.
    const before = snapshot(path.join(dir, 'cache'));
    expect([...before.keys()].sort()).toEqual([...snapshot(path.join(dir, 'cache-local')).keys()].sort());
    // (Two workers that meet the same content at once both write it, atomically: never fewer writes than entries.)
    expect(before.size).toBeGreaterThan(30);
    expect(before.size).toBeLessThanOrEqual(dist.entries.writes);

    // Training finds every sample: not one entry is written or rewritten.
    const train = await runMmfuse(['train', 'model.yaml', '--out', 'model', '--epochs', '1', '--cache', 'cache', '--json'], { cwd: dir });
    expect(train.code, train.stderr).toBe(0);
    expect(snapshot(path.join(dir, 'cache'))).toEqual(before);

    // And counted: every input of every training and validation sample is a cache hit, read from disk
    // (or, for content already met in this pass, e.g. a repeated text, from the cache's memory).
    const cfg = await loadConfigFile(path.join(dir, 'model.yaml'));
    const model = FusionModel.create(cfg.config);
    try {
      const s = model.state;
      const cache = new PrepareCache(path.join(dir, 'cache'));
      let inputs = 0;
      for (const file of [cfg.data.train, cfg.data.validation] as string[]) {
        const { samples } = await loadManifest(file, { fields: manifestFields(cfg.config, { withTarget: true }), onError: 'skip' });
        const good = samples.filter((x) => x.id !== 'bad-train');
        inputs += good.reduce((a, x) => a + s.fields.filter((f) => x.fields[f] !== undefined).length, 0);
        const outcomes = await prepareAll(good, { ...s.prepareOptions(cache), concurrency: 1 });
        expect(outcomes.every((o) => o.ok)).toBe(true);
      }
      expect(inputs).toBe(22 * 3);
      expect(cache.stats).toMatchObject({ misses: 0, writes: 0 });
      expect(cache.stats.diskHits + cache.stats.memoryHits).toBe(inputs);
      expect(cache.stats.diskHits).toBeGreaterThan(0);
      expect(cache.stats.diskHits).toBeLessThanOrEqual(before.size);
    } finally {
      model.dispose();
    }
  });

  it('train --redis --cache prepares on the workers first and reports bad samples as a plain train does', async () => {
    const [plain, dist] = await Promise.all([
      runMmfuse(['train', 'model.yaml', '--out', 'model-plain', '--epochs', '1', '--json'], { cwd: dir }),
      runMmfuse(['train', 'model.yaml', '--out', 'model-dist', '--epochs', '1', '--cache', 'cache-train', '--redis', redis.url, '--json'], { cwd: dir }),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(dist.code, dist.stderr).toBe(0);
    expect(dist.stderr).toMatch(/prepared 22 samples on workers \(\d+ new cache entries, \d+ already cached\); 1 refused, reported below/);
    const a = JSON.parse(plain.stdout.trim().split('\n').at(-1) as string);
    const b = JSON.parse(dist.stdout.trim().split('\n').at(-1) as string);
    expect(b.skipped).toEqual(a.skipped);
    expect(b.history.map((h: any) => h.metrics.trainLoss)).toEqual(a.history.map((h: any) => h.metrics.trainLoss));
    const missing = await runMmfuse(['train', 'model.yaml', '--out', 'x', '--redis', redis.url], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give --cache DIR/);
  });
});
