/**
 * Micro-batching: requests that arrive within `maxWaitMillis` of each other (or while the model is busy) go
 * to the model in one call of up to `maxBatchSize` samples. One call runs at a time, since the engine computes
 * one thing at a time anyway; each caller gets the outcome of its own sample only.
 */
import { ConfigError, InternalError, isMmfuseError } from '@mmfuse/core';
import type { Outcome } from '@mmfuse/core';

export interface BatcherOptions {
  /** Most samples per model call. Default 16. */
  maxBatchSize?: number;
  /** How long the first queued sample waits for company before its batch runs. Default 5 ms. */
  maxWaitMillis?: number;
  /** Called after each model call with its size and how many of its samples failed. */
  onBatch?: (size: number, failed: number) => void;
}

interface Pending<I, R> { input: I; resolve: (o: Outcome<R>) => void; }

export class Batcher<I, R> {
  private readonly queue: Pending<I, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly maxBatchSize: number;
  private readonly maxWaitMillis: number;

  /**
   * @param run predicts a batch and returns one outcome per input, in order. If it throws, every sample
   *   of that batch gets the error (an error that is no MmfuseError, i.e. a bug, as an InternalError).
   */
  constructor(private readonly run: (inputs: I[]) => Promise<Outcome<R>[]>, private readonly options: BatcherOptions = {}) {
    this.maxBatchSize = options.maxBatchSize ?? 16;
    this.maxWaitMillis = options.maxWaitMillis ?? 5;
    if (!Number.isInteger(this.maxBatchSize) || this.maxBatchSize < 1) throw new ConfigError(`must be a positive integer, got ${this.maxBatchSize}`, { path: 'maxBatchSize' });
    if (!(this.maxWaitMillis >= 0)) throw new ConfigError(`must be >= 0, got ${this.maxWaitMillis}`, { path: 'maxWaitMillis' });
  }

  /** Samples waiting for a model call. */
  get pending(): number {
    return this.queue.length;
  }

  submit(input: I): Promise<Outcome<R>> {
    return new Promise((resolve) => {
      this.queue.push({ input, resolve });
      if (this.running) return; // the running call's completion picks the queue up
      if (this.queue.length >= this.maxBatchSize) this.flushSoon(0);
      else if (this.timer === undefined) this.flushSoon(this.maxWaitMillis);
    });
  }

  private flushSoon(delay: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; void this.flush(); }, delay);
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatchSize);
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.run(batch.map((p) => p.input));
      if (outcomes.length !== batch.length) throw new InternalError(`the predictor returned ${outcomes.length} outcomes for ${batch.length} inputs`);
    } catch (err) {
      const error = isMmfuseError(err) ? err : new InternalError(`prediction failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      outcomes = batch.map(() => ({ ok: false, error }));
    }
    this.options.onBatch?.(batch.length, outcomes.filter((o) => !o.ok).length);
    batch.forEach((p, i) => p.resolve(outcomes[i] as Outcome<R>));
    this.running = false;
    if (this.queue.length > 0) this.flushSoon(this.queue.length >= this.maxBatchSize ? 0 : this.maxWaitMillis);
  }
}
