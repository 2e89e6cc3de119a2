import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidInputError } from './errors.js';
import type { ErrorLocation } from './errors.js';

export interface ResolvePathOptions extends ErrorLocation {
  /** Allow absolute paths and paths that leave `baseDir`. Default `false`. */
  allowOutside?: boolean;
}

/** True when `inner` is `outer` or inside it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (for a missing file). */
function realPathOf(p: string): string {
  let head = p;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync.native(head), ...tail.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const up = path.dirname(head);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || up === head) return p;
      tail.push(path.basename(head));
      head = up;
    }
  }
}

/**
 * Resolve a data path written in a manifest (or request) against `baseDir`. Refuses, with an
 * `InvalidInputError` naming the sample and field, empty paths, NUL bytes, absolute paths and `..` escapes
 * unless `allowOutside` is set, and a path that leaves `baseDir` through a symbolic link (a file or a
 * folder on the way): links are followed to their real location, which must lie inside the data folder's
 * own real location, under the same `allowOutside` rule. Returns the path as written, resolved.
 */
export function resolveDataPath(baseDir: string, value: string, options: ResolvePathOptions = {}): string {
  const { allowOutside = false, ...loc } = options;
  if (value.length === 0) throw new InvalidInputError('path is empty', loc);
  if (value.includes('\0')) throw new InvalidInputError('path contains a NUL byte', loc);
  const root = path.resolve(baseDir);
  if (path.isAbsolute(value)) {
    if (!allowOutside) {
      throw new InvalidInputError(`absolute path ${JSON.stringify(value)} is not allowed; write it relative to ${root} or allow paths outside the data folder`, loc);
    }
    return path.normalize(value);
  }
  const resolved = path.resolve(root, value);
  if (allowOutside) return resolved;
  if (!within(resolved, root)) {
    throw new InvalidInputError(`path ${JSON.stringify(value)} escapes the data folder ${root}; keep data inside it or allow paths outside the data folder`, loc);
  }
  const realRoot = realPathOf(root);
  const real = realPathOf(resolved);
  if (!within(real, realRoot)) {
    throw new InvalidInputError(`path ${JSON.stringify(value)} leads outside the data folder ${root} through a symbolic link (to ${real}); keep data inside it or allow paths outside the data folder`, loc);
  }
  return resolved;
}
