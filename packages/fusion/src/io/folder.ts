/**
 * Atomic folder writes: build the folder under a temp name beside the target, then rename it into place.
 * A target is replaced only when `checkOutputTarget` (@mmfuse/core) allows it: absent, empty, or the
 * writer's own earlier output (a model folder: its `model.json` of format `mmfuse-fusion-model`; a
 * checkpoint: that plus `trainer.json`), checked before writing and again right before the swap.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { IoError, checkOutputTarget, isMmfuseError, processAlive } from '@mmfuse/core';
import type { OutputRule } from '@mmfuse/core';
import { FORMAT_NAME } from './format.js';

/** Largest model.json read (a folder whose model.json is larger is not one mmfuse wrote). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** True when `dir` holds a `model.json` of mmfuse's model format (a regular file, parsed; any version). */
export async function isModelFolder(dir: string): Promise<boolean> {
  const file = path.join(dir, 'model.json');
  try {
    const st = await lstat(file);
    if (!st.isFile() || st.size > MAX_MODEL_JSON_BYTES) return false;
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { format?: unknown } | null;
    return typeof parsed === 'object' && parsed !== null && parsed.format === FORMAT_NAME;
  } catch {
    return false;
  }
}

/** The replace rule of a model folder (`FusionModel.save`, `mmfuse train --out`): its own model.json. */
export function modelFolderRule(option = 'out'): OutputRule {
  return { what: 'model folder', option, isOwned: isModelFolder };
}

/** A checkpoint (`<checkpointDir>/last`): a model folder with the trainer's `trainer.json`. */
export async function isCheckpoint(dir: string): Promise<boolean> {
  return (await isModelFolder(dir)) && (await lstat(path.join(dir, 'trainer.json')).then((s) => s.isFile(), () => false));
}

// `last`, its write/replace temporaries, and the writability probe of core's checkOutputTarget (a process killed
// between creating and removing the probe leaves it behind; its name is mmfuse's own).
const CHECKPOINT_ENTRY = /^(last|\.last\.(tmp|old)-\d+-[0-9a-f]+|\.mmfuse-write-check-(\d+-)?[A-Za-z0-9]+)$/;
/** An ensemble member's checkpoint folder in a checkpoint folder (`member-<k>`, k >= 2), itself holding only checkpoint entries. */
export const MEMBER_CHECKPOINT_ENTRY = /^member-\d+$/;

/** A folder holding only `last` (a checkpoint) and the temp folders of checkpoint writes; `members`: also members' such folders. */
async function holdsCheckpoint(dir: string, members: boolean): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const e of entries) {
    if (CHECKPOINT_ENTRY.test(e)) continue;
    if (!(members && MEMBER_CHECKPOINT_ENTRY.test(e))) return false;
    const member = path.join(dir, e);
    if (!(await lstat(member).then((s) => s.isDirectory(), () => false)) || !(await holdsCheckpoint(member, false))) return false;
  }
  return !entries.includes('last') || isCheckpoint(path.join(dir, 'last'));
}

/**
 * The rule of a checkpoint folder (`checkpointDir`, `--checkpoint`): it holds only `last` (a checkpoint),
 * the temp folders of checkpoint writes, and an ensemble's `member-<k>` folders holding the same.
 */
export function checkpointFolderRule(option = 'checkpointDir'): OutputRule {
  return { what: 'checkpoint folder', option, isOwned: (dir: string) => holdsCheckpoint(dir, true) };
}

/**
 * Write `dir` atomically: `write` fills a temp folder beside it, which then replaces `dir`. `rule` says
 * which existing folder may be replaced (see `checkOutputTarget`); anything else is refused untouched.
 */
export async function writeFolderAtomically(dir: string, write: (tmp: string) => Promise<void>, rule: OutputRule): Promise<void> {
  const target = path.resolve(dir);
  await checkOutputTarget(target, rule);
  const parent = path.dirname(target);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${tag}`);
  const old = path.join(parent, `.${path.basename(target)}.old-${tag}`);
  try {
    await mkdir(tmp, { recursive: true });
    await write(tmp);
    // Again at the last moment: the folder may have been created or filled while `write` ran.
    const exists = (await checkOutputTarget(target, rule)) !== 'absent';
    if (exists) await rename(target, old);
    await rename(tmp, target);
    if (exists) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (isMmfuseError(err)) throw err;
    const errno = (err as NodeJS.ErrnoException).code;
    throw new IoError(`cannot write ${target}: ${(err as Error).message}`, { file: target, cause: err, ...(errno === undefined ? {} : { details: { errno } }) });
  }
}

/**
 * Finish a swap that `writeFolderAtomically` began but a crash (SIGKILL, power) cut between its two renames:
 * `dir` is missing and `.name.old-T` holds the previous folder. The matching `.name.tmp-T` was complete
 * before the first rename, so it becomes `dir`; without it the old folder is put back. Returns whether a
 * folder was recovered.
 */
export async function recoverFolder(dir: string): Promise<boolean> {
  const target = path.resolve(dir);
  if (await stat(target).then(() => true, () => false)) {
    await removeOrphans(target);
    return false;
  }
  const parent = path.dirname(target);
  const prefix = `.${path.basename(target)}.old-`;
  const names = await readdir(parent).catch(() => [] as string[]);
  const old = names.find((n) => n.startsWith(prefix));
  if (old === undefined) return false;
  const tmp = `.${path.basename(target)}.tmp-${old.slice(prefix.length)}`;
  if (names.includes(tmp)) {
    await rename(path.join(parent, tmp), target);
    await rm(path.join(parent, old), { recursive: true, force: true });
  } else {
    await rename(path.join(parent, old), target);
  }
  return true;
}

/** Remove the temp and old folders that writers killed mid-write left beside `target` (their pid is gone). */
async function removeOrphans(target: string): Promise<void> {
  const parent = path.dirname(target);
  const pattern = new RegExp(`^\\.${path.basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-(\\d+)-[0-9a-f]+$`);
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const m = pattern.exec(name);
    if (m !== null && Number(m[2]) !== process.pid && !processAlive(Number(m[2]))) await rm(path.join(parent, name), { recursive: true, force: true });
  }
}
