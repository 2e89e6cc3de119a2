/**
 * Output folders mmfuse owns: a folder is written only when it is new, empty, or carries the marker file an
 * earlier run of the same kind left (`{ "format": FORMAT }`). Anything else is refused untouched. The rule
 * itself is core's `checkOutputTarget`, the one every mmfuse writer follows.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { IoError, checkOutputTarget } from '@mmfuse/core';

/** Make `out` ours (create it and the marker) or confirm it already is; throws ConfigError when it is not. */
export async function claimFolder(out: string, marker: string, format: string, what: string): Promise<void> {
  const markerFile = path.join(out, marker);
  await checkOutputTarget(out, {
    what: `${what} output folder`,
    option: 'out',
    async isOwned(dir: string): Promise<boolean> {
      if (!(await readdir(dir).catch(() => [] as string[])).includes(marker)) return false;
      const text = await readFile(path.join(dir, marker), 'utf8').catch(() => '');
      return text.includes(`"format":"${format}"`);
    },
  });
  try {
    await mkdir(out, { recursive: true });
    await writeFile(markerFile, `${JSON.stringify({ format, version: 1 })}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new IoError(`cannot create ${out}: ${(err as Error).message}`, { file: out, cause: err, details: { errno: (err as NodeJS.ErrnoException).code } });
  }
}
