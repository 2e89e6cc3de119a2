/** Atomic folder writes: build the folder under a temp name beside the target, then rename it into place. */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { MmfuseError } from '@mmfuse/core';

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
    if (err instanceof MmfuseError) throw err;
    throw new MmfuseError('IO', `cannot write ${target}: ${(err as Error).message}`, { file: target, cause: err });
  }
}
