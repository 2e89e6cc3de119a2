import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { EngineError, ENGINE_ORDER, getEngineInfo, initEngine } from '@mmfuse/core';
import type { EngineInfo, InitEngineOptions } from '@mmfuse/core';
import { startEngine } from '../../packages/cli/src/internal/model.js';
import { hasGpuDevice } from '../../packages/core/src/internal/webgpu/start.js';

// Where the native engines cannot install (this machine, CI), automatic selection falls through to wasm.
describe('engine selection', () => {
  it('falls through tfjs-node-gpu, webgpu (without a hardware adapter) and tfjs-node to wasm, saying why each was skipped', async () => {
    const noDawn = async (s: string): Promise<unknown> => {
      if (s === 'webgpu') throw Object.assign(new Error(`Cannot find package '${s}' imported from /app/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });
      return import(s);
    };
    await initEngine({ engine: 'cpu' }); // leave any cached automatic choice
    const info = await initEngine({ env: {}, importModule: noDawn });
    expect(info.engine).toBe('wasm');
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.skipped.map((s) => s.engine)).toEqual(['tfjs-node-gpu', 'webgpu', 'tfjs-node']);
    // A Linux machine without a GPU device node never gets as far as importing Dawn: that is the reason given.
    const device = hasGpuDevice();
    for (const s of info.skipped) expect(s.reason).toBe(s.engine === 'webgpu' && !device ? 'load-failed' : 'not-installed');
    const webgpu = device ? 'not installed' : 'no GPU device on this machine [^;]*; force it with MMFUSE_ENGINE=webgpu';
    expect(info.summary).toMatch(new RegExp(`^engine: wasm \\(\\d+ threads?\\); skipped tfjs-node-gpu: not installed; webgpu: ${webgpu}; tfjs-node: not installed$`));
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(getEngineInfo()).toBe(info);
  });

  it('reports an engine whose package loads but throws as load-failed, and moves on', async () => {
    const importModule = async (s: string): Promise<unknown> => {
      if (s === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file');
      return import(s);
    };
    const info = await initEngine({ engine: 'auto', env: {}, importModule });
    // Same request as before and the backend is unchanged, so the cached choice is returned...
    expect(info.engine).toBe('wasm');
    // ...unless the cache is bypassed by switching engines first.
    await initEngine({ engine: 'cpu' });
    const again = await initEngine({ env: {}, importModule });
    expect(again.engine).toBe('wasm');
    expect(again.skipped[0]).toMatchObject({ engine: 'tfjs-node-gpu', reason: 'load-failed' });
    expect(again.skipped[0]?.message).toContain('libcudart');
    expect(again.skipped.find((s) => s.engine === 'tfjs-node')).toMatchObject({ reason: 'not-installed' });
  });

  it('honours MMFUSE_ENGINE and an explicit option', async () => {
    const viaEnv = await initEngine({ env: { MMFUSE_ENGINE: 'cpu' } });
    expect(viaEnv).toMatchObject({ engine: 'cpu', backend: 'cpu', forcedBy: 'env' });
    expect(tf.getBackend()).toBe('cpu');
    const viaOption = await initEngine({ engine: 'wasm', env: { MMFUSE_ENGINE: 'cpu' } });
    expect(viaOption).toMatchObject({ engine: 'wasm', forcedBy: 'option' });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses a forced engine that is not installed instead of falling back', async () => {
    await expect(initEngine({ engine: 'tfjs-node' })).rejects.toBeInstanceOf(EngineError);
    await expect(initEngine({ env: { MMFUSE_ENGINE: 'tfjs-node-gpu' } })).rejects.toThrow(/could not start.*not installed/);
    await expect(initEngine({ env: { MMFUSE_ENGINE: 'gpu-please' } })).rejects.toThrow(/MMFUSE_ENGINE="gpu-please" is not an engine/);
    // The previous engine keeps running.
    expect(tf.getBackend()).toBe('wasm');
  });

  it('warns with the exact package to install when automatic selection ends up on cpu', async () => {
    await initEngine({ engine: 'cpu' }); // leave the cached automatic choice
    const warnings: string[] = [];
    const importModule = async (s: string): Promise<unknown> => {
      if (s === '@tensorflow/tfjs-backend-wasm') throw Object.assign(new Error(`Cannot find package '${s}' imported from /app/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });
      return import(s);
    };
    const info = await initEngine({ env: {}, importModule, warn: (line) => warnings.push(line) });
    expect(info.engine).toBe('cpu');
    expect(info.skipped.map((s) => s.engine)).toEqual(['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm']);
    expect(info.skipped.find((s) => s.engine === 'wasm')?.reason).toBe('not-installed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`npm install @tensorflow/tfjs-backend-wasm@${tf.version_core}`);
    expect(warnings[0]).toMatch(/slow "cpu" engine/);
    // Forced cpu is the user's choice: no warning.
    await initEngine({ engine: 'cpu', warn: (line) => warnings.push(line) });
    expect(warnings).toHaveLength(1);
    await initEngine({ engine: 'wasm' });
  });

  it('keeps the choice in one process-wide place (shared by the ESM and CJS builds)', async () => {
    const info = await initEngine({ env: {} });
    const shared = (globalThis as unknown as Record<symbol, { current?: unknown }>)[Symbol.for('mmfuse.engine')];
    expect(shared?.current).toBe(info);
  });

  it('lists engines in preference order', () => {
    expect(ENGINE_ORDER).toEqual(['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']);
  });

  it('computes on the chosen engine', async () => {
    await initEngine({ env: {} });
    const y = tf.tidy(() => tf.tensor2d([[1, 2], [3, 4]]).matMul(tf.tensor2d([[5], [6]])));
    expect(Array.from(await y.data())).toEqual([17, 39]);
    y.dispose();
  });
});

describe('CLI commands that read weights synchronously (export, compress)', () => {
  it('move from an automatic WebGPU choice to wasm and say why; a forced WebGPU and other commands stay', async () => {
    const calls: string[] = [];
    const fake = (async (o: InitEngineOptions = {}) => {
      calls.push(o.engine ?? 'auto');
      return (o.engine === 'wasm' || o.env?.MMFUSE_ENGINE === 'wasm' ? { engine: 'wasm', summary: 'engine: wasm (2 threads)' } : { engine: 'webgpu', summary: 'engine: webgpu on NVIDIA H100' }) as EngineInfo;
    }) as typeof initEngine;
    const log: string[] = [];
    const info = await startEngine((l) => log.push(l), { syncReads: 'mmfuse export', env: {}, init: fake });
    expect(info.engine).toBe('wasm');
    expect(calls).toEqual(['auto', 'wasm']);
    expect(log).toEqual(['engine: webgpu on NVIDIA H100; mmfuse export reads weights synchronously, which the WebGPU engine cannot do in Node: using wasm', 'engine: wasm (2 threads)']);
    calls.length = 0;
    expect((await startEngine(() => {}, { syncReads: 'mmfuse export', env: { MMFUSE_ENGINE: 'webgpu' }, init: fake })).engine).toBe('webgpu');
    expect((await startEngine(() => {}, { syncReads: 'mmfuse compress', env: { MMFUSE_ENGINE: 'auto' }, init: fake })).engine).toBe('wasm');
    expect((await startEngine(() => {}, { env: {}, init: fake })).engine).toBe('webgpu'); // mmfuse train
    expect(calls).toEqual(['auto', 'auto', 'wasm', 'auto']);
  });
});
