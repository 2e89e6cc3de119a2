/**
 * Runs jobs in child processes of this one (`--parallel N` without Redis): each child runs one job at a
 * time through the same handlers a Redis worker uses (`serveIpc` on its side) and talks to the parent over
 * Node's IPC channel; the parent holds the shared table. A child that dies mid-job is replaced and its job
 * given to another child, at most `maxStalls` times.
 */
import type { ChildProcess } from 'node:child_process';
import { InternalError } from '@mmfuse/core/base';
import type { Outcome } from '@mmfuse/core/base';
import { asMmfuseError, errorFromJson, errorToJson } from './errors.js';
import { checkJobKey, missingHandler } from './internal/handlers.js';
import { MemoryTable } from './shared-table.js';
import { emptyStats } from './types.js';
import type { ExecutorStats, JobExecutor, JobHandlers, JobRequest, SharedTable } from './types.js';

/** Messages from parent to child. */
type ToChild =
  | { t: 'job'; id: string; kind: string; data: unknown; attempt: number }
  | { t: 'shared-result'; req: number; table: Record<string, number> }
  | { t: 'stop' };

/** Messages from child to parent. */
type ToParent =
  | { t: 'ready' }
  | { t: 'result'; id: string; ok: true; value: unknown }
  | { t: 'result'; id: string; ok: false; error: Record<string, unknown> }
  | { t: 'shared'; req: number; name: string; member: string; value: number };

export interface ChildExecutorOptions {
  /** Start one child (e.g. `fork(cli, ['worker', '--ipc'])`) with an IPC channel; it must call `serveIpc`. */
  spawn: () => ChildProcess;
  /** Children. */
  processes: number;
  /** Takeovers of a job whose child died before it fails. Default 2. */
  maxStalls?: number;
  log?: (line: string) => void;
  shared?: SharedTable;
}

interface Queued { id: string; job: JobRequest; stalls: number; resolve: (o: Outcome<unknown>) => void }
interface Slot { child: ChildProcess; ready: boolean; current?: Queued; exited: boolean }

export class ChildExecutor implements JobExecutor {
  readonly description: string;
  private readonly counters = emptyStats();
  private readonly queue: Queued[] = [];
  private readonly slots: Slot[] = [];
  private readonly shared: SharedTable;
  private closed = false;
  private failedStarts = 0;
  private broken: Error | undefined;

  constructor(private readonly options: ChildExecutorOptions) {
    this.description = `${options.processes} child process${options.processes === 1 ? '' : 'es'}`;
    this.shared = options.shared ?? new MemoryTable();
    for (let i = 0; i < options.processes; i++) this.slots.push(this.startChild());
  }

  private get log(): (line: string) => void {
    return this.options.log ?? (() => undefined);
  }

  private startChild(): Slot {
    const child = this.options.spawn();
    const slot: Slot = { child, ready: false, exited: false };
    child.on('message', (m: ToParent) => { void this.onMessage(slot, m); });
    child.on('exit', (code, signal) => this.onExit(slot, code, signal));
    child.on('error', (err) => this.log(`child process: ${err.message}`));
    return slot;
  }

  private async onMessage(slot: Slot, m: ToParent): Promise<void> {
    if (m.t === 'ready') {
      slot.ready = true;
      this.failedStarts = 0;
      this.dispatch();
    } else if (m.t === 'result') {
      const q = slot.current;
      if (q === undefined || q.id !== m.id) return;
      slot.current = undefined;
      if (m.ok) { this.counters.completed++; q.resolve({ ok: true, value: m.value }); }
      else { this.counters.failed++; q.resolve({ ok: false, error: errorFromJson(m.error) }); }
      this.dispatch();
    } else if (m.t === 'shared') {
      const table = await this.shared.record(m.name, m.member, m.value);
      this.send(slot, { t: 'shared-result', req: m.req, table });
    }
  }

  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    slot.exited = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (this.closed) return;
    const q = slot.current;
    if (!slot.ready) this.failedStarts++;
    this.log(`a child process exited (${signal ?? `code ${code}`})${q !== undefined ? ` while running ${q.id}` : ''}`);
    if (q !== undefined) {
      q.stalls++;
      this.counters.stalled++;
      if (q.stalls > (this.options.maxStalls ?? 2)) {
        this.counters.failed++;
        q.resolve({ ok: false, error: new InternalError(`job ${q.id} failed: the child process running it died ${q.stalls} times (last: ${signal ?? `exit code ${code}`})`, { details: { job: q.id } }) });
      } else {
        this.queue.unshift(q);
      }
    }
    if (this.failedStarts >= 3) {
      this.broken = new InternalError(`child processes exit before they start (${this.failedStarts} in a row; last: ${signal ?? `exit code ${code}`}); see their messages above`);
      for (const w of this.queue.splice(0)) w.resolve({ ok: false, error: this.broken as InternalError });
      return;
    }
    this.slots.push(this.startChild());
  }

  private send(slot: Slot, m: ToChild): void {
    if (!slot.exited && slot.child.connected) slot.child.send(m);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.current !== undefined || slot.exited) continue;
      const q = this.queue.shift();
      if (q === undefined) return;
      slot.current = q;
      this.send(slot, { t: 'job', id: q.id, kind: q.job.kind, data: q.job.data, attempt: 1 });
    }
  }

  async run<R = unknown>(job: JobRequest): Promise<Outcome<R>> {
    checkJobKey(job.key);
    if (this.broken !== undefined) throw this.broken;
    this.counters.submitted++;
    return new Promise<Outcome<R>>((resolve) => {
      this.queue.push({ id: `child-${job.key}`, job, stalls: 0, resolve: resolve as (o: Outcome<unknown>) => void });
      this.dispatch();
    });
  }

  stats(): ExecutorStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => new Promise<void>((resolve) => {
      if (slot.exited) { resolve(); return; }
      slot.child.once('exit', () => resolve());
      this.send(slot, { t: 'stop' });
      // A child that does not stop within 10 s (stuck in a job) is killed.
      setTimeout(() => { if (!slot.exited) slot.child.kill('SIGKILL'); }, 10_000).unref();
    })));
    for (const q of this.queue.splice(0)) q.resolve({ ok: false, error: new InternalError('closed before the job ran') });
  }
}

/**
 * The child side: take jobs from the parent over IPC and run them with `handlers`, one at a time, until
 * the parent says stop or goes away. Resolves when done.
 */
export function serveIpc(handlers: JobHandlers, options: { log?: (line: string) => void } = {}): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined) return Promise.reject(new InternalError('serveIpc needs an IPC channel (start the process with child_process.fork)'));
  const log = options.log ?? (() => undefined);
  let nextReq = 0;
  const waiting = new Map<number, (table: Record<string, number>) => void>();
  const shared: SharedTable = {
    record: (name, member, value) => new Promise((resolve) => {
      const req = nextReq++;
      waiting.set(req, resolve);
      send({ t: 'shared', req, name, member, value } satisfies ToParent);
    }),
  };
  let chain = Promise.resolve();
  return new Promise<void>((resolve) => {
    const stop = (): void => { process.off('message', onMessage); void chain.then(() => resolve()); };
    const onMessage = (m: ToChild): void => {
      if (m.t === 'stop') { stop(); return; }
      if (m.t === 'shared-result') { waiting.get(m.req)?.(m.table); waiting.delete(m.req); return; }
      if (m.t !== 'job') return;
      chain = chain.then(async () => {
        const handler = handlers[m.kind];
        try {
          if (handler === undefined) throw missingHandler(m.kind, Object.keys(handlers));
          const value = await handler(m.data, { jobId: m.id, attempt: m.attempt, signal: new AbortController().signal, shared, log });
          send({ t: 'result', id: m.id, ok: true, value } satisfies ToParent);
        } catch (err) {
          send({ t: 'result', id: m.id, ok: false, error: errorToJson(asMmfuseError(err)) } satisfies ToParent);
        }
      });
    };
    process.on('message', onMessage);
    process.once('disconnect', stop);
    send({ t: 'ready' } satisfies ToParent);
  });
}
