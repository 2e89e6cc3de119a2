/**
 * Where a command's work runs: on workers through Redis (`--redis URL` or `MMFUSE_REDIS_URL`), in child
 * processes (`hyperopt --parallel N`), or in this process (the default, as before). @mmfuse/distributed is
 * loaded only here, so commands that stay in-process never load it (nor BullMQ).
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { ConfigError, UsageError } from '@mmfuse/core';
import type { JobExecutor, JobHandlers } from '@mmfuse/distributed';
import type { ParsedArgs } from '../internal/args.js';
import type { CliIo } from '../internal/io.js';

export type DistributedModule = typeof import('@mmfuse/distributed');

/** Environment variables of the shared settings (the same names @mmfuse/distributed reads). */
export const REDIS_ENV = 'MMFUSE_REDIS_URL';
export const CACHE_ENV = 'MMFUSE_CACHE_DIR';

/** `--redis`, else `MMFUSE_REDIS_URL`, else undefined (in this process). */
export function redisUrlOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const option = args.options.redis as string | undefined;
  if (option !== undefined) return option;
  const fromEnv = env[REDIS_ENV]?.trim();
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/** `--cache`, else `MMFUSE_CACHE_DIR`, as an absolute path; undefined when neither is set. */
export function cacheDirOf(args: ParsedArgs, io: CliIo, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const option = args.options.cache as string | undefined;
  const value = option ?? env[CACHE_ENV]?.trim();
  return value === undefined || value === '' ? undefined : path.resolve(io.cwd, value);
}

/** @mmfuse/distributed, or a `ConfigError` saying how to install it. */
export async function loadDistributed(): Promise<DistributedModule> {
  try {
    return await import('@mmfuse/distributed');
  } catch (err) {
    throw new ConfigError(`running on workers (--redis, MMFUSE_REDIS_URL) or in child processes needs the package @mmfuse/distributed: npm install @mmfuse/distributed (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, { path: 'redis', cause: err });
  }
}

/** The `mmfuse` entry of this process, to start copies of it (`worker --ipc`). */
function cliEntry(): string {
  const entry = process.argv[1] ?? '';
  if (!/[\\/]cli[\\/](src[\\/]main\.ts|dist[\\/]main\.c?js|bin[\\/]mmfuse\.js)$/.test(entry)) {
    throw new UsageError('--parallel starts copies of the mmfuse command; run it as "mmfuse ..." (this process was started as ' + JSON.stringify(entry) + ')');
  }
  return entry;
}

export interface ExecutorChoice {
  redis?: string;
  /** Child processes (without Redis); 1 or absent: this process. */
  parallel?: number;
  log: (line: string) => void;
  /** The handlers, for this process. */
  handlers: () => JobHandlers;
  /** `--plugin` modules the child processes load too. */
  plugins?: readonly string[];
}

/** Open the executor a command runs its jobs on. */
export async function openExecutor(choice: ExecutorChoice): Promise<JobExecutor> {
  const d = await loadDistributed();
  if (choice.redis !== undefined) {
    return d.RedisExecutor.connect({ url: choice.redis, log: choice.log });
  }
  if (choice.parallel !== undefined && choice.parallel > 1) {
    const entry = cliEntry();
    const args = ['worker', '--ipc', ...(choice.plugins ?? []).flatMap((p) => ['--plugin', p])];
    // The children's stdout goes to this process' stderr: stdout carries only this command's result.
    return new d.ChildExecutor({
      processes: choice.parallel,
      log: choice.log,
      spawn: () => fork(entry, args, { execArgv: process.execArgv, stdio: ['ignore', 2, 2, 'ipc'] }),
    });
  }
  return new d.LocalExecutor(choice.handlers(), { log: choice.log });
}
