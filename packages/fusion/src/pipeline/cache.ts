/**
 * Cache of prepared values: in memory for the life of the model, and on disk (optional) keyed by
 * sha256(cache version + encoder kind + JSON of the encoder config + the raw value's content), where the
 * content of a path is the file's bytes, hashed as they stream (a regular file within the encoder's byte
 * limit, checked on the open descriptor before a byte is read: a FIFO, a device or a file that grew is
 * never hashed). Files are written to a unique temp name and renamed, so concurrent processes never see a
 * half-written entry. The cache folder is mmfuse's own: it is used only when absent, empty or marked by an
 * earlier cache (`.mmfuse-cache.json`), like every writer (`checkOutputTarget`).
 */
import { constants as fsConstants } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { checkOutputTarget } from '@mmfuse/core';
import type { OutputRule, RawInputKind } from '@mmfuse/core';

const CACHE_VERSION = 'mmfuse-prepared-v1';
const MARKER = '.mmfuse-cache.json';
const MARKER_FORMAT = 'mmfuse-prepared-cache';

/** A cache folder mmfuse wrote: its marker, or (caches from before the marker) only `xx/` entry folders. */
async function isCacheFolder(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.includes(MARKER)) {
    const text = await readFile(path.join(dir, MARKER), 'utf8').catch(() => '');
    return text.includes(`"format":"${MARKER_FORMAT}"`);
  }
  for (const e of entries) {
    if (!/^[0-9a-f]{2}$/.test(e) || !(await lstat(path.join(dir, e)).then((s) => s.isDirectory(), () => false))) return false;
  }
  return true;
}

/** The rule of a prepared-value cache folder (`cacheDir`). */
export function cacheFolderRule(option = 'cacheDir'): OutputRule {
  return { what: 'cache folder', option, isOwned: isCacheFolder };
}

/** Hash a file's bytes into `h`, reading at most `maxBytes`, on a descriptor that is checked to be a regular file first. */
async function hashFile(h: Hash, file: string, maxBytes: number): Promise<boolean> {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise block a thread-pool thread for good.
  const fd = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = await fd.stat();
    if (!st.isFile() || st.size > maxBytes) return false;
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, st.size)));
    let total = 0;
    for (;;) {
      const { bytesRead } = await fd.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) return false; // it grew while being read
      h.update(buf.subarray(0, bytesRead));
    }
    return true;
  } finally {
    await fd.close();
  }
}

export class PrepareCache {
  readonly dir: string | undefined;
  private readonly memo = new Map<string, unknown>();
  private claimed: Promise<void> | undefined;
  /** Counters for logs and tests. */
  readonly stats = { memoryHits: 0, diskHits: 0, misses: 0, writes: 0 };

  constructor(dir?: string) {
    this.dir = dir === undefined ? undefined : path.resolve(dir);
  }

  /**
   * Make sure the cache folder may be used (absent, empty, or an earlier cache: see `cacheFolderRule`) and
   * mark it. Throws `ConfigError` for a folder holding other files, `IoError` for an unwritable one. Called
   * before the first read or write; call it early to refuse a bad folder before any work.
   */
  claim(): Promise<void> {
    if (this.dir === undefined) return Promise.resolve();
    const dir = this.dir;
    this.claimed ??= (async () => {
      await checkOutputTarget(dir, cacheFolderRule());
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, MARKER), `${JSON.stringify({ format: MARKER_FORMAT, version: 1 })}\n`, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    })();
    return this.claimed;
  }

  /**
   * The key of a raw value, or undefined when it cannot be keyed (then it is prepared every time). `input`
   * is the encoder's raw-input kind: for `file`, a string names a file (relative to `baseDir`, default the
   * working folder) whose bytes are hashed as they stream, at most `maxBytes` of them (default 256 MiB):
   * anything but a regular file within the limit is not keyed, and `prepare` reports it.
   */
  async key(raw: unknown, opts: { kind: string; config: unknown; input: RawInputKind; baseDir?: string; maxBytes?: number }): Promise<string | undefined> {
    const h = createHash('sha256');
    h.update(`${CACHE_VERSION}\0${opts.kind}\0${JSON.stringify(opts.config)}\0`);
    if (typeof raw === 'string') {
      if (opts.input === 'file') {
        try {
          h.update('file\0');
          if (!(await hashFile(h, path.resolve(opts.baseDir ?? process.cwd(), raw), opts.maxBytes ?? 256 * 1024 * 1024))) return undefined;
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
    await this.claim();
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
    await this.claim();
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
