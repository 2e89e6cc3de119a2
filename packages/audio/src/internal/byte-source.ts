/** Random-access byte sources for the WAV decoder: an in-memory buffer, or an open file read by blocks. */
import * as fs from 'node:fs';

export interface ByteSource {
  readonly size: number;
  /**
   * `length` bytes from `offset` (the caller checks the range). The returned view may be reused by the
   * next call, so consume it first.
   */
  read(offset: number, length: number): Uint8Array;
}

export class MemorySource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
}

export class FileSource implements ByteSource {
  readonly size: number;
  private buffer: Uint8Array = new Uint8Array(0);
  constructor(private readonly fd: number) {
    this.size = fs.fstatSync(fd).size;
  }
  read(offset: number, length: number): Uint8Array {
    if (this.buffer.length < length) this.buffer = new Uint8Array(Math.max(length, 4096));
    let got = 0;
    while (got < length) {
      const n = fs.readSync(this.fd, this.buffer, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return this.buffer.subarray(0, got);
  }
}
