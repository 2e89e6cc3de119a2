// Helpers for tests that drive the CLI as a user does: spawn `node packages/cli/bin/mmfuse.js ...`.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = path.join(repoRoot, 'packages/cli/bin/mmfuse.js');

/**
 * How long a spawned CLI may take before it counts as hung. Hang detection only, never a speed check: long
 * enough that a fully loaded machine (the suite is run beside other work) never trips it.
 */
export const HANG_MILLIS = 600_000;

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Env for spawned CLIs: run from source, on the engine tests use, one wasm thread each (the tests start up
 * to seven CLIs at once on a 2-core machine; threads would only oversubscribe the cores).
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, MMFUSE_FROM_SOURCE: '1', MMFUSE_ENGINE: 'wasm', MMFUSE_THREADS: '1', ...extra };
}

/** Run the CLI to completion (with a hard timeout so a hung process fails the test instead of the suite). */
export function runCli(args: string[], options: { cwd?: string; timeoutMillis?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? repoRoot, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    // Hang detection only: generous, so a fully loaded machine never fails a test by slowness.
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`mmfuse ${args.join(' ')} did not finish in ${options.timeoutMillis ?? HANG_MILLIS} ms (hung?)\nstderr: ${stderr}`)); }, options.timeoutMillis ?? HANG_MILLIS);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** The last non-empty line of stdout, parsed: the `--json` contract. */
export function lastJson(r: RunResult): any {
  const lines = r.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  if (last === undefined || last === '') throw new Error(`no stdout; stderr: ${r.stderr}`);
  return JSON.parse(last);
}

/** Start a long-running CLI (serve); resolves once a stderr line matches `ready`. */
export function startCli(args: string[], ready: RegExp, options: { cwd?: string; timeoutMillis?: number; env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; match: RegExpMatchArray; stdout: () => string; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? repoRoot, env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let done = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));
    const timer = setTimeout(() => { if (!done) { child.kill('SIGKILL'); reject(new Error(`not ready after ${options.timeoutMillis ?? HANG_MILLIS} ms (hung?); stderr: ${stderr}`)); } }, options.timeoutMillis ?? HANG_MILLIS);
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      const m = ready.exec(stderr);
      if (m && !done) { done = true; clearTimeout(timer); resolve({ child, match: m, stdout: () => stdout, stderr: () => stderr, exited }); }
    });
    void exited.then(({ code }) => { if (!done) { done = true; clearTimeout(timer); reject(new Error(`exited with ${code} before ready; stderr: ${stderr}`)); } });
  });
}

export interface Reply { status: number; headers: http.IncomingHttpHeaders; text: string; json: () => any }

/** A raw request, so tests control headers and chunking. */
export function request(url: string, opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string; chunks?: Buffer[] } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}
