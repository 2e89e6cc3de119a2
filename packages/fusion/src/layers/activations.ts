import * as tf from '@tensorflow/tfjs';

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as PyTorch's default `gelu`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return x.mul(0.5).mul(tf.erf(x.mul(Math.SQRT1_2)).add(1));
}
