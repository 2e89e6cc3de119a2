// Spawned `mmfuse` processes for the distributed tests: workers (started directly from src/main.ts, so a
// SIGKILL hits the worker itself, not a wrapper), and coordinating commands whose output is watched while
// they run. Every process started here is killed in `stopAll` (also after a failed test).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../cli/helpers.js';

const tsx = path.join(repoRoot, 'node_modules/tsx/dist/loader.mjs');
const main = path.join(repoRoot, 'packages/cli/src/main.ts');

/** Env of every spawned mmfuse: sources, the wasm engine with one thread (workers and local runs alike). */
export function distEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MMFUSE_FROM_SOURCE: '1', MMFUSE_ENGINE: 'wasm', MMFUSE_THREADS: '1', ...extra };
  delete env.MMFUSE_REDIS_URL;
  delete env.MMFUSE_CACHE_DIR;
  return env;
}

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr (or stdout) matches; rejects if the process exits first or after `millis` (hang detection: 10 min by default, for a machine loaded far beyond its cores). */
  waitFor(re: RegExp, options?: { stream?: 'stderr' | 'stdout'; millis?: number }): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

/** Start `mmfuse ARGS` (from source, no wrapper process). */
export function startMmfuse(args: string[], options: { cwd: string; env?: Record<string, string> }): Proc {
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, main, ...args], { cwd: options.cwd, env: distEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (d: Buffer) => { out += d.toString('utf8'); for (const l of listeners) l(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8'); for (const l of listeners) l(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => { started.delete(child); resolve({ code, signal }); for (const l of listeners) l(); }));
  const waitFor = (re: RegExp, o: { stream?: 'stderr' | 'stdout'; millis?: number } = {}): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(o.stream === 'stdout' ? out : err);
      if (m !== null) { done(); resolve(m); } else if (child.exitCode !== null || child.signalCode !== null) { done(); reject(new Error(`mmfuse ${args[0]} exited before ${re}; stderr:\n${err}`)); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${re} from mmfuse ${args[0]}; stderr:\n${err}`)); }, o.millis ?? 600_000);
    const done = (): void => { clearTimeout(timer); listeners.delete(check); };
    listeners.add(check);
    check();
  });
  return { child, stdout: () => out, stderr: () => err, waitFor, exited };
}

/** Run `mmfuse ARGS` to the end (with hang detection: killed after 15 min by default). */
export async function runMmfuse(args: string[], options: { cwd: string; env?: Record<string, string>; millis?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startMmfuse(args, options);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.millis ?? 900_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * A worker on `url`; resolves once it is connected. The default lock (30 s) keeps a worker that is merely
 * starved of CPU on a loaded machine from losing its job; tests that kill workers pass a short one.
 */
export async function startWorker(url: string, cwd: string, extra: string[] = []): Promise<Proc> {
  const w = startMmfuse(['worker', '--redis', url, '--max-stalls', '5', ...extra], { cwd });
  await w.waitFor(/ready: /);
  return w;
}

/** SIGTERM every process still running (SIGKILL after 20 s); resolves when all are gone. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  })));
}

process.on('exit', () => { for (const c of started) c.kill('SIGKILL'); });
