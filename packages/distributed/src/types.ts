/**
 * The contracts of @mmfuse/distributed: a job (a kind naming its handler, JSON data, a key unique within
 * the run), the handler a worker runs for it, and the executor a coordinator hands jobs to. The same
 * handlers run in this process (`LocalExecutor`), in child processes (`ChildExecutor`) or on workers
 * anywhere that reach one Redis (`RedisExecutor` + `startWorker`), so a command has one code path for all.
 */
import type { Outcome } from '@mmfuse/core/base';

/** One unit of work. */
export interface JobRequest<D = unknown> {
  /** The handler that runs it, e.g. `predict-chunk`. */
  kind: string;
  /** JSON data (it travels through Redis or IPC as JSON: no `Uint8Array`, no `undefined` in arrays). */
  data: D;
  /**
   * Unique within the run, e.g. `chunk-12` (letters, digits, `_` and `-`). With the run id it is the job's
   * id, so submitting the same job twice (after Redis lost it) never makes two jobs.
   */
  key: string;
}

/** A table that every job of a run can write to and read (e.g. the rungs of a successive-halving search). */
export interface SharedTable {
  /** Set `member` to `value` in table `name`; resolves with the whole table after the write. */
  record(name: string, member: string, value: number): Promise<Record<string, number>>;
}

/** What a handler gets besides its data. */
export interface JobContext {
  /** The job's id (`<run>-<key>`). */
  jobId: string;
  /** 1-based attempt number (a retry after a failure counts; a takeover after a worker died does not). */
  attempt: number;
  /**
   * Aborted when the worker is asked to hand the job back (SIGTERM during a long job). A long handler
   * checks it between steps and throws; the job then returns to the queue for another worker.
   */
  signal: AbortSignal;
  /** Shared by every job of the run. */
  shared: SharedTable;
  /** A log line for the worker's stderr. */
  log(line: string): void;
}

/** Runs one kind of job; resolves with a JSON result. Throw an `MmfuseError` to fail the job. */
export type JobHandler = (data: any, ctx: JobContext) => Promise<unknown>;

/** Handlers by job kind. */
export type JobHandlers = Readonly<Record<string, JobHandler>>;

/** Counters of an executor, for logs and benchmarks. */
export interface ExecutorStats {
  /** Jobs handed to the executor. */
  submitted: number;
  /** Jobs that ended with a result. */
  completed: number;
  /** Jobs that ended with an error (after their retries). */
  failed: number;
  /** Failed attempts that were tried again. */
  retried: number;
  /** Jobs taken over from a worker that stopped responding (BullMQ stalled-job handling, or a child that died). */
  stalled: number;
  /** Jobs submitted again because Redis lost them (restarted without persistence). */
  resubmitted: number;
}

/** Where jobs run. */
export interface JobExecutor {
  /** One line for logs, e.g. `redis://127.0.0.1:6379 (queue mmfuse:jobs)`. */
  readonly description: string;
  /**
   * Run one job: the handler's result, or the typed error that failed it after its retries (a bad input
   * fails its job alone). Rejects only when the executor itself can no longer run jobs (Redis unreachable
   * past the outage limit, every child process gone).
   */
  run<R = unknown>(job: JobRequest): Promise<Outcome<R>>;
  stats(): ExecutorStats;
  /** Release connections and processes; jobs not finished are withdrawn where possible. */
  close(): Promise<void>;
}

/** Fresh counters. */
export function emptyStats(): ExecutorStats {
  return { submitted: 0, completed: 0, failed: 0, retried: 0, stalled: 0, resubmitted: 0 };
}
