/** Inverted dropout with a seeded mask, so one seed reproduces a training run. */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';

/** Zero each value with probability `rate` and scale the rest by 1 / (1 - rate); identity when not training. */
export function dropout(x: tf.Tensor, rate: number, training: boolean, rng: Rng | undefined): tf.Tensor {
  if (!training || rate <= 0) return x;
  if (rng === undefined) throw new Error('dropout: a random stream is required while training');
  const keep = tf.randomUniform(x.shape, 0, 1, 'float32', rng.nextSeed()).greaterEqual(rate).cast('float32');
  return x.mul(keep).mul(1 / (1 - rate));
}
