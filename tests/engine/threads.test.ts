// The wasm engine on several threads: every mmfuse kernel and a short training run give the same results at 1
// and 2 threads, the engine summary says how many threads it runs, and a script that used the engine ends by
// itself (the pthread workers never keep a process alive). Each thread count runs in its own process, since a
// process starts the wasm engine once.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EngineError, THREADS_ENV_VAR } from '@mmfuse/core';
import { requestedThreads } from '../../packages/core/src/engine.js';
import { startThreadedWasm, workerWrapperPath } from '../../packages/core/src/internal/wasm/threads.js';
import { relativeError } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

interface ChildResult {
  summary: string;
  threads: number;
  kernels: Record<string, { shape: number[]; values: number[] }[]>;
  losses: number[];
  probabilities: Record<string, number>[];
}

function runChild(threads: number): ChildResult {
  // No kill timer short of a hang: the child must end on its own; 10 minutes only bounds a broken run.
  const child = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(here, 'threads-child.ts')], {
    cwd: root, encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 28, env: { ...process.env, [THREADS_ENV_VAR]: String(threads), MMFUSE_ENGINE: '' },
  });
  expect(child.error, String(child.error)).toBeUndefined();
  expect(child.signal, `the ${threads}-thread child did not exit by itself (stderr: ${child.stderr?.slice(-2000)})`).toBeNull();
  expect(child.status, child.stderr?.slice(-2000)).toBe(0);
  expect(child.stderr).not.toMatch(/install our node backend/);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as ChildResult;
}

describe('wasm engine threads', () => {
  it('gives the same kernel outputs and training run at 1 and 2 threads, and exits by itself', () => {
    const one = runChild(1);
    const two = runChild(2);
    expect(one.threads).toBe(1);
    expect(one.summary).toMatch(/^engine: wasm \(1 thread\)/);
    expect(two.threads).toBe(2);
    expect(two.summary).toMatch(/^engine: wasm \(2 threads\)/);
    expect(Object.keys(two.kernels)).toEqual(Object.keys(one.kernels));
    for (const [id, outputs] of Object.entries(one.kernels)) {
      const other = two.kernels[id]!;
      expect(other.length, id).toBe(outputs.length);
      outputs.forEach((o, i) => {
        expect(other[i]!.shape, `${id} output ${i}`).toEqual(o.shape);
        expect(relativeError(other[i]!.values, o.values), `${id} output ${i}`).toBeLessThanOrEqual(1e-5);
      });
    }
    expect(two.losses.length).toBe(3);
    two.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i]!), `epoch ${i + 1} loss`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(one.losses[i]!))));
    // The run trained (not a constant): the loss fell.
    expect(one.losses[2]!).toBeLessThan(one.losses[0]!);
    two.probabilities.forEach((p, i) => {
      for (const [label, v] of Object.entries(one.probabilities[i]!)) expect(Math.abs(p[label]! - v), `prediction ${i} ${label}`).toBeLessThanOrEqual(1e-4);
    });
  }, 900_000);
});

describe('thread count', () => {
  it(`reads ${THREADS_ENV_VAR}, defaults to every core (at most 9) and refuses a bad value`, () => {
    expect(requestedThreads({ env: { [THREADS_ENV_VAR]: '2' } })).toBe(2);
    expect(requestedThreads({ env: { [THREADS_ENV_VAR]: ' 1 ' } })).toBe(1);
    expect(requestedThreads({ env: { [THREADS_ENV_VAR]: '64' } })).toBe(9);
    expect(requestedThreads({ threads: 3, env: { [THREADS_ENV_VAR]: '2' } })).toBe(3);
    const cores = requestedThreads({ env: {} });
    expect(cores).toBeGreaterThanOrEqual(1);
    expect(requestedThreads({ env: { [THREADS_ENV_VAR]: 'auto' } })).toBe(cores);
    for (const bad of ['0', '-2', '1.5', 'two']) {
      expect(() => requestedThreads({ env: { [THREADS_ENV_VAR]: bad } })).toThrow(EngineError);
      expect(() => requestedThreads({ env: { [THREADS_ENV_VAR]: bad } })).toThrow(new RegExp(`${THREADS_ENV_VAR}="${bad.replace('.', '\\.')}" is not a thread count`));
    }
    expect(() => requestedThreads({ threads: 0 })).toThrow(/threads must be a positive integer/);
  });

  it('ships the pthread worker script, and the loader refuses what it cannot start', async () => {
    expect(workerWrapperPath()).toMatch(/pthread-worker\.cjs$/);
    await expect(startThreadedWasm({} as never, 1)).rejects.toThrow(/threads must be an integer in 2\.\.9/);
    await expect(startThreadedWasm({} as never, 2)).rejects.toThrow(/does not export BackendWasm/);
  });
});
