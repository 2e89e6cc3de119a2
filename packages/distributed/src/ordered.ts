/**
 * Ordered fan-out: items from a (possibly endless) stream are run at most `window` at a time, in any order
 * and anywhere, and their results are delivered strictly in the stream's order, each exactly once. Memory
 * is bounded by the window: an item is read from the source only when a slot is free, and a result waits
 * only for the results before it.
 */
import { ConfigError } from '@mmfuse/core/base';

export interface OrderedOptions<T, R> {
  /** Most items submitted and not yet delivered. */
  window: number;
  /** Run one item (e.g. submit it as a job and wait for its result). A rejection stops the whole run. */
  run(item: T, index: number): Promise<R>;
  /** Called once per item, in source order, awaited before the next. */
  deliver(result: R, item: T, index: number): void | Promise<void>;
  /** When aborted, no further item is read or submitted and the run rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Run every item of `source`; resolves with the number of items delivered. */
export async function runOrdered<T, R>(source: Iterable<T> | AsyncIterable<T>, options: OrderedOptions<T, R>): Promise<number> {
  const window = options.window;
  if (!Number.isInteger(window) || window < 1) throw new ConfigError(`must be an integer >= 1, got ${window}`, { path: 'window' });
  const running = new Map<number, { item: T; result: Promise<R> }>();
  let next = 0;
  let submitted = 0;

  const deliverHead = async (): Promise<void> => {
    const head = running.get(next) as { item: T; result: Promise<R> };
    const result = await head.result;
    running.delete(next);
    await options.deliver(result, head.item, next);
    next++;
  };

  try {
    for await (const item of source as AsyncIterable<T>) {
      if (options.signal?.aborted === true) throw options.signal.reason ?? new Error('aborted');
      while (running.size >= window) await deliverHead();
      const index = submitted++;
      const result = options.run(item, index);
      // Rejections are observed when their turn comes; keep Node from calling them unhandled before that.
      result.catch(() => undefined);
      running.set(index, { item, result });
    }
    while (running.size > 0) await deliverHead();
  } finally {
    // On an error, results still in flight are dropped (their promises are already observed above).
    running.clear();
  }
  return next;
}
