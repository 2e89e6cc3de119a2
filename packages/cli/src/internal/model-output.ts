/**
 * Where `compress` and `distill` write a model folder: the one write path of those commands (so the rule
 * can be swapped for a shared one). `--out` may be a new path, an empty folder, or a folder holding an
 * mmfuse model (its model.json says format `mmfuse-fusion-model`), which is replaced atomically; anything
 * else is refused untouched. It must not be the source model's folder.
 */
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, IoError, UsageError, isMmfuseError } from '@mmfuse/core';
import { FORMAT_NAME, saveState } from '@mmfuse/fusion';
import type { FusionState } from '@mmfuse/fusion';

/** Refuse `out` unless it is new, empty or an mmfuse model folder, and other than every `sources` folder. */
export async function checkModelOutput(out: string, sources: readonly { dir: string; option: string }[], command: string): Promise<void> {
  for (const s of sources) {
    if (path.resolve(s.dir) === path.resolve(out)) throw new UsageError(`--out must differ from ${s.option} (${out}); write the result to a new folder`, { command });
  }
  let entries: string[];
  try {
    const st = await stat(out);
    if (!st.isDirectory()) throw new ConfigError(`${out} is a file, not a folder`, { path: 'out' });
    entries = await readdir(out);
  } catch (err) {
    if (isMmfuseError(err)) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new IoError(`cannot read ${out}: ${(err as Error).message}`, { file: out, cause: err });
  }
  if (entries.length === 0) return;
  const format = entries.includes('model.json')
    ? await readFile(path.join(out, 'model.json'), 'utf8').then((t) => (JSON.parse(t) as { format?: unknown }).format, () => undefined)
    : undefined;
  if (format !== FORMAT_NAME) {
    throw new ConfigError(`${out} already holds files that are not an mmfuse model (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); give a new or empty folder, or an earlier model folder to replace`, { path: 'out' });
  }
}

/** Write the model folder (atomically replacing an earlier model there), then the extra JSON files in it. */
export async function writeModelOutput(state: FusionState, out: string, extras: Record<string, unknown>): Promise<void> {
  await saveState(state, out);
  for (const [name, value] of Object.entries(extras)) await writeFile(path.join(out, name), `${JSON.stringify(value, null, 2)}\n`);
}
