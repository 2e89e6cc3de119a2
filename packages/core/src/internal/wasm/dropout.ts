/**
 * Inverted dropout with mmfuse's seeded mask stream (`dropoutMask`) as one kernel on wasm: y = x ⊙ mask,
 * the mask drawn on the fly into the output instead of built in JavaScript, uploaded and multiplied (three
 * steps and a mask-sized tensor per call). The gradient is the same kernel on dy with the same seed, so
 * nothing is kept between forward and backward. On other backends `dropout` multiplies by the uploaded mask.
 */
import * as tf from '@tensorflow/tfjs';
import { DropoutStream, dropoutMask } from './dropout_mask.js';
import { f32, type Info, type KernelArgs } from './heap.js';

export const DROPOUT = 'MmfuseDropout';

interface Attrs { rate: number; seed: number; [key: string]: unknown }

function dropoutKernel(args: KernelArgs<Attrs>): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs['x']!;
  const out = backend.makeOutput([...x.shape], 'float32');
  // x is read after the output is made: making it may grow the wasm heap, which detaches earlier views.
  const y = f32(backend, out);
  new DropoutStream(attrs.rate, attrs.seed).multiply(f32(backend, x), y);
  return out;
}

export const dropoutConfig: tf.KernelConfig = { kernelName: DROPOUT, backendName: 'wasm', kernelFunc: dropoutKernel as unknown as tf.KernelFunc };

/** Register the gradient of the fused kernel (once per process): dropout of dy with the same mask. */
export function registerDropoutGradient(): void {
  if (tf.getGradient(DROPOUT) !== undefined) return;
  tf.registerGradient({
    kernelName: DROPOUT,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = Array.isArray(dy) ? dy[0]! : dy;
      return { x: () => tf.engine().runKernel(DROPOUT, { x: g }, attrs) as tf.Tensor };
    },
  });
}

/** Dropout from tf ops (any backend): the reference the fused kernel is tested against. */
export function dropoutComposed(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  return x.mul(tf.tensor(dropoutMask(x.size, rate, seed), x.shape, 'float32'));
}

/**
 * x ⊙ mask: each value zeroed with probability `rate` and the rest scaled by 1 / (1 − rate), the mask
 * `dropoutMask(x.size, rate, seed)`. Differentiable. One kernel on wasm; tf ops elsewhere.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  if (tf.getKernel(DROPOUT, tf.getBackend()) === undefined || x.dtype !== 'float32') return dropoutComposed(x, rate, seed);
  return tf.engine().runKernel(DROPOUT, { x }, { rate, seed } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
