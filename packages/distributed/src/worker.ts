/**
 * A worker: takes jobs of every kind it has a handler for from the Redis queue (BullMQ), `concurrency` at a
 * time. It holds nothing but caches, so any number can run on any machines that reach the Redis server and
 * the shared storage the jobs name. A job whose handler throws is failed with its typed error: bad input
 * at once, other errors after BullMQ's bounded retries. If Redis is unreachable the worker waits and
 * retries with back-off (logging a few lines), never exits. `close('finish')` stops taking jobs and lets
 * the running ones finish; `close('handback')` asks them to stop (their `signal`) and returns them to the
 * queue for another worker.
 */
import * as os from 'node:os';
import type { Job, Worker } from 'bullmq';
import { StateError } from '@mmfuse/core/base';
import { asMmfuseError, failedReasonOf, isRetryable } from './errors.js';
import { missingHandler } from './internal/handlers.js';
import { RedisLink, loadBullmq, settleWithin } from './internal/redis-link.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE } from './redis-executor.js';
import type { JobPayload } from './redis-executor.js';
import { RedisTable } from './redis-table.js';
import type { JobContext, JobHandlers } from './types.js';

export interface StartWorkerOptions {
  url: string;
  handlers: JobHandlers;
  /** Queue name, as the coordinators use. Default `jobs`. */
  queue?: string;
  /** Redis key prefix. Default `mmfuse`. */
  prefix?: string;
  /** Jobs run at once. Default 1. */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal (renewed every half of it while the job runs); a worker
   * that dies loses its jobs to others after about this long. Also the interval of the stalled-job check.
   * Default 30000 ms.
   */
  lockMillis?: number;
  /** How often a job may be taken over from a dead worker before it fails. Default 2. */
  maxStalls?: number;
  /** Name in logs, health and Redis' client list. Default `<host>-<pid>`. */
  name?: string;
  log?: (line: string) => void;
  /** Longest wait between reconnection attempts. Default 5000 ms. */
  maxBackoffMillis?: number;
  /** A health line on the log this often. Default 60000 ms; 0 = never. */
  healthIntervalMillis?: number;
}

export type WorkerStatus = 'connecting' | 'ready' | 'redis-unavailable' | 'closing' | 'closed';

export interface WorkerHealth {
  name: string;
  status: WorkerStatus;
  redis: { url: string; connected: boolean; downSeconds: number };
  queue: string;
  concurrency: number;
  /** Jobs running now. */
  active: { job: string; kind: string; seconds: number }[];
  /** Jobs finished with a result, attempts failed, jobs handed back. */
  done: number;
  failed: number;
  handedBack: number;
  uptimeSeconds: number;
  /** The last failure, `[CODE] message`. */
  lastError?: string;
  /** Handled job kinds. */
  kinds: string[];
}

export interface WorkerHandle {
  readonly name: string;
  health(): WorkerHealth;
  /** Resolves once connected to Redis the first time. */
  readonly ready: Promise<void>;
  close(mode?: 'finish' | 'handback'): Promise<void>;
}

interface Active { kind: string; started: number; abort: AbortController }

export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const log = options.log ?? (() => undefined);
  const bull = await loadBullmq();
  const name = options.name ?? `${os.hostname()}-${process.pid}`;
  const link = await RedisLink.open(options.url, { log, name: `mmfuse-worker:${name}`, ...(options.maxBackoffMillis !== undefined ? { maxBackoffMillis: options.maxBackoffMillis } : {}) });
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const lockMillis = options.lockMillis ?? 30_000;
  const concurrency = options.concurrency ?? 1;
  const table = new RedisTable(link.client, `${prefix}:${queueName}`);
  const kinds = Object.keys(options.handlers);
  const active = new Map<string, Active>();
  const counts = { done: 0, failed: 0, handedBack: 0 };
  const startedAt = Date.now();
  let lastError: string | undefined;
  let status: WorkerStatus = 'connecting';
  let handingBack = false;

  const processor = async (job: Job, token?: string): Promise<unknown> => {
    const id = job.id ?? '?';
    const abort = new AbortController();
    active.set(id, { kind: job.name, started: Date.now(), abort });
    const attempt = job.attemptsMade + 1;
    log(`started ${job.name} ${id}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
    const t0 = performance.now();
    try {
      const handler = options.handlers[job.name];
      if (handler === undefined) throw missingHandler(job.name, kinds);
      const ctx: JobContext = { jobId: id, attempt, signal: abort.signal, shared: table, log };
      const result = await handler((job.data as JobPayload).data, ctx);
      counts.done++;
      log(`finished ${job.name} ${id} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return result;
    } catch (err) {
      if (abort.signal.aborted && handingBack && token !== undefined) {
        // Back to the queue as it was, for another worker; not a failed attempt.
        await job.moveToWait(token);
        counts.handedBack++;
        log(`handed back ${job.name} ${id}`);
        throw new bull.WaitingError();
      }
      const e = asMmfuseError(err);
      counts.failed++;
      lastError = `[${e.code}] ${e.message}`;
      const retry = isRetryable(e) && attempt < (job.opts.attempts ?? 1);
      log(`failed ${job.name} ${id}: ${lastError}${retry ? ' (will be retried)' : ''}`);
      if (!isRetryable(e)) throw new bull.UnrecoverableError(failedReasonOf(e));
      throw new Error(failedReasonOf(e));
    } finally {
      active.delete(id);
    }
  };

  const worker: Worker = new bull.Worker(queueName, processor, {
    connection: link.options,
    prefix,
    concurrency,
    lockDuration: lockMillis,
    stalledInterval: lockMillis,
    maxStalledCount: options.maxStalls ?? 2,
    name,
    autorun: true,
  });
  // The link logs connection trouble once; BullMQ repeats it on each of its clients.
  worker.on('error', (err) => { if (link.connected) log(`worker: ${err.message}`); });

  const ready = link.waitReady().then(() => {
    if (status === 'connecting' || status === 'redis-unavailable') status = 'ready';
    log(`ready: ${name} takes ${kinds.join(', ')} from ${link.target.display} (queue ${prefix}:${queueName}), ${concurrency} at a time`);
  });

  const health = (): WorkerHealth => {
    const down = link.downForMillis();
    if (status === 'ready' && !link.connected) status = 'redis-unavailable';
    if (status === 'redis-unavailable' && link.connected) status = 'ready';
    const h: WorkerHealth = {
      name, status, queue: `${prefix}:${queueName}`, concurrency, kinds,
      redis: { url: link.target.display, connected: link.connected, downSeconds: Math.round(down / 1000) },
      active: [...active].map(([job, a]) => ({ job, kind: a.kind, seconds: Math.round((Date.now() - a.started) / 1000) })),
      ...counts,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    };
    if (lastError !== undefined) h.lastError = lastError;
    return h;
  };

  const every = options.healthIntervalMillis ?? 60_000;
  const healthTimer = every > 0 ? setInterval(() => {
    const h = health();
    log(`health: ${h.status}; done ${h.done}, failed ${h.failed}, running ${h.active.length}; Redis ${h.redis.connected ? 'connected' : `unreachable for ${h.redis.downSeconds} s`}`);
  }, every) : undefined;
  healthTimer?.unref();

  let closing: Promise<void> | undefined;
  const close = (mode: 'finish' | 'handback' = 'finish'): Promise<void> => {
    closing ??= (async () => {
      status = 'closing';
      if (healthTimer !== undefined) clearInterval(healthTimer);
      if (mode === 'handback') {
        handingBack = true;
        for (const a of active.values()) a.abort.abort(new StateError('the worker is shutting down; the job goes back to the queue'));
      }
      if (active.size > 0) log(`closing: ${mode === 'finish' ? 'finishing' : 'handing back'} ${active.size} running job(s)`);
      // Waits for running jobs (unless Redis is unreachable: they could not report, and their locks expire
      // so other workers take them over); a Redis that dies meanwhile must not hold the close forever.
      const closed = worker.close(!link.connected);
      await Promise.race([closed, new Promise<void>((resolve) => {
        const t = setInterval(() => { if (link.downForMillis() > 10_000) { clearInterval(t); resolve(); } }, 500);
        void closed.finally(() => { clearInterval(t); resolve(); });
      })]);
      await settleWithin(link.close(), 3000);
      status = 'closed';
      log('closed');
    })();
    return closing;
  };

  return { name, health, ready, close };
}
