// @mmfuse/distributed on the real Redis server (Debian redis-server, started per file on a free port):
// ordered fan-out through BullMQ workers, typed errors across the wire, bounded retries of a poison job,
// a bad input failing alone, workers that wait out an unreachable Redis, Redis restarts with and without
// its data, jobs handed back on shutdown, and a worker process that dies mid-job.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InternalError, InvalidInputError } from '@mmfuse/core';
import { LocalExecutor, RedisExecutor, RedisUnavailableError, runOrdered, startWorker } from '@mmfuse/distributed';
import type { JobHandlers, WorkerHandle } from '@mmfuse/distributed';
import { closedPort, startRedis } from './redis-server.js';
import type { RedisServer } from './redis-server.js';

// Every test here starts real processes (tsx, the engine, Redis): limits are hang detection only, sized for a
// machine loaded far beyond its cores.
vi.setConfig({ testTimeout: 1_200_000, hookTimeout: 1_200_000 });

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `check` holds (hang detection only: generous). */
async function until(check: () => boolean | Promise<boolean>, what: string, millis = 300_000): Promise<void> {
  const end = Date.now() + millis;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const calls = new Map<number, number>();
/** While true, jobs with `waitMillis` wait (until their signal aborts); the hand-back test ends the wait. */
let hold = true;
const handlers: JobHandlers = {
  double: async (data: { n: number; waitMillis?: number; bad?: boolean; poison?: boolean }, ctx) => {
    calls.set(data.n, (calls.get(data.n) ?? 0) + 1);
    if (data.bad === true) throw new InvalidInputError('not a number we like', { sample: `s${data.n}`, field: 'n' });
    if (data.poison === true) throw new Error('a bug that happens every time');
    if (data.waitMillis !== undefined) {
      const end = Date.now() + data.waitMillis;
      while (hold && Date.now() < end) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await sleep(20);
      }
    }
    return { n: data.n * 2, attempt: ctx.attempt };
  },
  rung: async (data: { trial: string; value: number }, ctx) => ctx.shared.record('rung-1', data.trial, data.value),
};

describe('runOrdered (no Redis)', () => {
  it('delivers every result once, in order, with at most `window` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out: number[] = [];
    const n = await runOrdered(Array.from({ length: 40 }, (_, i) => i), {
      window: 5,
      run: async (i) => {
        inFlight++; most = Math.max(most, inFlight);
        await sleep((i * 7919) % 13);
        inFlight--;
        return i * 10;
      },
      deliver: (r, item, index) => { expect(index).toBe(item); out.push(r); },
    });
    expect(n).toBe(40);
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i * 10));
    expect(most).toBeLessThanOrEqual(5);
  });

  it('runs handlers in this process with LocalExecutor; a bad input fails alone with its class', async () => {
    const ex = new LocalExecutor(handlers);
    const ok = await ex.run({ kind: 'double', key: 'a', data: { n: 3 } });
    const bad = await ex.run({ kind: 'double', key: 'b', data: { n: 4, bad: true } });
    const unknown = await ex.run({ kind: 'triple', key: 'c', data: {} });
    expect(ok).toEqual({ ok: true, value: { n: 6, attempt: 1 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toBeInstanceOf(InvalidInputError);
    expect(unknown.ok === false && unknown.error.code).toBe('CONFIG');
  });
});

describe('RedisExecutor and workers on a real redis-server', () => {
  let redis: RedisServer;
  const workers: WorkerHandle[] = [];
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const log = (line: string): void => { logs.push(line); };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.close('finish')));
    await redis?.stop();
  });

  const worker = async (extra: Partial<Parameters<typeof startWorker>[0]> = {}): Promise<WorkerHandle> => {
    const w = await startWorker({ url: redis.url, handlers, lockMillis: 2000, healthIntervalMillis: 0, log, ...extra });
    workers.push(w);
    return w;
  };

  it('fans 60 jobs out to two workers and delivers each result once, in order', async () => {
    const a = await worker({ name: 'a' });
    const b = await worker({ name: 'b' });
    await Promise.all([a.ready, b.ready]);
    const ex = await RedisExecutor.connect({ url: redis.url, log, pollMillis: 500 });
    try {
      const out: number[] = [];
      await runOrdered(Array.from({ length: 60 }, (_, i) => i), {
        window: 8,
        run: (i) => ex.run<{ n: number }>({ kind: 'double', key: `j${i}`, data: { n: i, waitMillis: (i % 5) * 5 } }),
        deliver: (o) => { if (!o.ok) throw o.error; out.push(o.value.n); },
      });
      expect(out).toEqual(Array.from({ length: 60 }, (_, i) => i * 2));
      expect(ex.stats()).toMatchObject({ submitted: 60, completed: 60, failed: 0 });
      // Both workers took jobs, and every finished job was removed from Redis once read.
      expect(a.health().done).toBeGreaterThan(0);
      expect(b.health().done).toBeGreaterThan(0);
      await until(async () => Object.values(await (await import('bullmq')).Queue.prototype.getJobCounts.call(
        (ex as unknown as { queue: import('bullmq').Queue }).queue)).every((c) => c === 0), 'an empty queue');
    } finally {
      await ex.close();
    }
  });

  it('fails a bad input alone at once, and a poison job after its bounded attempts, each with its typed error', async () => {
    const ex = await RedisExecutor.connect({ url: redis.url, log, attempts: 3, backoffMillis: 50 });
    try {
      const results = await Promise.all([1, 2, 3, 4].map((n) => ex.run({ kind: 'double', key: `p${n}`, data: { n: 100 + n, bad: n === 2, poison: n === 3 } })));
      expect(results[0]).toMatchObject({ ok: true, value: { n: 202 } });
      expect(results[3]).toMatchObject({ ok: true, value: { n: 208 } });
      const bad = results[1] as { ok: false; error: InvalidInputError };
      expect(bad.ok).toBe(false);
      expect(bad.error).toBeInstanceOf(InvalidInputError);
      expect(bad.error.toJSON()).toMatchObject({ code: 'INVALID_INPUT', sample: 's102', field: 'n', reason: 'not a number we like' });
      expect(calls.get(102)).toBe(1);
      const poison = results[2] as { ok: false; error: InternalError };
      expect(poison.error).toBeInstanceOf(InternalError);
      expect(poison.error.reason).toBe('a bug that happens every time');
      expect(poison.error.details).toMatchObject({ attempts: 3 });
      expect(calls.get(103)).toBe(3);
      expect(ex.stats()).toMatchObject({ completed: 2, failed: 2, retried: 2 });
    } finally {
      await ex.close();
    }
  });

  it('shares a table between jobs on different workers', async () => {
    const ex = await RedisExecutor.connect({ url: redis.url, log });
    try {
      await ex.run({ kind: 'rung', key: 'r1', data: { trial: 't1', value: 0.5 } });
      const second = await ex.run<Record<string, number>>({ kind: 'rung', key: 'r2', data: { trial: 't2', value: 0.25 } });
      expect(second).toEqual({ ok: true, value: { t1: 0.5, t2: 0.25 } });
    } finally {
      await ex.close();
    }
  });

  it('hands a running job back on close("handback"); another worker finishes it', async () => {
    for (const w of workers.splice(0)) await w.close('finish');
    const first = await worker({ name: 'first' });
    await first.ready;
    const ex = await RedisExecutor.connect({ url: redis.url, log });
    try {
      const result = ex.run<{ n: number; attempt: number }>({ kind: 'double', key: 'h1', data: { n: 7, waitMillis: 60_000 } });
      await until(() => first.health().active.length === 1, 'the job to start');
      await first.close('handback');
      expect(first.health()).toMatchObject({ status: 'closed', handedBack: 1, failed: 0 });
      hold = false;
      const second = await worker({ name: 'second' });
      await second.ready;
      const out = await result;
      expect(out).toMatchObject({ ok: true, value: { n: 14, attempt: 1 } });
      expect(second.health().done).toBe(1);
    } finally {
      await ex.close();
    }
  });

  it('takes over the job of a worker process killed mid-job (stalled), and fails a job that kills every worker after its bounded takeovers', async () => {
    for (const w of workers.splice(0)) await w.close('finish');
    const tsx = path.join(root, 'node_modules/tsx/dist/loader.mjs');
    const spawnChild = (slow = false): { child: ChildProcess; stderr: () => string } => {
      const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, path.join(here, 'worker-child.ts'), redis.url, '1500', ...(slow ? ['slow'] : [])], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
      children.push(child);
      return { child, stderr: () => err };
    };
    const a = spawnChild(true);
    await until(() => a.stderr().includes('ready:'), 'the child worker to connect');
    const ex = await RedisExecutor.connect({ url: redis.url, log, pollMillis: 500 });
    try {
      // The only worker takes the job and is killed while it runs; a second worker takes it over.
      const result = ex.run<{ n: number; pid: number }>({ kind: 'double', key: 'k1', data: { n: 21, waitMillis: 60_000 } });
      await until(() => a.stderr().includes('started double'), 'the job to start');
      a.child.kill('SIGKILL');
      const b = spawnChild();
      const out = await result;
      expect(out).toMatchObject({ ok: true, value: { n: 42 } });
      expect(out.ok && out.value.pid).toBe(b.child.pid);
      expect(ex.stats().stalled).toBeGreaterThanOrEqual(1);

      // A job that kills whichever worker runs it: taken over once (maxStalls 1), then failed and reported.
      const poison = ex.run({ kind: 'double', key: 'k2', data: { n: 1, crash: true } });
      const respawn = setInterval(() => { if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) spawnChild(); }, 200);
      const failed = await poison.finally(() => clearInterval(respawn));
      expect(failed.ok).toBe(false);
      if (!failed.ok) expect(failed.error.message).toMatch(/stalled/);
    } finally {
      await ex.close();
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    }
  });

  it('survives a Redis restart: with its data the run goes on; without it lost jobs are submitted again, never a gap', async () => {
    const w1 = await worker({ name: 'r1', maxBackoffMillis: 300 });
    const w2 = await worker({ name: 'r2', maxBackoffMillis: 300 });
    await Promise.all([w1.ready, w2.ready]);
    for (const mode of ['save', 'nosave'] as const) {
      const ex = await RedisExecutor.connect({ url: redis.url, log, pollMillis: 300 });
      try {
        const seen = new Map<number, number>();
        let restarted = false;
        await runOrdered(Array.from({ length: 40 }, (_, i) => i), {
          window: 10,
          run: (i) => ex.run<{ n: number }>({ kind: 'double', key: `${mode}${i}`, data: { n: i, waitMillis: 30 } }),
          deliver: async (o, i) => {
            if (!o.ok) throw o.error;
            seen.set(i, o.value.n);
            if (i === 10 && !restarted) {
              restarted = true;
              await redis.shutdown(mode);
              await sleep(300);
              await redis.start();
            }
          },
        });
        expect([...seen.entries()]).toEqual(Array.from({ length: 40 }, (_, i) => [i, i * 2]));
        if (mode === 'nosave') expect(ex.stats().resubmitted).toBeGreaterThan(0);
      } finally {
        await ex.close();
      }
    }
    expect(logs.some((l) => /reachable again/.test(l))).toBe(true);
  });

  it('fails the connect with RedisUnavailableError, within its timeout, when Redis stops answering after the first connection', async () => {
    // A proxy in front of the real server: it forwards the first connection, then accepts the others and
    // never answers (a Redis that hangs, or a network that drops, between the coordinator's connections).
    const sockets: net.Socket[] = [];
    let connections = 0;
    const proxy = net.createServer((client) => {
      sockets.push(client);
      if (connections++ > 0) return;
      const upstream = net.connect(redis.port, '127.0.0.1');
      sockets.push(upstream);
      client.pipe(upstream).pipe(client);
      const end = (): void => { client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as net.AddressInfo).port;
    try {
      const err = await RedisExecutor.connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMillis: 10_000 }).catch((e: unknown) => e);
      expect(connections).toBeGreaterThan(1);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(/event stream did not connect within 10 s/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  }, 300_000);

  it('says clearly when Redis is unreachable: the coordinator fails with RedisUnavailableError, a worker waits and retries', async () => {
    const closed = `redis://127.0.0.1:${await closedPort()}`;
    const err = await RedisExecutor.connect({ url: closed, connectTimeoutMillis: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/is unreachable \(ECONNREFUSED\).*could not connect within 1 s.*--redis/);
    const lines: string[] = [];
    const w = await startWorker({ url: closed, handlers, healthIntervalMillis: 0, maxBackoffMillis: 200, log: (l) => lines.push(l) });
    try {
      await until(() => lines.length >= 3, 'a few retry lines');
      expect(w.health()).toMatchObject({ status: 'connecting', redis: { connected: false } });
      expect(lines[0]).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); retrying with back-off/);
      // Logged at attempts 1, 2, 4, 8...: a few lines, not one per attempt.
      expect(lines.every((l) => /cannot reach Redis/.test(l))).toBe(true);
    } finally {
      await w.close();
    }
  });
});
