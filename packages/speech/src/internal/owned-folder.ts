/**
 * Output folders mmfuse owns: a folder is written only when it is new, empty, or carries the marker file an
 * earlier run of the same kind left (`{ "format": FORMAT }`). Anything else is refused untouched.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, IoError, isMmfuseError } from '@mmfuse/core';

/** Make `out` ours (create it and the marker) or confirm it already is; throws ConfigError when it is not. */
export async function claimFolder(out: string, marker: string, format: string, what: string): Promise<void> {
  const markerFile = path.join(out, marker);
  try {
    const st = await stat(out);
    if (!st.isDirectory()) throw new ConfigError(`${out} is a file, not a folder`, { path: 'out' });
    const entries = await readdir(out);
    if (entries.includes(marker)) {
      const text = await readFile(markerFile, 'utf8').catch(() => '');
      if (!text.includes(`"format":"${format}"`)) throw new ConfigError(`${markerFile} is not an mmfuse ${what} marker; refusing to write into ${out}`, { path: 'out' });
      return;
    }
    if (entries.length > 0) {
      throw new ConfigError(`${out} already holds files that mmfuse did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); give a new or empty folder, or an earlier ${what} output`, { path: 'out' });
    }
  } catch (err) {
    if (isMmfuseError(err)) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError(`cannot read ${out}: ${(err as Error).message}`, { file: out, cause: err });
  }
  try {
    await mkdir(out, { recursive: true });
    await writeFile(markerFile, `${JSON.stringify({ format, version: 1 })}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new IoError(`cannot create ${out}: ${(err as Error).message}`, { file: out, cause: err, details: { errno: (err as NodeJS.ErrnoException).code } });
  }
}
