/**
 * A weight's first values drawn by TensorFlow.js from an integer seed, or zeros when the caller says the values are
 * assigned next (`BuildOptions.weightsFollow`: loading a saved model), so that a load does not draw millions of
 * random numbers it overwrites at once.
 */
import * as tf from '@tensorflow/tfjs';
import type { BuildOptions } from '../types.js';

/** How the first values are drawn: normal(0, std) or uniform in ±limit. */
export type SeededInit = { normal: number } | { uniform: number };

/**
 * A new variable of `shape`, its values drawn from `seed` (or zeros with `options.weightsFollow`). The caller takes
 * the seed from its stream either way, so the stream moves as it would without the option.
 */
export function seededVariable(shape: readonly number[], init: SeededInit, seed: number, options: BuildOptions = {}, trainable = true): tf.Variable {
  const s = [...shape];
  return tf.tidy(() => {
    const values = options.weightsFollow === true ? tf.zeros(s) : 'normal' in init ? tf.randomNormal(s, 0, init.normal, 'float32', seed) : tf.randomUniform(s, -init.uniform, init.uniform, 'float32', seed);
    return tf.variable(values, trainable);
  });
}
