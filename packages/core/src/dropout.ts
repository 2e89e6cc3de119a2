/**
 * Inverted dropout with a seeded mask, the one dropout of mmfuse (fusion layers and every built-in
 * encoder), so one seed reproduces a training run and no layer falls back to an unseeded stream.
 *
 * The mask is xorshift32 (two 16-bit draws per 32-bit state update), 0 or 1/(1-rate). On the wasm engine
 * one kernel draws it straight into the output (`internal/wasm/dropout.ts`); elsewhere the mask is built in
 * JS and applied with one multiply — both about 4x faster than tf.randomUniform + greaterEqual + cast + 2
 * multiplies, and dropout runs on ~8 million values per step in the reference model.
 */
import type * as tf from '@tensorflow/tfjs';
import { ConfigError, StateError } from './errors.js';
import type { Rng } from './random.js';
import { dropoutMask as drawMask } from './internal/wasm/dropout_mask.js';
import { dropout as seededDropout } from './internal/wasm/dropout.js';

/** A keep mask of `size` values: 0 with probability `rate` (to 1/65536), else 1 / (1 - rate). */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  if (!Number.isInteger(size) || size < 0) throw new ConfigError(`must be an integer >= 0, got ${size}`, { path: 'size' });
  if (!(rate >= 0 && rate < 1)) throw new ConfigError(`must be a number >= 0 and < 1, got ${rate}`, { path: 'rate' });
  return drawMask(size, rate, seed);
}

/**
 * Zero each value with probability `rate` and scale the rest by 1 / (1 - rate); identity when not
 * training. Each call advances `rng` (one seed per mask), so successive steps draw new masks.
 * @throws StateError when training with `rate > 0` and no `rng`.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, training: boolean, rng: Rng | undefined): T {
  if (!training || rate <= 0) return x;
  if (rng === undefined) throw new StateError('dropout while training needs a seeded random stream (EncodeOptions.rng / ApplyOptions.rng), so runs are reproducible');
  if (!(rate < 1)) throw new ConfigError(`must be a number >= 0 and < 1, got ${rate}`, { path: 'rate' });
  return seededDropout(x, rate, rng.nextSeed()) as T;
}
