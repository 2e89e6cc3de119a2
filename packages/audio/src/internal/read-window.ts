/**
 * Small reads from a ByteSource through a 64 KiB window, so walking a file's headers (MP3 frames, Ogg
 * pages, EBML elements) costs one file read per window rather than one per header.
 */
import type { ByteSource } from './byte-source.js';

const WINDOW = 1 << 16;

export class ReadWindow {
  private buf = new Uint8Array(0);
  private start = 0;
  constructor(readonly src: ByteSource) {}

  get size(): number {
    return this.src.size;
  }

  /**
   * Up to `length` bytes from `offset` (fewer at the end of the data). The view is valid until the next
   * call; copy what must outlive it with `new Uint8Array(view)` (never `.slice()`: on a Buffer it is a view).
   */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(offset + length, this.src.size);
    if (offset >= end) return new Uint8Array(0);
    if (offset < this.start || end > this.start + this.buf.length) {
      if (end - offset > WINDOW) return new Uint8Array(this.src.read(offset, end - offset));
      this.start = offset;
      this.buf = new Uint8Array(this.src.read(offset, Math.min(WINDOW, this.src.size - offset)));
    }
    return this.buf.subarray(offset - this.start, end - this.start);
  }
}
