/** Atomic folder writes: build the folder under a temp name beside the target, then rename it into place. */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { IoError, isMmfuseError } from '@mmfuse/core';

export async function writeFolderAtomically(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${tag}`);
  const old = path.join(parent, `.${path.basename(target)}.old-${tag}`);
  try {
    await mkdir(tmp, { recursive: true });
    await write(tmp);
    const exists = await stat(target).then((s) => s.isDirectory(), () => false);
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
