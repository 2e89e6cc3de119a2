/**
 * Loading the Redis client libraries (only when Redis is asked for) and one monitored connection: its
 * options are what BullMQ's queues, workers and event listeners connect with, and its status says whether
 * Redis is reachable. Unreachable Redis is retried with exponential back-off (capped), and logged with
 * fewer and fewer lines while it lasts: never a crash, never a flood.
 */
import { ConfigError } from '@mmfuse/core/base';
import type { RedisOptions } from 'bullmq';
import type { Redis as RedisClient, RedisOptions as IoredisOptions } from 'ioredis';
import { RedisUnavailableError } from '../errors.js';
import { parseRedisUrl } from '../redis-url.js';
import type { RedisTarget } from '../redis-url.js';

export type Bullmq = typeof import('bullmq');
type Ioredis = typeof import('ioredis');

const INSTALL_HINT = 'the Redis transport needs the npm packages "bullmq" and "ioredis" (dependencies of @mmfuse/distributed): npm install @mmfuse/distributed';

/** BullMQ, loaded on first use. Throws `ConfigError` naming the packages when they are not installed. */
export async function loadBullmq(): Promise<Bullmq> {
  try {
    return await import('bullmq');
  } catch (err) {
    throw new ConfigError(`${INSTALL_HINT} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, { path: 'redis', cause: err });
  }
}

async function loadIoredis(): Promise<Ioredis> {
  try {
    return await import('ioredis');
  } catch (err) {
    throw new ConfigError(`${INSTALL_HINT} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, { path: 'redis', cause: err });
  }
}

export interface RedisLinkOptions {
  /** Log lines (connection lost, retrying, back). */
  log: (line: string) => void;
  /** Shown in Redis' CLIENT LIST, e.g. `mmfuse-worker`. */
  name: string;
  /** Longest wait between reconnection attempts. Default 5000 ms. */
  maxBackoffMillis?: number;
}

/** Delay before reconnection attempt `n` (1-based): 200 ms doubling up to the cap, with a little jitter. */
export function backoffMillis(n: number, capMillis: number): number {
  const base = Math.min(capMillis, 200 * 2 ** Math.min(Math.max(0, n - 1), 20));
  return Math.round(base * (0.85 + 0.3 * Math.random()));
}

/** A monitored Redis connection and the options to make more like it. */
export class RedisLink {
  readonly target: RedisTarget;
  /** Options for BullMQ (`connection`) and ioredis. */
  readonly options: RedisOptions;
  readonly client: RedisClient;
  private downSince: number | undefined;
  private attempts = 0;
  private lastError = '';
  private everReady = false;
  private closing = false;
  private readonly readyWaiters: Array<() => void> = [];

  private constructor(target: RedisTarget, options: RedisOptions, client: RedisClient, private readonly log: (line: string) => void) {
    this.target = target;
    this.options = options;
    this.client = client;
    this.downSince = Date.now();
    client.on('ready', () => {
      if (this.everReady && this.downSince !== undefined) this.log(`Redis at ${target.display} is reachable again after ${((Date.now() - this.downSince) / 1000).toFixed(1)} s`);
      this.everReady = true;
      this.downSince = undefined;
      this.attempts = 0;
      for (const w of this.readyWaiters.splice(0)) w();
    });
    client.on('error', (err: Error & { code?: string }) => {
      if (this.closing) return;
      this.lastError = err.code ?? err.message;
      this.downSince ??= Date.now();
      this.attempts++;
      // Log the first failure, then at attempts 2, 4, 8, ...: an outage costs a handful of lines.
      if ((this.attempts & (this.attempts - 1)) === 0) {
        const since = ((Date.now() - this.downSince) / 1000).toFixed(0);
        this.log(`cannot reach Redis at ${target.display} (${this.lastError})${this.attempts > 1 ? ` for ${since} s` : ''}; retrying with back-off (start it, or check --redis / MMFUSE_REDIS_URL)`);
      }
    });
    client.on('end', () => { this.downSince ??= Date.now(); });
    client.on('close', () => { if (!this.closing) this.downSince ??= Date.now(); });
  }

  /** Open a monitored connection to `url` (returns at once; see `waitReady`). */
  static async open(url: string, options: RedisLinkOptions): Promise<RedisLink> {
    const target = parseRedisUrl(url);
    const { Redis } = await loadIoredis();
    const cap = options.maxBackoffMillis ?? 5000;
    const redisOptions: RedisOptions = {
      host: target.host,
      port: target.port,
      db: target.db,
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
      // BullMQ needs commands to wait for a reconnection rather than fail (required for workers).
      maxRetriesPerRequest: null,
      retryStrategy: (n: number) => backoffMillis(n, cap),
      connectionName: options.name,
    };
    const client = new Redis(redisOptions as IoredisOptions);
    return new RedisLink(target, redisOptions, client, options.log);
  }

  /** True while connected. */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** Milliseconds since Redis became unreachable; 0 while connected. */
  downForMillis(): number {
    return this.downSince === undefined ? 0 : Date.now() - this.downSince;
  }

  /** Resolves once connected; with a timeout, rejects with `RedisUnavailableError` after it. */
  waitReady(timeoutMillis?: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => { if (timer !== undefined) clearTimeout(timer); resolve(); };
      this.readyWaiters.push(done);
      if (timeoutMillis !== undefined) {
        timer = setTimeout(() => {
          const i = this.readyWaiters.indexOf(done);
          if (i >= 0) this.readyWaiters.splice(i, 1);
          reject(this.unavailable(`could not connect within ${(timeoutMillis / 1000).toFixed(0)} s`));
        }, timeoutMillis);
      }
    });
  }

  /** The error of an unreachable Redis, naming the URL and the last connection error. */
  unavailable(what: string): RedisUnavailableError {
    return new RedisUnavailableError(`Redis at ${this.target.display} is unreachable (${this.lastError || 'no answer'}): ${what}; start redis-server there, or check --redis / MMFUSE_REDIS_URL`, { details: { url: this.target.display, error: this.lastError } });
  }

  /** Close the connection (politely when connected; never waits for an unreachable Redis). */
  async close(): Promise<void> {
    this.closing = true;
    for (const w of this.readyWaiters.splice(0)) w();
    if (this.client.status === 'ready') await settleWithin(this.client.quit(), 2000);
    this.client.disconnect();
  }
}

/** Wait for `p` (its error ignored) at most `millis`: for closing connections that may hang on a dead Redis. */
export async function settleWithin(p: Promise<unknown>, millis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.then(() => undefined, () => undefined),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, millis); }),
  ]);
  if (timer !== undefined) clearTimeout(timer);
}
