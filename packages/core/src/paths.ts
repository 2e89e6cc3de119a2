import * as path from 'node:path';
import { InvalidInputError } from './errors.js';
import type { ErrorLocation } from './errors.js';

export interface ResolvePathOptions extends ErrorLocation {
  /** Allow absolute paths and paths that leave `baseDir`. Default `false`. */
  allowOutside?: boolean;
}

/**
 * Resolve a data path written in a manifest (or request) against `baseDir`. Refuses, with an
 * `InvalidInputError` naming the sample and field, empty paths, NUL bytes, absolute paths and `..` escapes
 * unless `allowOutside` is set.
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
  const rel = path.relative(root, resolved);
  if (!allowOutside && (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))) {
    throw new InvalidInputError(`path ${JSON.stringify(value)} escapes the data folder ${root}; keep data inside it or allow paths outside the data folder`, loc);
  }
  return resolved;
}
