// The fused LSTM step (one wasm kernel each way) gives the values and gradients of the same step written
// with tf ops on the cpu backend.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@mmfuse/core';
import { LSTM_CELL, lstmCell } from '../../packages/core/src/internal/wasm/lstm_cell.js';
import { compareBackends, expectNoLeak, randn } from './helpers.js';

// These tests are about the wasm engine, whichever engine MMFUSE_ENGINE gave tests/setup.ts.
beforeAll(async () => {
  await initEngine({ engine: 'wasm' });
});

afterEach(async () => {
  await tf.setBackend('wasm');
});

/** An unrolled LSTM over `steps` steps: x [B, T, D] → sum of squares of the outputs (a scalar). */
function unrolled(x: tf.Tensor3D, w: tf.Tensor2D, u: tf.Tensor2D, hidden: number, useFinalC: boolean): tf.Scalar {
  const [b, t] = x.shape;
  let h: tf.Tensor2D = tf.zeros([b, hidden]);
  let c: tf.Tensor2D = tf.zeros([b, hidden]);
  let loss: tf.Tensor = tf.scalar(0);
  for (let s = 0; s < t; s++) {
    const xt = x.slice([0, s, 0], [b, 1, x.shape[2]]).reshape([b, x.shape[2]]) as tf.Tensor2D;
    const gates = tf.matMul(xt, w).add(tf.matMul(h, u)) as tf.Tensor2D; // [B, 4H]
    ({ h, c } = lstmCell(gates, c));
    loss = loss.add(h.square().sum());
  }
  return (useFinalC ? loss.add(c.sum()) : loss) as tf.Scalar;
}

describe('lstmCell', () => {
  it('runs as the fused kernel on wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel(LSTM_CELL, 'wasm')).toBeDefined();
    expect(tf.getKernel(LSTM_CELL, 'cpu')).toBeUndefined();
  });

  for (const [b, hidden] of [[1, 3], [5, 7], [32, 64]] as const) {
    it(`one step: values and gradients equal cpu's (B ${b}, H ${hidden})`, () => {
      const run = (): tf.Tensor[] => {
        const gates = randn(`z${b}${hidden}`, [b, 4 * hidden]).mul(2) as tf.Tensor2D;
        const c = randn(`c${b}${hidden}`, [b, hidden]) as tf.Tensor2D;
        const dh = randn(`dh${b}${hidden}`, [b, hidden]);
        const dc = randn(`dc${b}${hidden}`, [b, hidden]);
        const out = lstmCell(gates, c);
        const grads = tf.grads((z: tf.Tensor, s: tf.Tensor) => {
          const r = lstmCell(z as tf.Tensor2D, s as tf.Tensor2D);
          return r.h.mul(dh).sum().add(r.c.mul(dc).sum());
        })([gates, c]);
        // Only h used downstream: the cell-state gradient arrives as nothing and counts as zero.
        const onlyH = tf.grads((z: tf.Tensor, s: tf.Tensor) => lstmCell(z as tf.Tensor2D, s as tf.Tensor2D).h.mul(dh).sum())([gates, c]);
        return [out.h, out.c, ...grads, ...onlyH];
      };
      compareBackends(run, 1e-5, 'lstm cell');
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }

  it('an unrolled sequence trains with weight gradients equal to cpu’s', () => {
    const run = (): tf.Tensor[] => {
      const x = randn('sx', [3, 6, 4]) as tf.Tensor3D;
      const w = randn('sw', [4, 20]).mul(0.5) as tf.Tensor2D;
      const u = randn('su', [5, 20]).mul(0.5) as tf.Tensor2D;
      return [
        ...tf.grads((a: tf.Tensor, b: tf.Tensor) => unrolled(x, a as tf.Tensor2D, b as tf.Tensor2D, 5, true))([w, u]),
        ...tf.grads((a: tf.Tensor, b: tf.Tensor) => unrolled(x, a as tf.Tensor2D, b as tf.Tensor2D, 5, false))([w, u]),
      ];
    };
    compareBackends(run, 1e-4, 'unrolled');
    expectNoLeak(() => tf.dispose(tf.tidy(run)));
  });

  it('names the shapes it got when they do not fit', () => {
    expect(() => tf.tidy(() => lstmCell(tf.zeros([2, 10]) as tf.Tensor2D, tf.zeros([2, 3]) as tf.Tensor2D))).toThrow(/gates must be \[B, 4H\] and c \[B, H\], got \[2, 10\] and \[2, 3\]/);
  });
});
