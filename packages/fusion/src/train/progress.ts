/** Training progress: a bar with ETA on a terminal, plain log lines otherwise, or nothing. */
import { formatClock } from '@mmfuse/core';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** Where the bar is drawn: a terminal (`isTTY`) gets `\r`-redrawn bars; `process.stderr` by default. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export class Progress {
  readonly mode: 'bar' | 'lines' | 'none';
  private readonly log: (line: string) => void;
  private readonly stream: ProgressStream;
  private lastLine = 0;
  private started = 0;
  /** A bar is on the terminal's current row (a log line must clear it first). */
  private barShown = false;

  constructor(mode: ProgressMode, log: (line: string) => void, stream: ProgressStream = process.stderr) {
    this.mode = mode === 'auto' ? (stream.isTTY === true ? 'bar' : 'lines') : mode;
    this.log = log;
    this.stream = stream;
  }

  startEpoch(): void {
    this.started = performance.now();
    this.lastLine = this.started;
  }

  /** After each step: `done` of `total` steps of epoch `epoch` (1-based) of `epochs`. */
  step(info: { epoch: number; epochs: number; done: number; total: number; loss: number; doneAtStart: number }): void {
    if (this.mode === 'none') return;
    const now = performance.now();
    const rate = (info.done - info.doneAtStart) / Math.max(1e-9, (now - this.started) / 1000);
    const eta = (info.total - info.done) / rate;
    if (this.mode === 'bar') {
      const width = 24;
      const filled = Math.round((width * info.done) / info.total);
      const line = `epoch ${info.epoch}/${info.epochs} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${info.done}/${info.total} loss ${info.loss.toFixed(4)} ETA ${formatClock(eta)}`;
      this.stream.write(`\r${line}\x1b[K`);
      this.barShown = true;
    } else if (now - this.lastLine >= 10_000 || info.done === info.total) {
      this.lastLine = now;
      if (info.done < info.total) this.log(`epoch ${info.epoch}/${info.epochs} step ${info.done}/${info.total} loss ${info.loss.toFixed(4)} eta ${formatClock(eta)}`);
    }
  }

  /** One summary line per epoch. */
  epoch(line: string): void {
    if (this.mode === 'none') return;
    this.line(line);
  }

  /** A log line of the run: on its own row, never appended to the bar (the next step draws the bar again). */
  line(text: string): void {
    this.clear();
    this.log(text);
  }

  /** Erase the bar, if one is shown (at the end of an epoch and of the run). */
  clear(): void {
    if (!this.barShown) return;
    this.stream.write('\r\x1b[K');
    this.barShown = false;
  }
}
