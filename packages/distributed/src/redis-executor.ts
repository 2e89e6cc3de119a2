/**
 * Runs jobs on workers through BullMQ on Redis. Each job is added under a deterministic id (run id + job
 * key) with a bounded number of attempts and exponential back-off; its result is picked up from BullMQ's
 * event stream, and every pending job is also polled, so no result is missed across a reconnection. A job
 * whose worker died is taken over by another worker once its lock expires (BullMQ's stalled-job check). A
 * job Redis no longer knows (Redis restarted without its data) is submitted again, and said so: a run
 * never has a silent gap. Redis unreachable for longer than `outageMillis` fails the run with
 * `RedisUnavailableError`. Finished jobs are removed from Redis once their result is read.
 */
import { randomBytes } from 'node:crypto';
import type { Outcome } from '@mmfuse/core/base';
import type { Job, Queue, QueueEvents } from 'bullmq';
import { RedisUnavailableError, errorFromFailedReason } from './errors.js';
import { checkJobKey } from './internal/handlers.js';
import { RedisLink, loadBullmq, settleWithin } from './internal/redis-link.js';
import type { Bullmq } from './internal/redis-link.js';
import { emptyStats } from './types.js';
import type { ExecutorStats, JobExecutor, JobRequest } from './types.js';

/** Redis key prefix and queue name used when none is given. */
export const DEFAULT_PREFIX = 'mmfuse';
export const DEFAULT_QUEUE = 'jobs';

export interface RedisExecutorOptions {
  url: string;
  /** Queue name; workers must use the same. Default `jobs`. */
  queue?: string;
  /** Redis key prefix. Default `mmfuse`. */
  prefix?: string;
  /** Attempts per job for failures worth retrying (I/O, engine, internal errors); bad input fails at once. Default 3. */
  attempts?: number;
  /** First retry delay; doubles per attempt. Default 1000 ms. */
  backoffMillis?: number;
  /** How long Redis may stay unreachable before the run fails. Default 120000 ms. */
  outageMillis?: number;
  /** How long to wait for the first connection. Default 10000 ms. */
  connectTimeoutMillis?: number;
  /** How often pending jobs are polled (besides the event stream). Default 2000 ms. */
  pollMillis?: number;
  /** How often to say so while jobs wait and no worker is connected. Default 15000 ms. */
  workerWarningMillis?: number;
  /** How often a lost job may be submitted again before the run fails. Default 5. */
  maxResubmits?: number;
  /** Log lines (connection, lost and stalled jobs). Default: none. */
  log?: (line: string) => void;
  /** Prefix of this run's job ids. Default: random. */
  runId?: string;
}

/** What a job carries in Redis. */
export interface JobPayload {
  /** Payload format version. */
  v: 1;
  data: unknown;
}

interface Pending {
  job: JobRequest;
  resolve: (o: Outcome<unknown>) => void;
  reject: (err: Error) => void;
  resubmits: number;
  checking: boolean;
  /** False until Redis acknowledged the add (a job not yet added is not lost). */
  added: boolean;
}

export class RedisExecutor implements JobExecutor {
  readonly description: string;
  readonly runId: string;
  private readonly counters = emptyStats();
  private readonly pending = new Map<string, Pending>();
  private readonly timers: NodeJS.Timeout[] = [];
  private broken: Error | undefined;
  private closed = false;
  private lostNoticeAt = 0;

  private constructor(
    private readonly bull: Bullmq,
    private readonly link: RedisLink,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly options: RedisExecutorOptions,
  ) {
    this.runId = options.runId ?? randomBytes(6).toString('hex');
    this.description = `${link.target.display} (queue ${options.prefix ?? DEFAULT_PREFIX}:${options.queue ?? DEFAULT_QUEUE})`;
  }

  /** Connect (waiting at most `connectTimeoutMillis`); throws `RedisUnavailableError` when Redis cannot be reached. */
  static async connect(options: RedisExecutorOptions): Promise<RedisExecutor> {
    const log = options.log ?? (() => undefined);
    const bull = await loadBullmq();
    const timeout = options.connectTimeoutMillis ?? 10_000;
    const deadline = Date.now() + timeout;
    const link = await RedisLink.open(options.url, { log, name: 'mmfuse-coordinator' });
    try {
      await link.waitReady(timeout);
    } catch (err) {
      await link.close();
      throw err;
    }
    const name = options.queue ?? DEFAULT_QUEUE;
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    const queue = new bull.Queue(name, { connection: link.options, prefix });
    const events = new bull.QueueEvents(name, { connection: link.options, prefix });
    // Connection errors are logged once by the link; BullMQ repeats them on every client.
    const quiet = (err: Error): void => { if (link.connected) log(`redis: ${err.message}`); };
    queue.on('error', quiet);
    events.on('error', quiet);
    // The event stream's own connection is bounded by the same deadline: a Redis that goes away between
    // the first connection and this one must fail the connect, not hang it.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now())); });
    const outcome = await Promise.race([events.waitUntilReady().then(() => 'ready' as const, (err: unknown) => err), late]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      await settleWithin(events.close(), 2000);
      await settleWithin(queue.close(), 2000);
      const cause = outcome instanceof Error ? ` (${outcome.message})` : '';
      const err = link.unavailable(`the event stream did not connect within ${(timeout / 1000).toFixed(0)} s${cause}`);
      await link.close();
      throw err;
    }
    const ex = new RedisExecutor(bull, link, queue, events, options);
    ex.start();
    return ex;
  }

  private get log(): (line: string) => void {
    return this.options.log ?? (() => undefined);
  }

  private start(): void {
    this.events.on('completed', ({ jobId }) => { void this.check(jobId); });
    this.events.on('failed', ({ jobId }) => { void this.check(jobId); });
    this.events.on('stalled', ({ jobId }) => {
      if (!this.pending.has(jobId)) return;
      this.counters.stalled++;
      this.log(`job ${jobId} stalled (its worker stopped responding); another worker takes it over`);
    });
    const poll = setInterval(() => { void this.poll(); }, this.options.pollMillis ?? 2000);
    const warn = setInterval(() => { void this.warnWithoutWorkers(); }, this.options.workerWarningMillis ?? 15_000);
    poll.unref();
    warn.unref();
    this.timers.push(poll, warn);
  }

  async run<R = unknown>(job: JobRequest): Promise<Outcome<R>> {
    checkJobKey(job.key);
    if (this.broken !== undefined) throw this.broken;
    if (this.closed) throw new RedisUnavailableError('the executor is closed');
    const id = `${this.runId}-${job.key}`;
    this.counters.submitted++;
    return new Promise<Outcome<R>>((resolve, reject) => {
      const p: Pending = { job, resolve: resolve as (o: Outcome<unknown>) => void, reject, resubmits: 0, checking: false, added: false };
      this.pending.set(id, p);
      this.add(id, job).then(() => { p.added = true; }, (err: unknown) => this.fail(id, err));
    });
  }

  private async add(id: string, job: JobRequest): Promise<void> {
    const payload: JobPayload = { v: 1, data: job.data };
    await this.queue.add(job.kind, payload, {
      jobId: id,
      attempts: this.options.attempts ?? 3,
      backoff: { type: 'exponential', delay: this.options.backoffMillis ?? 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  private fail(id: string, err: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    p.reject(err instanceof Error ? err : new Error(String(err)));
  }

  /** Look at one pending job: settle it when finished, submit it again when Redis lost it. */
  private async check(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (p === undefined || p.checking || !p.added || !this.link.connected) return;
    p.checking = true;
    try {
      // The state first: a job read before its state would miss a result written in between.
      const state = await this.queue.getJobState(id);
      if (state === 'unknown') {
        await this.resubmit(id, p);
        return;
      }
      if (state !== 'completed' && state !== 'failed') return;
      const job = (await this.bull.Job.fromId(this.queue, id)) as Job | undefined;
      if (job === undefined) {
        await this.resubmit(id, p);
      } else if (state === 'completed') {
        this.settle(id, p, job, { ok: true, value: job.returnvalue });
      } else {
        const error = errorFromFailedReason(job.failedReason);
        // Where and how often it failed, for the report of a poison job.
        Object.assign(error, { details: { ...(error.details ?? {}), job: id, attempts: job.attemptsMade } });
        this.settle(id, p, job, { ok: false, error });
      }
    } catch (err) {
      // A failed look (connection lost meanwhile) is retried by the next poll.
      if (this.link.connected) this.log(`could not read job ${id}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      p.checking = false;
    }
  }

  private settle(id: string, p: Pending, job: Job, outcome: Outcome<unknown>): void {
    if (!this.pending.has(id)) return;
    this.pending.delete(id);
    if (outcome.ok) this.counters.completed++;
    else this.counters.failed++;
    this.counters.retried += Math.max(0, (job.attemptsMade ?? 1) - 1);
    // The result is read; the job need not stay in Redis.
    void job.remove().catch(() => undefined);
    p.resolve(outcome);
  }

  private async resubmit(id: string, p: Pending): Promise<void> {
    p.resubmits++;
    const max = this.options.maxResubmits ?? 5;
    if (p.resubmits > max) {
      this.fail(id, new RedisUnavailableError(`job ${id} was lost by Redis ${p.resubmits} times; is Redis evicting keys (maxmemory-policy must be noeviction) or restarting?`, { details: { url: this.link.target.display, job: id } }));
      return;
    }
    this.counters.resubmitted++;
    if (Date.now() - this.lostNoticeAt > 5000) {
      this.lostNoticeAt = Date.now();
      this.log(`Redis no longer has job ${id} (restarted without its data?); submitting lost jobs again`);
    }
    p.added = false;
    await this.add(id, p.job);
    p.added = true;
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    const down = this.link.downForMillis();
    const limit = this.options.outageMillis ?? 120_000;
    if (down > limit && this.broken === undefined) {
      this.broken = this.link.unavailable(`unreachable for ${(down / 1000).toFixed(0)} s (limit ${(limit / 1000).toFixed(0)} s); the run stops`);
      for (const id of [...this.pending.keys()]) this.fail(id, this.broken);
      return;
    }
    if (!this.link.connected) return;
    for (const id of [...this.pending.keys()]) await this.check(id);
  }

  private async warnWithoutWorkers(): Promise<void> {
    if (this.pending.size === 0 || !this.link.connected) return;
    try {
      const n = await this.queue.getWorkersCount();
      if (n === 0) this.log(`${this.pending.size} job(s) waiting and no worker is connected to ${this.description}; start one: mmfuse worker --redis ${this.link.target.display}`);
    } catch {
      // connection trouble is logged by the link
    }
  }

  /** Workers connected to the queue now (from Redis' client list). */
  async workerCount(): Promise<number> {
    return this.queue.getWorkersCount();
  }

  stats(): ExecutorStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    // Jobs nobody has taken yet are withdrawn; one a worker holds finishes there and is then dropped by age.
    if (this.link.connected) {
      for (const id of this.pending.keys()) await settleWithin(this.queue.remove(id), 1000);
    }
    for (const id of [...this.pending.keys()]) this.fail(id, new RedisUnavailableError('the run was closed before this job finished'));
    await settleWithin(this.events.close(), 2000);
    await settleWithin(this.queue.close(), 2000);
    await this.link.close();
  }
}
