/**
 * Runs jobs in this process, one attempt each, through the same handlers a worker uses: the embedded
 * default when no Redis is configured. `concurrency` jobs run at once (they share one thread: useful
 * only while a job waits for I/O).
 */
import type { Outcome } from '@mmfuse/core/base';
import { asMmfuseError } from './errors.js';
import { MemoryTable } from './shared-table.js';
import { emptyStats } from './types.js';
import type { ExecutorStats, JobExecutor, JobHandlers, JobRequest, SharedTable } from './types.js';
import { missingHandler } from './internal/handlers.js';

export interface LocalExecutorOptions {
  /** Log lines of the handlers. Default: none. */
  log?: (line: string) => void;
  /** Default: a fresh in-memory table. */
  shared?: SharedTable;
  /** Prefix of job ids. Default `local`. */
  runId?: string;
}

export class LocalExecutor implements JobExecutor {
  readonly description = 'this process';
  private readonly counters = emptyStats();
  private readonly shared: SharedTable;

  constructor(private readonly handlers: JobHandlers, private readonly options: LocalExecutorOptions = {}) {
    this.shared = options.shared ?? new MemoryTable();
  }

  async run<R = unknown>(job: JobRequest): Promise<Outcome<R>> {
    this.counters.submitted++;
    const handler = this.handlers[job.kind];
    try {
      if (handler === undefined) throw missingHandler(job.kind, Object.keys(this.handlers));
      const value = (await handler(job.data, {
        jobId: `${this.options.runId ?? 'local'}-${job.key}`,
        attempt: 1,
        signal: new AbortController().signal,
        shared: this.shared,
        log: this.options.log ?? (() => undefined),
      })) as R;
      this.counters.completed++;
      return { ok: true, value };
    } catch (err) {
      this.counters.failed++;
      return { ok: false, error: asMmfuseError(err) };
    }
  }

  stats(): ExecutorStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    // nothing to release
  }
}
