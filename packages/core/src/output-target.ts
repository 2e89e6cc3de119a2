/**
 * The one rule for every writer of mmfuse (model save, checkpoints, reports, caches, synthesized corpora,
 * exports): **may this path be (re)placed?** A writer replaces a folder (or file) only when it is absent,
 * an empty folder, or provably its own earlier output, recognised by the writer's marker or format file
 * (`rule.isOwned`). Anything else is refused up front with a `ConfigError` naming the option, before any
 * work starts, and nothing is touched. There is no override: a folder holding other files is never
 * replaced; the user picks another path or empties it.
 *
 * Also refused whatever they hold: the filesystem root, the working folder or any folder above it (a
 * rename would pull the process's own folder away), and a symbolic link (the writer would replace the
 * link, not what it points to). The location is probed for writing (a temp folder made and removed in the
 * nearest existing folder), so an unwritable place fails at once with the real errno (`EACCES`, `EROFS`)
 * instead of after hours of training.
 */
import { lstat, mkdtemp, readdir, rmdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, IoError, isMmfuseError } from './errors.js';

/** What a writer says about the path it writes. */
export interface OutputRule {
  /** What the writer makes, for messages: `model folder`, `checkpoint folder`, `training report`. */
  what: string;
  /** The option or argument that named the path (`--out`, `checkpointDir`), the `path` of the ConfigError. */
  option?: string;
  /** `folder` (default): the writer replaces a whole folder; `file`: one file. */
  kind?: 'folder' | 'file';
  /**
   * True when `target` (which exists: a non-empty folder, or a file) is the writer's own earlier output,
   * recognised by its marker or format file. Never throws for a foreign path: answer false.
   */
  isOwned(target: string): Promise<boolean>;
}

/** Where a checked path stands: absent, an empty folder, or the writer's own earlier output. */
export type OutputState = 'absent' | 'empty' | 'owned';

function refuse(reason: string, rule: OutputRule, file: string): ConfigError {
  return new ConfigError(reason, { file, ...(rule.option !== undefined ? { path: rule.option } : {}) });
}

function ioError(err: unknown, what: string, file: string): IoError {
  const errno = (err as NodeJS.ErrnoException).code;
  const why = errno === 'EACCES' || errno === 'EPERM' ? 'permission denied' : errno === 'EROFS' ? 'the file system is read-only' : errno === 'ENOSPC' ? 'no space left on the device' : (err as Error).message;
  return new IoError(`cannot ${what} ${file}: ${why}${errno !== undefined ? ` (${errno})` : ''}`, { file, cause: err, ...(errno === undefined ? {} : { details: { errno } }) });
}

function currentFolder(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined; // the working folder was removed
  }
}

/** True when `inner` is `outer` or inside it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** The nearest folder at or above `p` that exists (the root at worst). */
async function nearestExisting(p: string): Promise<string> {
  let dir = p;
  for (;;) {
    try {
      const st = await stat(dir);
      if (st.isDirectory()) return dir;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError(err, 'read', dir);
    }
    const up = path.dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
}

/** The name prefix of a writability probe; the creating process's pid follows it (`.mmfuse-write-check-<pid>-XXXXXX`). */
const WRITE_PROBE_PREFIX = '.mmfuse-write-check-';
const PROBE_NAME = /^\.mmfuse-write-check-(\d+)-[A-Za-z0-9]+$/;

/** Whether a process with this pid exists (one of another user counts: `EPERM`). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the probes that processes killed between making and removing them (SIGKILL, power) left in
 * `place`: a probe is provably ours (its name, with the pid of a process that is gone, and it is empty:
 * `rmdir` removes nothing else). Best effort: a probe that cannot be removed stays.
 */
async function removeStaleProbes(place: string): Promise<void> {
  for (const name of await readdir(place).catch(() => [] as string[])) {
    const m = PROBE_NAME.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) await rmdir(path.join(place, name)).catch(() => undefined);
  }
}

/**
 * Probe that entries can be made in `dir` (or, when it does not exist yet, in the nearest folder above it,
 * where the writer will create it): make a temp folder and remove it. Throws `IoError` with the errno.
 * Probes left there by killed processes are removed first (see `removeStaleProbes`).
 */
export async function checkWritable(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const place = await nearestExisting(target);
  await removeStaleProbes(place);
  let probe: string;
  try {
    probe = await mkdtemp(path.join(place, `${WRITE_PROBE_PREFIX}${process.pid}-`));
  } catch (err) {
    throw ioError(err, 'write in', place === target ? target : `${place} (to create ${target})`);
  }
  await rmdir(probe).catch(() => undefined);
}

/**
 * May `target` be written (created, or replaced as a whole) by the writer `rule` describes? Resolves with
 * where it stands; throws `ConfigError` (refused: see the file comment) or `IoError` (unreadable or
 * unwritable, with the errno) without touching anything. Call it before the work that produces the output,
 * and again right before replacing. `cwd`: a working folder besides the process's own that must not be
 * replaced (the CLI's, when it runs in process).
 */
export async function checkOutputTarget(target: string, rule: OutputRule, options: { cwd?: string } = {}): Promise<OutputState> {
  const p = path.resolve(target);
  const kind = rule.kind ?? 'folder';
  const name = `the ${rule.what} ${p}`;
  if (path.parse(p).root === p) throw refuse(`${name} is the root of the file system; give a folder of its own, e.g. ./models/run1`, rule, p);
  const working = [options.cwd, currentFolder()].filter((d): d is string => d !== undefined);
  if (working.some((d) => within(path.resolve(d), p))) throw refuse(`${name} is the working folder or a folder above it; give a folder of its own inside it, e.g. ./models/run1`, rule, p);
  let state: OutputState;
  try {
    const st = await lstat(p);
    if (st.isSymbolicLink()) throw refuse(`${name} is a symbolic link; mmfuse writes only a real ${kind} (give the path it points to, or a new one)`, rule, p);
    if (kind === 'folder') {
      if (!st.isDirectory()) throw refuse(`${name} is ${st.isFile() ? 'a file' : 'not a folder'}; give a new folder, an empty one, or an earlier ${rule.what} of mmfuse`, rule, p);
      const entries = await readdir(p);
      if (entries.length === 0) state = 'empty';
      else if (await rule.isOwned(p)) state = 'owned';
      else {
        const shown = entries.sort().slice(0, 4).join(', ');
        throw refuse(`${name} holds files mmfuse did not write (${shown}${entries.length > 4 ? `, and ${entries.length - 4} more` : ''}); mmfuse replaces only an empty folder or an earlier ${rule.what} of its own, so nothing was changed. Give a new folder`, rule, p);
      }
    } else {
      if (!st.isFile()) throw refuse(`${name} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}; give a new file name`, rule, p);
      if (!(await rule.isOwned(p))) throw refuse(`${name} is a file mmfuse did not write; it replaces only an earlier ${rule.what} of its own, so nothing was changed. Give a new file name`, rule, p);
      state = 'owned';
    }
  } catch (err) {
    if (isMmfuseError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw ioError(err, 'read', p);
    state = 'absent';
  }
  // The writer makes its temp entries beside the target (or creates the target's missing folders).
  await checkWritable(state === 'absent' ? p : path.dirname(p));
  return state;
}
