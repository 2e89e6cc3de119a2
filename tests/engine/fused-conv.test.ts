// audio/cnn's block as one fused kernel (explicit zero padding, strided convolution, bias, ReLU) agrees with
// the composition it replaced (pad, 'valid' convolution, add, relu) on wasm, values and gradients with respect
// to the input, the filter and the bias, on the strides and odd sizes the encoder uses.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@mmfuse/core';
import { expectClose, expectNoLeak, randn, runOn } from './helpers.js';

beforeAll(async () => {
  await initEngine({ engine: 'wasm' });
});

type Pads = [[number, number], [number, number], [number, number], [number, number]];

const cases: { x: number[]; k: number; cout: number; strides: [number, number] }[] = [
  { x: [2, 27, 40, 1], k: 3, cout: 8, strides: [2, 2] },
  { x: [3, 13, 9, 4], k: 3, cout: 5, strides: [2, 4] },
  { x: [1, 8, 11, 3], k: 4, cout: 6, strides: [1, 1] }, // even kernel: asymmetric padding
  { x: [2, 5, 7, 2], k: 5, cout: 3, strides: [4, 2] },
];

describe('fused padded conv2d + bias + relu on wasm', () => {
  for (const c of cases) {
    it(`equals pad + conv + add + relu: x [${c.x}] kernel ${c.k} strides [${c.strides}]`, () => {
      const pad = Math.floor(c.k / 2);
      const pads: Pads = [[0, 0], [pad, c.k - 1 - pad], [pad, c.k - 1 - pad], [0, 0]];
      const inputs = (): [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D] => [
        randn(`fx${c.x}`, c.x) as tf.Tensor4D,
        randn(`fw${c.x}`, [c.k, c.k, c.x[3]!, c.cout]).mul(0.5) as tf.Tensor4D,
        randn(`fb${c.x}`, [c.cout]).mul(0.3) as tf.Tensor1D,
      ];
      // A loss that weights every output differently, so each gradient entry is checked.
      const weightsOf = (y: tf.Tensor): tf.Tensor => randn(`fy${c.x}`, y.shape);
      const fused = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D): tf.Tensor => tf.fused.conv2d({ x, filter: w, strides: c.strides, pad: pads, bias: b, activation: 'relu' });
      const composed = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D): tf.Tensor => tf.relu(tf.conv2d(x.pad(pads) as tf.Tensor4D, w, c.strides, 'valid').add(b));
      const run = (f: typeof fused) => (): tf.Tensor[] => {
        const [x, w, b] = inputs();
        const y = f(x, w, b);
        const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => f(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D).mul(weightsOf(y)).sum())([x, w, b]);
        return [y, ...g];
      };
      const a = runOn('wasm', run(fused));
      expectClose(a, runOn('wasm', run(composed)), 1e-5, 'fused vs composed (wasm)');
      expectClose(a, runOn('cpu', run(composed)), 1e-4, 'fused (wasm) vs composed (cpu)');
      expect(a[0]!.values.some((v) => v > 0) && a[0]!.values.some((v) => v === 0)).toBe(true); // ReLU both active and clipped
      expectNoLeak(() => tf.dispose(tf.tidy(run(fused))));
    });
  }
});
