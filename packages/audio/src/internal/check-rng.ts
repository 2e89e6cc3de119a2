import { ConfigError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';

/** Refuse a missing or foreign random stream: augmentation is reproducible only through an `Rng`. */
export function checkRng(rng: unknown): Rng {
  const r = rng as Rng | null | undefined;
  if (r === null || typeof r !== 'object' || typeof r.normal !== 'function' || typeof r.int !== 'function') {
    throw new ConfigError('needs an Rng (createRng from @mmfuse/core) so the augmentation is reproducible', { path: 'rng' });
  }
  return r;
}
