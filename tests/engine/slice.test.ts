// Slice, Unpack, SplitV, Identity and GatherV2 on wasm (mmfuse's heap-to-heap versions) agree with the cpu backend on
// awkward shapes and every dtype, and leak neither tensors nor backend buffers.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@mmfuse/core';
import { compareBackends, expectNoLeak, randn } from './helpers.js';

// These tests are about the wasm engine, whichever engine MMFUSE_ENGINE gave tests/setup.ts.
beforeAll(async () => {
  await initEngine({ engine: 'wasm' });
});

const ints = (shape: number[]): tf.Tensor => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i * 7919) % 1009 - 500), shape, 'int32');
const bools = (shape: number[]): tf.Tensor => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i * 31) % 3 === 0), shape, 'bool');

const sliceCases: { shape: number[]; begin: number[]; size: number[] }[] = [
  { shape: [17], begin: [3], size: [9] },
  { shape: [5, 7], begin: [1, 2], size: [3, 4] },
  { shape: [5, 7], begin: [2, 0], size: [2, 7] },
  { shape: [4, 6, 9], begin: [1, 2, 3], size: [2, 3, 5] },
  { shape: [4, 6, 40], begin: [0, 1, 0], size: [4, 4, 40] }, // long contiguous runs
  { shape: [3, 4, 5, 6], begin: [1, 0, 2, 1], size: [2, 4, 2, 4] },
  { shape: [2, 3, 4, 5, 6], begin: [0, 1, 1, 0, 2], size: [2, 2, 3, 5, 3] },
  { shape: [6, 5], begin: [2, 1], size: [0, 3] }, // empty
];

describe('Slice on wasm', () => {
  for (const c of sliceCases) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      it(`matches cpu: ${dtype} [${c.shape}] begin [${c.begin}] size [${c.size}]`, () => {
        const make = (): tf.Tensor => (dtype === 'float32' ? randn(`s${c.shape}`, c.shape) : dtype === 'int32' ? ints(c.shape) : bools(c.shape));
        const run = (): tf.Tensor => tf.slice(make(), c.begin, c.size);
        compareBackends(run, 0, `slice ${dtype}`);
        expectNoLeak(() => tf.dispose(tf.tidy(run)));
      });
    }
  }

  it('slices a scalar-like rank-1 tensor of one value', () => {
    compareBackends(() => tf.slice(tf.tensor1d([4.5]), [0], [1]), 0);
  });
});

describe('Unpack and SplitV on wasm', () => {
  for (const [shape, axis] of [[[2, 5, 7, 3], 2], [[4, 3], 0], [[3, 4, 6], -1], [[2, 32, 9, 16], 1]] as [number[], number][]) {
    it(`unstack matches cpu: [${shape}] axis ${axis}`, () => {
      const run = (): tf.Tensor[] => tf.unstack(randn(`u${shape}`, shape), axis);
      compareBackends(run, 0);
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
      compareBackends(() => tf.unstack(ints(shape), axis), 0);
    });
  }

  for (const [shape, sizes, axis] of [[[13, 24], [8, 8, 8], 1], [[5, 9, 4], [2, 3, 4], 1], [[7, 3, 5], 7, 0], [[3, 4, 10], [1, 6, 3], -1]] as [number[], number | number[], number][]) {
    it(`split matches cpu: [${shape}] into ${JSON.stringify(sizes)} on axis ${axis}`, () => {
      const run = (): tf.Tensor[] => tf.split(randn(`sp${shape}`, shape), sizes, axis);
      compareBackends(run, 0);
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
      compareBackends(() => tf.split(bools(shape), sizes, axis), 0);
    });
  }

  it('keeps the gradient of split and unstack (values equal cpu)', () => {
    const f = (x: tf.Tensor): tf.Tensor => {
      const [a, b] = tf.split(x, [2, 4], 1);
      const rows = tf.unstack(b!, 0);
      return a!.sum().mul(2).add(tf.addN(rows.map((r, i) => r.mul(i + 1).sum())));
    };
    compareBackends(() => tf.grad(f)(randn('gs', [3, 6])), 1e-6);
  });
});

describe('Identity on wasm', () => {
  it('shares the buffer: a clone outlives its source and leaks nothing', () => {
    expectNoLeak(() => {
      const x = randn('id', [4, 5]);
      const values = x.dataSync().slice();
      const y = tf.clone(x);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual(Array.from(values));
      y.dispose();
    });
  });

  it('saved tensors stay correct through a gradient', () => {
    compareBackends(() => tf.grad((x: tf.Tensor) => x.square().mul(x).sum())(randn('idg', [7, 3])), 1e-6);
  });
});


describe('GatherV2 on wasm', () => {
  const gatherCases: { shape: number[]; indices: number[]; indexShape: number[]; axis: number }[] = [
    { shape: [20, 8], indices: [5, 0, 19, 5], indexShape: [4], axis: 0 }, // short rows, a repeated index
    { shape: [300, 40], indices: [299, 3, 3, 150, 0, 7], indexShape: [2, 3], axis: 0 }, // long rows, rank-2 indices
    { shape: [3, 7, 5], indices: [6, 0, 2], indexShape: [3], axis: 1 },
    { shape: [2, 3, 4, 17], indices: [16, 1], indexShape: [2], axis: -1 },
    { shape: [9, 4], indices: [], indexShape: [0], axis: 0 }, // nothing gathered
  ];
  for (const c of gatherCases) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      it(`matches cpu: ${dtype} [${c.shape}] indices [${c.indexShape}] axis ${c.axis}`, () => {
        const make = (): tf.Tensor => (dtype === 'float32' ? randn(`g${c.shape}`, c.shape) : dtype === 'int32' ? ints(c.shape) : bools(c.shape));
        const run = (): tf.Tensor => tf.gather(make(), tf.tensor(c.indices, c.indexShape, 'int32'), c.axis);
        compareBackends(run, 0, `gather ${dtype}`);
        expectNoLeak(() => tf.dispose(tf.tidy(run)));
      });
    }
  }

  it('refuses an index out of range, as the stock kernel does', () => {
    const x = randn('gr', [5, 3]);
    expect(() => tf.gather(x, tf.tensor1d([1, 5], 'int32'))).toThrow(/index value 5 is not in \[0, 4\]/);
    expect(() => tf.gather(x, tf.tensor1d([-1], 'int32'))).toThrow(/index value -1/);
    x.dispose();
  });

  it('keeps the gradient of an embedding lookup (values equal cpu)', () => {
    const ids = [3, 1, 3, 0, 7];
    compareBackends(() => tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(ids, 'int32')).square().sum())(randn('gg', [8, 6])), 1e-6);
  });

  it('passes batchDims to the stock kernel', () => {
    compareBackends(() => tf.gather(randn('gb', [2, 5, 3]), tf.tensor([[4, 0], [1, 1]], [2, 2], 'int32'), 1, 1), 0);
  });
});
