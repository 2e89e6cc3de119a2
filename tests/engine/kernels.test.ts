// Each kernel mmfuse adds to (or wraps in) the wasm backend agrees with the cpu backend's kernel on random
// inputs of awkward shapes, and leaks neither tensors nor backend buffers.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@mmfuse/core';
import { registerWasmKernels, unregisterWasmKernels } from '../../packages/core/src/internal/wasm/register.js';
import { compareBackends, expectNoLeak, randn, runOn } from './helpers.js';

// These tests are about the wasm engine, whichever engine MMFUSE_ENGINE gave tests/setup.ts.
beforeAll(async () => {
  await initEngine({ engine: 'wasm' });
});

afterEach(async () => {
  await tf.setBackend('wasm');
  tf.env().set('MMFUSE_IM2COL_MAX_FLOATS', 1 << 24);
});

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase { x: number[]; f: number[]; strides: [number, number]; pad: Pad; format?: 'NHWC' | 'NCHW' }

/** The output shape of a conv, from tfjs' own shape logic. */
function convOutShape(c: ConvCase, depthwise: boolean): number[] {
  const format = c.format === 'NCHW' ? 'channelsFirst' : 'channelsLast';
  return tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number],
    c.strides, 1, c.pad, undefined, depthwise, format).outShape;
}

const convCases: ConvCase[] = [
  { x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
  { x: [2, 9, 11, 5], f: [3, 2, 5, 7], strides: [2, 3], pad: 'same' },
  { x: [3, 10, 7, 2], f: [4, 3, 2, 5], strides: [2, 2], pad: 'valid' },
  { x: [2, 6, 9, 3], f: [3, 3, 3, 2], strides: [1, 2], pad: 1 },
  { x: [1, 5, 8, 4], f: [2, 3, 4, 3], strides: [1, 1], pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { x: [2, 3, 9, 11], f: [3, 3, 3, 6], strides: [2, 1], pad: 'same', format: 'NCHW' },
  // conv1d as tfjs runs it: a height-1 conv2d
  { x: [3, 1, 13, 6], f: [1, 5, 6, 4], strides: [1, 2], pad: 'same' },
  // one input channel (a spectrogram): the filter gradient reads x as its own plane
  { x: [2, 8, 6, 1], f: [3, 3, 1, 4], strides: [1, 1], pad: 'same' },
];

function label(c: ConvCase): string {
  return `x ${c.x} f ${c.f} strides ${c.strides} pad ${JSON.stringify(c.pad)} ${c.format ?? 'NHWC'}`;
}

describe('Conv2DBackpropFilter on wasm', () => {
  it('is registered by initEngine', async () => {
    await initEngine({ engine: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  for (const c of convCases) {
    it(`matches cpu: ${label(c)}`, () => {
      const dyShape = convOutShape(c, false);
      const run = (): tf.Tensor => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: randn(`x${label(c)}`, c.x), dy: randn(`dy${label(c)}`, dyShape) },
        { strides: c.strides, pad: c.pad, dataFormat: c.format ?? 'NHWC', dimRoundingMode: undefined, filterShape: c.f } as unknown as tf.NamedAttrMap) as tf.Tensor;
      compareBackends(run, 1e-4, label(c));
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }

  // Stride 1 across the width reads channel planes; stride 2 reads x in place (both from a chunk's first sample on).
  for (const strides of [[1, 1], [2, 2]] as [number, number][]) {
    it(`gives the same result when the patch matrix is built in chunks of samples (strides ${strides})`, () => {
      const c: ConvCase = { x: [5, 8, 6, 3], f: [3, 3, 3, 4], strides, pad: 'same' };
      const perSample = 27 * convOutShape(c, false).slice(1, 3).reduce((a, b) => a * b, 1);
      const run = (): tf.Tensor => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: randn('cx', c.x), dy: randn(`cdy${strides}`, convOutShape(c, false)) },
        { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const whole = runOn('wasm', run);
      tf.env().set('MMFUSE_IM2COL_MAX_FLOATS', perSample * 2); // two samples per chunk: chunks of 2, 2, 1 (afterEach resets it)
      compareBackends(run, 1e-4, 'chunked');
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
      const chunked = runOn('wasm', run);
      expect(Array.from(chunked[0]!.values)).not.toEqual(new Array(chunked[0]!.values.length).fill(0));
      for (let i = 0; i < whole[0]!.values.length; i++) expect(chunked[0]!.values[i]).toBeCloseTo(whole[0]!.values[i]!, 4);
    });
  }

  it('gives conv2d weight and input gradients equal to cpu through tf.grads', () => {
    const f = (): tf.Tensor[] => {
      const x = randn('gx', [2, 9, 8, 3]);
      const w = randn('gw', [3, 3, 3, 5]);
      const dy = randn('gdy', [2, 5, 4, 5]);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').mul(dy).sum())([x, w]);
    };
    compareBackends(f, 1e-4, 'conv2d grads');
    expectNoLeak(() => tf.dispose(tf.tidy(f)));
  });
});

describe('DepthwiseConv2dNative gradients on wasm', () => {
  const cases: ConvCase[] = [
    { x: [1, 7, 5, 3], f: [3, 3, 3, 2], strides: [1, 1], pad: 'same' },
    { x: [2, 9, 8, 4], f: [2, 3, 4, 1], strides: [2, 2], pad: 'valid' },
    { x: [3, 6, 7, 2], f: [3, 3, 2, 3], strides: [1, 1], pad: 1 },
  ];
  for (const c of cases) {
    it(`filter and input gradients match cpu: ${label(c)}`, () => {
      const dyShape = convOutShape(c, true);
      const attrs = { strides: c.strides, pad: c.pad, dilations: [1, 1], dataFormat: c.format ?? 'NHWC', dimRoundingMode: undefined };
      const run = (): tf.Tensor[] => {
        const x = randn(`dx${label(c)}`, c.x);
        const dy = randn(`ddy${label(c)}`, dyShape);
        const filter = randn(`df${label(c)}`, c.f);
        return [
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: c.f } as unknown as tf.NamedAttrMap) as tf.Tensor,
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      };
      compareBackends(run, 1e-4, label(c));
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }

  it('NCHW gives the NHWC result transposed (the cpu backend has no NCHW depthwise gradients to compare with)', () => {
    const x = [2, 7, 9, 2];
    const f = [3, 3, 2, 2];
    const attrs = { strides: [2, 2], pad: 'same', dilations: [1, 1], dimRoundingMode: undefined };
    const run = (format: 'NHWC' | 'NCHW') => (): tf.Tensor[] => {
      const toFormat = (t: tf.Tensor): tf.Tensor => (format === 'NCHW' ? t.transpose([0, 3, 1, 2]) : t);
      const fromFormat = (t: tf.Tensor): tf.Tensor => (format === 'NCHW' ? t.transpose([0, 2, 3, 1]) : t);
      const xs = toFormat(randn('nx', x));
      const dy = toFormat(randn('ndy', [2, 4, 5, 4]));
      const filter = randn('nf', f);
      return [
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: xs, dy }, { ...attrs, dataFormat: format, filterShape: f } as unknown as tf.NamedAttrMap) as tf.Tensor,
        fromFormat(tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, dataFormat: format, inputShape: format === 'NCHW' ? [2, 2, 7, 9] : x } as unknown as tf.NamedAttrMap) as tf.Tensor),
      ];
    };
    const nhwc = runOn('cpu', run('NHWC'));
    const nchw = runOn('wasm', run('NCHW'));
    nhwc.forEach((e, i) => {
      expect(nchw[i]!.shape).toEqual(e.shape);
      for (let j = 0; j < e.values.length; j++) expect(nchw[i]!.values[j]).toBeCloseTo(e.values[j]!, 4);
    });
  });
});

describe("Conv2D / FusedConv2D with 'same' padding and a stride wider than the filter", () => {
  // The stock wasm kernel gave values off by ~100 % here.
  const cases: [number[], number[], [number, number]][] = [
    [[3, 11, 9, 5], [3, 2, 5, 7], [2, 3]],
    [[3, 11, 9, 5], [3, 2, 5, 7], [1, 3]],
    [[2, 12, 9, 3], [1, 1, 3, 4], [2, 2]],
  ];
  for (const [xs, fs, strides] of cases) {
    it(`conv2d and fused conv2d match cpu, with gradients: x ${xs} f ${fs} strides ${strides}`, () => {
      const run = (): tf.Tensor[] => {
        const x = randn(`sx${xs}`, xs) as tf.Tensor4D;
        const f = randn(`sf${fs}`, fs) as tf.Tensor4D;
        const bias = randn('sb', [fs[3]!]);
        return [
          tf.conv2d(x, f, strides, 'same'),
          tf.fused.conv2d({ x, filter: f, strides, pad: 'same', bias, activation: 'relu' }),
          ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, 'same').sin().sum())([x, f]),
        ];
      };
      compareBackends(run, 1e-4, 'same padding');
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }

  it('conv1d with kernel 2 and stride 3 matches cpu', () => {
    compareBackends(() => tf.conv1d(randn('c1x', [2, 10, 3]) as tf.Tensor3D, randn('c1f', [2, 3, 4]) as tf.Tensor3D, 3, 'same'), 1e-4, 'conv1d');
  });
});

describe('Conv2DBackpropInput on wasm (stride 1 as a conv of the padded gradient; other strides as a product and col2im)', () => {
  const cases: ConvCase[] = [
    { x: [2, 9, 7, 3], f: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
    { x: [1, 8, 6, 5], f: [2, 4, 5, 3], strides: [1, 1], pad: 'same' }, // even filter: asymmetric padding
    { x: [3, 7, 9, 2], f: [3, 2, 2, 6], strides: [1, 1], pad: 'valid' },
    { x: [2, 6, 5, 4], f: [3, 3, 4, 2], strides: [1, 1], pad: 2 },
    { x: [2, 6, 5, 4], f: [3, 3, 4, 2], strides: [1, 1], pad: [[0, 0], [0, 2], [1, 0], [0, 0]] },
    // Strided and wide-padded: product + col2im.
    { x: [2, 9, 7, 3], f: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
    { x: [3, 10, 8, 1], f: [3, 3, 1, 5], strides: [2, 2], pad: 'same' }, // one input channel (the audio encoders' first conv)
    { x: [2, 11, 9, 4], f: [3, 2, 4, 3], strides: [2, 3], pad: 'valid' }, // rows and columns the output never reads
    { x: [2, 8, 7, 2], f: [2, 4, 2, 6], strides: [3, 1], pad: 'same' }, // stride wider than the filter's height
    { x: [1, 5, 6, 3], f: [3, 3, 3, 2], strides: [1, 1], pad: 3 }, // padding wider than the filter
    { x: [2, 7, 9, 3], f: [3, 3, 3, 4], strides: [2, 2], pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  ];
  const run = (c: ConvCase) => (): tf.Tensor => tf.engine().runKernel('Conv2DBackpropInput',
    { dy: randn(`idy${label(c)}`, convOutShape(c, false)), filter: randn(`if${label(c)}`, c.f) },
    { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
  for (const c of cases) {
    it(`matches cpu: ${label(c)}`, () => {
      compareBackends(run(c), 1e-4, label(c));
      expectNoLeak(() => tf.dispose(tf.tidy(run(c))));
    });
  }

  it('a strided gradient done in chunks of samples equals one done at once', () => {
    const c: ConvCase = { x: [5, 9, 7, 3], f: [3, 3, 3, 4], strides: [2, 2], pad: 'same' };
    const whole = tf.tidy(run(c));
    // One sample's cols is 5·4·27 = 540 floats: chunks of 1 sample, and of 2 (uneven: 2, 2, 1).
    for (const max of [600, 1100]) {
      tf.env().set('MMFUSE_IM2COL_MAX_FLOATS', max);
      const chunked = tf.tidy(run(c));
      expect(Array.from(chunked.dataSync())).toEqual(Array.from(whole.dataSync()));
      chunked.dispose();
      expectNoLeak(() => tf.dispose(tf.tidy(run(c))));
    }
    whole.dispose();
  });
});

describe('Transpose on wasm (rank > 4 collapsed or done in one pass)', () => {
  const cases: [number[], number[], 'float32' | 'int32' | 'bool'][] = [
    [[4, 5, 3, 2, 6], [2, 0, 3, 1, 4], 'float32'], // the attention q/k/v split
    [[3, 2, 4, 3, 2], [4, 3, 2, 1, 0], 'float32'], // full reversal: innermost axis strided
    [[2, 3, 1, 4, 5, 2], [5, 1, 0, 2, 4, 3], 'int32'],
    [[2, 3, 4, 5, 6], [0, 1, 3, 4, 2], 'float32'], // collapses to rank 3
    [[2, 1, 3, 1, 2], [4, 3, 2, 1, 0], 'bool'],
    [[7, 5], [1, 0], 'float32'],
    [[1, 1, 1, 1, 1], [4, 2, 0, 1, 3], 'float32'],
    [[6, 4], [0, 1], 'float32'], // identity: shares the buffer
    [[2, 1, 3], [1, 0, 2], 'int32'], // only a size-1 axis moves: shares the buffer
  ];
  for (const [shape, perm, dtype] of cases) {
    it(`matches cpu: [${shape}] perm [${perm}] ${dtype}`, () => {
      const run = (): tf.Tensor => {
        const x = randn(`t${shape}`, shape);
        const typed = dtype === 'float32' ? x : dtype === 'int32' ? x.mul(100).toInt() : x.greater(0);
        return tf.transpose(typed, perm).toFloat();
      };
      compareBackends(run, 0, 'transpose');
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }
});

describe('Transpose on wasm that moves nothing', () => {
  it('outlives its input and leaks nothing', () => {
    expectNoLeak(() => {
      const x = randn('tid', [5, 3]);
      const values = x.dataSync().slice();
      const y = tf.transpose(x, [0, 1]);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual(Array.from(values));
      y.dispose();
    });
  });
});

describe('MaxPoolGrad on wasm (replaces a stock kernel that gave wrong gradients)', () => {
  const cases: { x: number[]; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }[] = [
    { x: [2, 8, 6, 3], size: [2, 2], strides: [2, 2], pad: 'valid' },
    { x: [1, 9, 7, 5], size: [3, 3], strides: [2, 2], pad: 'same' },
    { x: [3, 1, 11, 4], size: [1, 2], strides: [1, 2], pad: 'valid' }, // maxPooling1d
    { x: [2, 7, 10, 2], size: [3, 2], strides: [1, 3], pad: 'same' },
    // The unrolled 2×2 / stride 2 path: odd sizes (the last row and column in no window), and 'same' on even sizes.
    { x: [2, 9, 7, 3], size: [2, 2], strides: [2, 2], pad: 'valid' },
    { x: [1, 8, 8, 4], size: [2, 2], strides: [2, 2], pad: 'same' },
  ];
  for (const c of cases) {
    it(`matches cpu: x ${c.x} pool ${c.size} strides ${c.strides} ${c.pad}`, () => {
      const run = (): tf.Tensor => tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, c.size, c.strides, c.pad).sin().sum())(randn(`mp${c.x}`, c.x));
      compareBackends(run, 1e-5, 'maxPool grad');
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }
});

describe('MaxPoolGrad on wasm: ties and windows without a maximum', () => {
  it('routes a tie to the first maximum in row-major order, as cpu, on both the general and the 2×2 path', () => {
    // Values in {0, 1, 2}: most windows hold ties.
    const x = (): tf.Tensor4D => randn('mpties', [2, 6, 6, 3]).mul(1.2).round().clipByValue(0, 2) as tf.Tensor4D;
    for (const [size, strides] of [[[2, 2], [2, 2]], [[3, 3], [2, 2]]] as [[number, number], [number, number]][]) {
      compareBackends(() => tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, size, strides, 'valid').mul(randn('mptw', [2, size[0] === 2 ? 3 : 2, size[0] === 2 ? 3 : 2, 3])).sum())(x()), 1e-6, `ties ${size}`); // overlapping windows sum in another order; a tie sent elsewhere is off by O(1)
    }
  });

  it('gives no gradient to a window whose values are all −∞ or NaN, on both paths', () => {
    const values = new Float32Array(16).fill(Number.NEGATIVE_INFINITY);
    values[5] = Number.NaN; // window (0, 0) of 2×2: positions 0, 1, 4, 5
    values[2] = 1; // window (0, 1): positions 2, 3, 6, 7
    for (const [size, strides] of [[[2, 2], [2, 2]], [[2, 2], [1, 1]]] as [[number, number], [number, number]][]) {
      const [g] = runOn('wasm', () => {
        const x = tf.tensor4d(values, [1, 4, 4, 1]);
        const dy = tf.onesLike(tf.maxPool(x, size, strides, 'valid'));
        return tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: tf.maxPool(x, size, strides, 'valid') }, { filterSize: size, strides, pad: 'valid' } as unknown as tf.NamedAttrMap) as tf.Tensor;
      });
      const got = Array.from(g!.values);
      expect(got.filter((v) => v !== 0).length, `strides ${strides}: ${got}`).toBeGreaterThan(0);
      // Position 2 (the only finite value) gets every window that holds it; no other position gets anything.
      got.forEach((v, i) => { if (i !== 2) expect(v, `strides ${strides}, position ${i}`).toBe(0); });
    }
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('matches cpu with repeated, unused and out-of-range ids', () => {
    const ids = [3, 0, 3, 6, -1, 7, 0, 2, 6]; // 1, 4, 5 unused; -1 and 7 (= numSegments) dropped
    const run = (): tf.Tensor => tf.unsortedSegmentSum(randn('usx', [9, 5, 3]), tf.tensor1d(ids, 'int32'), 7);
    compareBackends(run, 1e-6, 'segment sum');
    expectNoLeak(() => tf.dispose(tf.tidy(run)));
  });

  it('matches cpu for int32 values, a single row and multi-dimensional ids', () => {
    compareBackends(() => tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 3), 0, 'int32');
    compareBackends(() => tf.unsortedSegmentSum(randn('one', [1, 7]), tf.tensor1d([4], 'int32'), 5), 0, 'one row');
    // The cpu kernel cannot broadcast multi-dimensional ids, so this one is checked by hand.
    const [out] = runOn('wasm', () => tf.engine().runKernel('UnsortedSegmentSum',
      { x: tf.range(0, 24, 1, 'float32').reshape([2, 3, 4]), segmentIds: tf.tensor2d([[0, 2, 1], [2, 2, 0]], [2, 3], 'int32') }, { numSegments: 3 }) as tf.Tensor);
    // rows (4 values each) 0..5 hold 4r..4r+3; segment 0 ← rows 0, 5; segment 1 ← row 2; segment 2 ← rows 1, 3, 4
    const row = (r: number): number[] => [4 * r, 4 * r + 1, 4 * r + 2, 4 * r + 3];
    const add = (...rs: number[]): number[] => [0, 1, 2, 3].map((j) => rs.reduce((s, r) => s + row(r)[j]!, 0));
    expect(out!.shape).toEqual([3, 4]);
    expect(Array.from(out!.values)).toEqual([...add(0, 5), ...add(2), ...add(1, 3, 4)]);
  });

  it('has a gradient equal to cpu (TensorFlow.js\'s own) with and without dropped negative ids, multi-dimensional values', () => {
    for (const [name, ids] of [['non-negative', [3, 0, 3, 6, 1, 2, 0, 2, 6]], ['with -1 and -4', [3, -1, 3, 6, 1, -4, 0, 2, 6]]] as const) {
      const run = (): tf.Tensor => tf.grad((x: tf.Tensor) => tf.unsortedSegmentSum(x, tf.tensor1d(ids as unknown as number[], 'int32'), 7).mul(randn('usw', [7, 5, 3])).sum())(randn('usg', [9, 5, 3]));
      const [g] = compareBackends(run, 1e-6, `segment sum gradient, ${name}`);
      if (name !== 'non-negative') expect(Array.from(g!.values.slice(15, 30)).every((v) => v === 0)).toBe(true); // row 1 (id -1): no gradient
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    }
  });

  it('is the gradient of gather (embedding lookups) on wasm, equal to cpu', () => {
    const f = (): tf.Tensor => {
      const table = randn('table', [37, 6]);
      const ids = tf.tensor2d([[1, 5, 5, 36], [0, 0, 1, 9], [2, 3, 5, 7]], [3, 4], 'int32');
      const dy = randn('gdy', [3, 4, 6]);
      return tf.grad((t: tf.Tensor) => tf.gather(t, ids).mul(dy).sum())(table);
    };
    compareBackends(f, 1e-6, 'gather grad');
    const axis1 = (): tf.Tensor => tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([2, 0, 2], 'int32'), 1).square().sum())(randn('ax1', [4, 3, 5]));
    compareBackends(axis1, 1e-5, 'gather axis 1 grad');
    expectNoLeak(() => tf.dispose(tf.tidy(f)));
  });
});

describe('BatchMatMul and _FusedMatMul with transposed operands on wasm', () => {
  const shapes: [number[], number[], boolean, boolean][] = [
    [[7, 5], [5, 3], false, false],
    [[5, 7], [5, 3], true, false],
    [[7, 5], [3, 5], false, true],
    [[5, 7], [3, 5], true, true],
    [[1, 1, 9], [1, 4, 9], false, true],
    [[3, 2, 13, 17], [3, 2, 19, 17], false, true], // attention scores q·kᵀ
    [[4, 17, 13], [1, 17, 11], true, false], // broadcast batch in b
    [[1, 17, 13], [4, 11, 17], true, true], // broadcast batch in a
    [[33, 130], [33, 65], true, false], // a weight gradient xᵀ·dy
    [[2, 1, 5, 4], [1, 3, 4, 6], false, false], // partial broadcasting (stock path)
    [[5, 3, 7], [5, 7, 2], false, false], // a batch, split into single products
    [[2, 3, 1, 9], [2, 3, 9, 1], false, false], // 1-row / 1-column matrices
  ];
  for (const [sa, sb, ta, tb] of shapes) {
    it(`matMul [${sa}]${ta ? 'ᵀ' : ''} · [${sb}]${tb ? 'ᵀ' : ''} matches cpu`, () => {
      const run = (): tf.Tensor => tf.matMul(randn(`a${sa}`, sa), randn(`b${sb}`, sb), ta, tb);
      compareBackends(run, 1e-5, 'matMul');
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    });
  }

  it('fused matMul with bias and activation and transposes matches cpu, and its gradients too', () => {
    const f = (): tf.Tensor[] => {
      const a = randn('fa', [2, 6, 9]);
      const b = randn('fb', [2, 5, 6]);
      const bias = randn('fbias', [5]);
      const y = tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' });
      const grads = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.fused.matMul({ a: p, b: q, transposeA: true, transposeB: true, bias: r, activation: 'elu' }).square().sum())([a, b, bias]);
      return [y, ...grads];
    };
    compareBackends(f, 1e-5, 'fused');
    expectNoLeak(() => tf.dispose(tf.tidy(f)));
  });

  it('adds the bias to every matrix of a batch (the stock wasm kernel only biased the first)', () => {
    for (const activation of ['linear', 'relu', 'leakyrelu', 'sigmoid'] as const) {
      const run = (): tf.Tensor => tf.fused.matMul({ a: randn('ba', [3, 4, 6]), b: randn('bb', [3, 6, 5]), bias: randn('bbias', [5]), activation, leakyreluAlpha: 0.1 });
      compareBackends(run, 1e-5, `batched bias ${activation}`);
      expectNoLeak(() => tf.dispose(tf.tidy(run)));
    }
  });

  it('reports no leak to the engine’s own kernel leak check (IS_TEST)', () => {
    const wasTest = tf.env().getBool('IS_TEST');
    tf.env().set('IS_TEST', true);
    try {
      tf.tidy(() => {
        tf.matMul(randn('la', [3, 4]), randn('lb', [5, 4]), false, true);
        tf.engine().runKernel('Conv2DBackpropFilter', { x: randn('lx', [2, 5, 5, 2]), dy: randn('ldy', [2, 5, 5, 3]) },
          { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] } as unknown as tf.NamedAttrMap);
        tf.unsortedSegmentSum(randn('lu', [4, 2]), tf.tensor1d([0, 1, 0, 2], 'int32'), 3);
        tf.matMul(randn('lba', [3, 4, 5]), randn('lbb', [3, 6, 5]), false, true);
        tf.fused.matMul({ a: randn('lfa', [2, 3, 4]), b: randn('lfb', [2, 4, 5]), bias: randn('lfc', [5]), activation: 'relu' });
        tf.transpose(randn('lt', [2, 3, 4, 5, 6]), [4, 2, 0, 3, 1]);
        tf.engine().runKernel('Conv2DBackpropInput', { dy: randn('ldi', [2, 5, 5, 3]), filter: randn('lf', [3, 3, 2, 3]) },
          { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', inputShape: [2, 5, 5, 2] } as unknown as tf.NamedAttrMap);
        tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').sum())(randn('lm', [2, 4, 4, 3]));
        tf.conv2d(randn('lc', [1, 7, 7, 2]) as tf.Tensor4D, randn('lcf', [1, 1, 2, 3]) as tf.Tensor4D, 3, 'same');
      });
    } finally {
      tf.env().set('IS_TEST', wasTest);
    }
  });
});

describe('registerWasmKernels', () => {
  it('is idempotent and survives switching between cpu and wasm', async () => {
    const matMulBefore = tf.getKernel('BatchMatMul', 'wasm');
    await initEngine({ engine: 'cpu' });
    await initEngine({ engine: 'wasm' });
    await initEngine({ env: {} });
    // The wrapper was not wrapped again, and the added kernels are still there.
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(matMulBefore);
    for (const k of ['MaxPoolGrad', 'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
      expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
    }
    compareBackends(() => tf.matMul(randn('ia', [6, 4]), randn('ib', [6, 3]), true, false), 1e-5, 'after switching');
  });

  it('can be undone (benchmarks time the stock kernels) and redone', () => {
    const wrapped = tf.getKernel('BatchMatMul', 'wasm');
    try {
      const touched = unregisterWasmKernels();
      expect(touched).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'UnsortedSegmentSum', 'MaxPoolGrad', 'BatchMatMul', 'Transpose']));
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
      // TensorFlow.js's own segment-sum gradient is back too (the stock engine's step times include it).
      expect(touched).toContain('UnsortedSegmentSum (gradient)');
      expect((tf.getGradient('UnsortedSegmentSum') as unknown as Record<symbol, unknown>)[Symbol.for('mmfuse.unsortedSegmentSumGrad')]).toBeUndefined();
      expect(tf.getKernel('BatchMatMul', 'wasm')).not.toBe(wrapped);
      // The stock kernels work again (the transposed product through the stock slow path).
      compareBackends(() => tf.matMul(randn('ua', [6, 4]), randn('ub', [6, 3]), true, false), 1e-5, 'stock');
    } finally {
      const report = registerWasmKernels();
      expect(report.added).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'BatchMatMul', 'MaxPoolGrad']));
    }
    expect((tf.getGradient('UnsortedSegmentSum') as unknown as Record<symbol, unknown>)[Symbol.for('mmfuse.unsortedSegmentSumGrad')]).toBe(true);
    expect(registerWasmKernels().added).toEqual([]);
    compareBackends(() => tf.matMul(randn('ra', [6, 4]), randn('rb', [6, 3]), true, false), 1e-5, 'redone');
  });
});
