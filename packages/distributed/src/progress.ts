/**
 * Progress of a fan-out on stderr: a bar with rate and ETA on a terminal, a line every 10 s otherwise. The
 * total may be an estimate (e.g. the manifest's line count); the bar never claims more than 100 %.
 */
import { createReadStream } from 'node:fs';
import { formatClock } from '@mmfuse/core';

export interface FanOutProgressOptions {
  /** What is counted, e.g. `samples`. */
  unit: string;
  /** Expected total (an estimate is fine); unknown: no ETA. */
  total?: number;
  /** `auto` (default): a bar on a terminal, lines otherwise. */
  mode?: 'auto' | 'bar' | 'lines' | 'none';
  log: (line: string) => void;
  stream?: NodeJS.WriteStream;
  /** Seconds between lines in `lines` mode. Default 10. */
  everySeconds?: number;
}

export class FanOutProgress {
  private readonly mode: 'bar' | 'lines' | 'none';
  private readonly stream: NodeJS.WriteStream;
  private readonly started = performance.now();
  private lastLine = performance.now();
  private done = 0;

  constructor(private readonly options: FanOutProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    const mode = options.mode ?? 'auto';
    this.mode = mode === 'auto' ? (this.stream.isTTY === true ? 'bar' : 'lines') : mode;
  }

  /** The text of the current state, e.g. `640/1000 samples (64 %), 120.5/s, ETA 00:03`. */
  text(): string {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = this.done / Math.max(1e-9, seconds);
    const total = this.options.total;
    if (total === undefined || total <= 0) return `${this.done} ${this.options.unit}, ${rate.toFixed(1)}/s`;
    const shown = Math.max(total, this.done);
    const pct = Math.min(100, (100 * this.done) / shown);
    const eta = this.done === 0 ? Number.NaN : (shown - this.done) / rate;
    return `${this.done}/${shown} ${this.options.unit} (${pct.toFixed(0)} %), ${rate.toFixed(1)}/s, ETA ${formatClock(eta)}`;
  }

  /** Add `n` finished units. */
  add(n: number): void {
    this.done += n;
    if (this.mode === 'none') return;
    const now = performance.now();
    if (this.mode === 'bar') {
      const total = this.options.total;
      const width = 24;
      const filled = total !== undefined && total > 0 ? Math.min(width, Math.round((width * this.done) / Math.max(total, this.done))) : 0;
      this.stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.text()}\x1b[K`);
    } else if (now - this.lastLine >= (this.options.everySeconds ?? 10) * 1000) {
      this.lastLine = now;
      this.options.log(`progress: ${this.text()}`);
    }
  }

  /** Clear the bar (a terminal) before the final lines. */
  finish(): void {
    if (this.mode === 'bar') this.stream.write('\r\x1b[K');
  }
}

/** Non-empty lines of a text file: the record count of a JSONL manifest (an estimate for CSV), for ETAs. */
export async function countLines(file: string): Promise<number> {
  let n = 0;
  let sawText = false;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c === 10) { if (sawText) n++; sawText = false; } else if (c !== 13 && c !== 32 && c !== 9) sawText = true;
    }
  }
  return sawText ? n + 1 : n;
}
