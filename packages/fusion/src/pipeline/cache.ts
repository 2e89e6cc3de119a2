/**
 * Cache of prepared values: in memory for the life of the model, and on disk (optional) keyed by
 * sha256(cache version + encoder kind + JSON of the encoder config + the raw value's content), where the
 * content of a path is the file's bytes. Files are written to a unique temp name and renamed, so
 * concurrent processes never see a half-written entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import type { RawInputKind } from '@mmfuse/core';

const CACHE_VERSION = 'mmfuse-prepared-v1';

export class PrepareCache {
  readonly dir: string | undefined;
  private readonly memo = new Map<string, unknown>();
  /** Counters for logs and tests. */
  readonly stats = { memoryHits: 0, diskHits: 0, misses: 0, writes: 0 };

  constructor(dir?: string) {
    this.dir = dir;
  }

  /**
   * The key of a raw value, or undefined when it cannot be keyed (then it is prepared every time). `input`
   * is the encoder's raw-input kind: for `file`, a string names a file (relative to `baseDir`, default the
   * working folder) whose bytes are hashed.
   */
  async key(raw: unknown, opts: { kind: string; config: unknown; input: RawInputKind; baseDir?: string }): Promise<string | undefined> {
    const h = createHash('sha256');
    h.update(`${CACHE_VERSION}\0${opts.kind}\0${JSON.stringify(opts.config)}\0`);
    if (typeof raw === 'string') {
      if (opts.input === 'file') {
        try {
          h.update('file\0');
          h.update(await readFile(path.resolve(opts.baseDir ?? process.cwd(), raw)));
        } catch {
          return undefined; // let prepare report the unreadable path
        }
      } else {
        h.update('string\0');
        h.update(raw);
      }
    } else if (raw instanceof Uint8Array) {
      h.update('bytes\0');
      h.update(raw);
    } else {
      try {
        h.update('v8\0');
        h.update(v8.serialize(raw));
      } catch {
        return undefined;
      }
    }
    return h.digest('hex');
  }

  async get(key: string): Promise<{ hit: true; value: unknown } | { hit: false }> {
    if (this.memo.has(key)) {
      this.stats.memoryHits++;
      return { hit: true, value: this.memo.get(key) };
    }
    if (this.dir !== undefined) {
      try {
        const value = v8.deserialize(await readFile(this.file(key)));
        this.memo.set(key, value);
        this.stats.diskHits++;
        return { hit: true, value };
      } catch {
        // absent or unreadable: prepare again (a corrupt entry is overwritten below)
      }
    }
    this.stats.misses++;
    return { hit: false };
  }

  async set(key: string, value: unknown): Promise<void> {
    this.memo.set(key, value);
    if (this.dir === undefined) return;
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, v8.serialize(value));
      await rename(tmp, file);
      this.stats.writes++;
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  private file(key: string): string {
    return path.join(this.dir as string, key.slice(0, 2), `${key}.v8`);
  }
}
