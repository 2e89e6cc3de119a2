/** Reading tensors back, asynchronously: the WebGPU engine has no synchronous read of GPU data in Node. */
import type * as tf from '@tensorflow/tfjs';

/**
 * A float32 copy of each tensor's values, all reads issued at once (so they see the same moment). Copies,
 * because on the cpu engine `data()` resolves to the tensor's own array, which a later `assign` may reuse.
 */
export async function readCopies(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(tensors.map(async (t) => Float32Array.from(await t.data() as Float32Array)));
}
