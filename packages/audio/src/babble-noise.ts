import { ConfigError, InvalidInputError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';
import { checkSamples } from './internal/check.js';
import { checkInteger } from '@mmfuse/core/base';
import { checkRng } from './internal/check-rng.js';
import type { Samples } from './types.js';

/** Options of `babbleNoise`. */
export interface BabbleNoiseOptions {
  /** Talkers mixed (clips drawn with replacement). Default 4. */
  talkers?: number;
}

/**
 * Babble: several other speech clips summed, each from a random offset (looped when shorter than
 * `length`) and scaled to unit RMS; the sum is scaled to unit RMS.
 * @param clips speech clips at the rate of the signal the babble goes into (at least one, none silent).
 * @returns `[length]`.
 */
export function babbleNoise(clips: readonly Samples[], length: number, rng: Rng, options: BabbleNoiseOptions = {}): Float32Array {
  checkInteger(length, 'length', 0);
  checkRng(rng);
  if (!Array.isArray(clips) || clips.length === 0) throw new ConfigError('needs at least one speech clip', { path: 'clips' });
  const talkers = checkInteger(options.talkers ?? 4, 'talkers', 1, 64);
  const out = new Float64Array(length);
  for (let k = 0; k < talkers; k++) {
    const index = rng.int(clips.length);
    const clip = checkSamples(clips[index], `clips[${index}]`);
    let ss = 0;
    for (const x of clip) ss += x * x;
    if (clip.length === 0 || ss === 0) throw new InvalidInputError(`clips[${index}] is empty or silent`, { field: 'clips' });
    const g = 1 / Math.sqrt(ss / clip.length);
    const start = rng.int(clip.length);
    for (let i = 0; i < length; i++) out[i] = (out[i] as number) + g * (clip[(start + i) % clip.length] as number);
  }
  let ss = 0;
  for (const x of out) ss += x * x;
  const scale = ss > 0 ? Math.sqrt(length / ss) : 1;
  return Float32Array.from(out, (x) => x * scale);
}
