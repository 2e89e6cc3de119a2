// mmfuse's fused ops on the wasm engine against their unfused tf-ops compositions, on the same engine: values
// and gradients (of every input) on awkward shapes, and no leaked tensors or backend buffers.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { adamwUpdate, dropoutMask, initEngine } from '@mmfuse/core';
import { attentionComposed, attentionFused } from '../../packages/core/src/internal/wasm/attention.js';
import { GELU, geluComposed, geluFused } from '../../packages/core/src/internal/wasm/gelu.js';
import { dropout, dropoutComposed, DROPOUT } from '../../packages/core/src/internal/wasm/dropout.js';
import { DropoutStream } from '../../packages/core/src/internal/wasm/dropout_mask.js';
import { LAYER_NORM, layerNorm, layerNormComposed } from '../../packages/core/src/internal/wasm/layer_norm.js';
import { ADAMW_SIMD_FLAG, engineMemory } from '../../packages/core/src/internal/wasm/adamw.js';
import { adamwSimdFor } from '../../packages/core/src/internal/wasm/adamw-simd.js';
import type { WasmBackend } from '../../packages/core/src/internal/wasm/heap.js';
import { expectNoLeak, randn, relativeError } from './helpers.js';

// These tests are about the wasm engine, whichever engine MMFUSE_ENGINE gave tests/setup.ts.
beforeAll(async () => {
  await initEngine({ engine: 'wasm' });
});

/** Values of f and the gradients of sum(f(xs) ⊙ w) with respect to every x, read back. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], seed: string): Float32Array[] {
  return tf.tidy(() => {
    const y = f(...xs);
    const w = randn(`w${seed}`, y.shape);
    const grads = tf.grads((...ys: tf.Tensor[]) => f(...ys).mul(w).sum())(xs);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

function expectSame(fused: Float32Array[], composed: Float32Array[], tol: number, label: string): void {
  expect(fused.length).toBe(composed.length);
  fused.forEach((a, i) => {
    const err = relativeError(a, composed[i]!);
    expect(err, `${label}: output ${i} relative error ${err}`).toBeLessThanOrEqual(tol);
  });
}

describe('layerNorm (fused) against tf.moments and friends', () => {
  it('is a registered wasm kernel', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel(LAYER_NORM, 'wasm')).toBeDefined();
  });

  for (const shape of [[1, 1], [3, 7], [2, 5, 13], [4, 3, 2, 129], [17, 1]]) {
    it(`values and gradients of x, gamma, beta match: [${shape}]`, () => {
      const d = shape[shape.length - 1]!;
      const xs = [randn(`x${shape}`, shape).mul(3).add(1.5), randn(`g${shape}`, [d]), randn(`b${shape}`, [d])];
      const fused = valueAndGrads((x, g, b) => layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), xs, `ln${shape}`);
      const composed = valueAndGrads((x, g, b) => layerNormComposed(x!, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), xs, `ln${shape}`);
      expectSame(fused, composed, 2e-4, `layerNorm [${shape}]`);
      tf.dispose(xs);
    });
  }

  it('handles a constant row (variance 0) and a large epsilon', () => {
    const x = tf.tensor2d([[2, 2, 2, 2], [1, -1, 3, 0]]);
    const g = tf.tensor1d([1, 2, 3, 4]);
    const b = tf.tensor1d([0.5, 0, -0.5, 1]);
    expectSame(valueAndGrads((a, c, e) => layerNorm(a!, c as tf.Tensor1D, e as tf.Tensor1D, 0.1), [x, g, b], 'const'),
      valueAndGrads((a, c, e) => layerNormComposed(a!, c as tf.Tensor1D, e as tf.Tensor1D, 0.1), [x, g, b], 'const'), 1e-5, 'constant row');
    tf.dispose([x, g, b]);
  });

  it('leaks nothing', () => {
    const x = randn('lx', [3, 8]);
    const g = randn('lg', [8]) as tf.Tensor1D;
    const b = randn('lb', [8]) as tf.Tensor1D;
    expectNoLeak(() => tf.dispose(tf.tidy(() => tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => layerNorm(a, c as tf.Tensor1D, e as tf.Tensor1D).sum())([x, g, b]))));
    tf.dispose([x, g, b]);
  });
});

describe('dropout (fused) against multiplying by the uploaded mask', () => {
  it('draws the same mask row by row as all at once', () => {
    const whole = dropoutMask(1001, 0.3, 77);
    const parts = new Float32Array(1001);
    const stream = new DropoutStream(0.3, 77);
    let at = 0;
    for (const n of [1, 2, 3, 500, 7, 488]) { stream.fill(parts, at, n); at += n; }
    expect(Array.from(parts)).toEqual(Array.from(whole));
  });

  it('is the xorshift32 stream of its definition (unsigned arithmetic, two 16-bit draws per state)', () => {
    // The definition written out with unsigned 32-bit states, as the stream was first written: the kernels
    // keep the state as an int32 for speed, and must draw the same masks.
    const reference = (size: number, rate: number, seed: number): Float32Array => {
      const out = new Float32Array(size);
      const threshold = Math.round(rate * 65536);
      let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
      for (let i = 0; i < size; i += 2) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        out[i] = (s & 0xffff) < threshold ? 0 : 1 / (1 - rate);
        if (i + 1 < size) out[i + 1] = (s >>> 16) < threshold ? 0 : 1 / (1 - rate);
      }
      return out;
    };
    for (const [size, rate, seed] of [[4099, 0.1, 0], [1000, 0.5, 0x9e3779b9], [333, 0.9, -7], [2, 0.3, 123456789]]) {
      expect(Array.from(dropoutMask(size!, rate!, seed!)), `size ${size} rate ${rate} seed ${seed}`).toEqual(Array.from(reference(size!, rate!, seed!)));
    }
  });

  it('multiplies in one pass exactly as the mask times x, -0 and NaN included, from any position of the stream', () => {
    const n = 1001;
    const x = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? Number.NaN : i % 89 === 0 ? -0 : Math.sin(i * 0.37) * 3));
    for (const skip of [0, 1, 2, 7]) {
      const masks = new DropoutStream(0.4, 5);
      const fused = new DropoutStream(0.4, 5);
      const scratch = new Float32Array(skip);
      masks.fill(scratch, 0, skip);
      fused.fill(scratch, 0, skip); // an odd skip leaves half a state pending
      const mask = new Float32Array(n);
      masks.fill(mask, 0, n);
      const expected = Float32Array.from(x, (v, i) => mask[i]! * v);
      const out = new Float32Array(n);
      fused.multiply(x, out);
      const differ = Array.from(out).findIndex((v, i) => !Object.is(v, expected[i]));
      expect(differ, `skip ${skip}: first difference at ${differ}`).toBe(-1);
      expect(out.some((v) => Object.is(v, -0))).toBe(true);
      // Both streams continue from the same place.
      const a = new Float32Array(3);
      const b = new Float32Array(3);
      masks.fill(a, 0, 3);
      fused.fill(b, 0, 3);
      expect(Array.from(b)).toEqual(Array.from(a));
    }
  });

  it('keeps about 1 - rate of the values, scaled by 1 / (1 - rate)', () => {
    const m = dropoutMask(100_000, 0.25, 3);
    const kept = m.filter((v) => v !== 0);
    expect(kept.length / m.length).toBeGreaterThan(0.74);
    expect(kept.length / m.length).toBeLessThan(0.76);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
  });

  for (const [shape, rate] of [[[7], 0.5], [[3, 5, 9], 0.1], [[2, 1, 257], 0.9]] as [number[], number][]) {
    it(`values and gradient match: [${shape}] rate ${rate}`, () => {
      expect(tf.getKernel(DROPOUT, 'wasm')).toBeDefined();
      const x = randn(`d${shape}`, shape);
      expectSame(valueAndGrads((a) => dropout(a!, rate, 11), [x], `d${shape}`), valueAndGrads((a) => dropoutComposed(a!, rate, 11), [x], `d${shape}`), 0, `dropout [${shape}]`);
      expectNoLeak(() => tf.dispose(tf.tidy(() => tf.grad((a: tf.Tensor) => dropout(a, rate, 11).sum())(x))));
      x.dispose();
    });
  }
});

describe('attention (fused) against the tf-ops composition', () => {
  const cases = [
    { name: 'packed q|k|v, one key masked everywhere, a fully masked row', b: 3, t: 7, tk: 7, heads: 2, hd: 5, layout: 'bthd' as const, packed: true, drop: 0 },
    { name: 'q, k, v apart with column offsets, dropout', b: 2, t: 9, tk: 6, heads: 3, hd: 4, layout: 'bthd' as const, packed: false, drop: 0.3 },
    { name: 'heads already split (bhtd), Tq ≠ Tk, dropout', b: 2, t: 5, tk: 11, heads: 2, hd: 3, layout: 'bhtd' as const, packed: false, drop: 0.1 },
    { name: 'one head, one query, four keys', b: 1, t: 1, tk: 4, heads: 1, hd: 8, layout: 'bthd' as const, packed: false, drop: 0 },
  ];
  for (const c of cases) {
    it(`values and gradients match: ${c.name}`, () => {
      const d = c.heads * c.hd;
      const maskValues = Array.from({ length: c.b * c.tk }, (_, i) => ((i * 7) % 5 === 0 ? 0 : 1));
      maskValues.fill(0, 0, c.tk); // batch row 0: every key masked
      const mask = tf.tensor2d(maskValues, [c.b, c.tk]);
      const args = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => ({
        q, k, v, mask, heads: c.heads, layout: c.layout, ...(c.drop > 0 ? { dropout: { rate: c.drop, seed: 42 } } : {}),
        ...(c.packed || c.layout === 'bhtd' ? {} : { qCol: 5, vCol: 2, headDim: c.hd }),
      });
      let xs: tf.Tensor[];
      let fused: (...t: tf.Tensor[]) => tf.Tensor;
      let composed: (...t: tf.Tensor[]) => tf.Tensor;
      if (c.packed) {
        xs = [randn(`qkv${c.name}`, [c.b, c.t, 3 * d])];
        fused = (x) => attentionFused(args(x!, x!, x!));
        composed = (x) => attentionComposed(args(x!, x!, x!));
      } else {
        const shapeOf = (t: number, extra: number) => (c.layout === 'bhtd' ? [c.b, c.heads, t, c.hd] : [c.b, t, d + extra]);
        xs = [randn(`q${c.name}`, shapeOf(c.t, 5)), randn(`k${c.name}`, shapeOf(c.tk, 0)), randn(`v${c.name}`, shapeOf(c.tk, 2))];
        fused = (q, k, v) => attentionFused(args(q!, k!, v!));
        composed = (q, k, v) => attentionComposed(args(q!, k!, v!));
      }
      expectSame(valueAndGrads(fused, xs, c.name), valueAndGrads(composed, xs, c.name), 1e-4, c.name);
      expectNoLeak(() => tf.dispose(tf.tidy(() => tf.grads((...t: tf.Tensor[]) => fused(...t).sum())(xs))));
      tf.dispose([...xs, mask]);
    });
  }
});

describe('gelu (fused) against 0.5 x (1 + erf(x / sqrt 2)) from tf ops', () => {
  for (const shape of [[5], [3, 17], [2, 3, 129]]) {
    it(`values and gradient match: [${shape}]`, () => {
      expect(tf.getKernel(GELU, 'wasm')).toBeDefined();
      const x = randn(`ge${shape}`, shape).mul(3);
      expectSame(valueAndGrads((a) => geluFused(a!), [x], `ge${shape}`), valueAndGrads((a) => geluComposed(a!), [x], `ge${shape}`), 1e-5, `gelu [${shape}]`);
      expectNoLeak(() => tf.dispose(tf.tidy(() => tf.grad((a: tf.Tensor) => geluFused(a).sum())(x))));
      x.dispose();
    });
  }
});

describe('adamwUpdate (one kernel for every variable) against per-variable tf ops', () => {
  /** Weights (seeded by `name`) and zero moments of the given shapes. */
  const adamState = (shapes: number[][], name: string): { p: tf.Variable[]; m: tf.Variable[]; v: tf.Variable[] } => ({
    p: shapes.map((s, i) => tf.variable(randn(`${name}${i}`, s))),
    m: shapes.map((s) => tf.variable(tf.zeros(s))),
    v: shapes.map((s) => tf.variable(tf.zeros(s))),
  });

  it('moves weights and moments the same way, skips variables without a gradient, honours a gradient scale', () => {
    const shapes = [[3, 5], [7], [2, 2, 3], [1]];
    const fused = adamState(shapes, 'p');
    const composed = adamState(shapes, 'p');
    const scale = tf.scalar(0.5);
    for (let step = 1; step <= 3; step++) {
      const grads = shapes.map((s, i) => (i === 1 ? undefined : randn(`g${i}${step}`, s)));
      const options = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, step, ...(step === 2 ? { gradScale: scale } : {}) };
      adamwUpdate(fused.p, grads, fused.m, fused.v, options);
      adamwUpdate(composed.p, grads, composed.m, composed.v, { ...options, composed: true });
      tf.dispose(grads.filter((g): g is tf.Tensor => g !== undefined));
    }
    for (const k of ['p', 'm', 'v'] as const) {
      fused[k].forEach((x, i) => expect(relativeError(x.dataSync(), composed[k][i]!.dataSync()), `${k}${i}`).toBeLessThanOrEqual(1e-5));
    }
    // The variable without a gradient kept its value and zero moments.
    expect(Array.from(fused.m[1]!.dataSync())).toEqual(new Array(7).fill(0));
    expectNoLeak(() => tf.tidy(() => adamwUpdate(fused.p, fused.p.map((p) => tf.onesLike(p)), fused.m, fused.v, { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, step: 4 })), 1);
    tf.dispose([...fused.p, ...fused.m, ...fused.v, ...composed.p, ...composed.m, ...composed.v, scale]);
  });

  it('the WebAssembly SIMD loop gives the JavaScript loop\'s results bit for bit', () => {
    expect(adamwSimdFor(engineMemory(tf.backend() as unknown as WasmBackend))).toBeTypeOf('function');
    // Odd and even sizes (the SIMD loop takes pairs, the last odd weight is JavaScript's), and values that
    // stress rounding: tiny (float32 subnormal moments), huge, zero gradients, signs mixed.
    const shapes = [[1001], [64, 3], [5], [2], [1]];
    const values = (name: string, s: number[]): tf.Tensor => tf.tidy(() => {
      const r = randn(name, s);
      const scale = tf.pow(10, randn(`${name}e`, s).mul(25).round().clipByValue(-44, 30)); // 1e-44 (subnormal) .. 1e30
      return r.mul(scale).mul(randn(`${name}z`, s).greater(-1.5).toFloat()); // some exact zeros
    });
    const simd = adamState(shapes, 'sp');
    const js = adamState(shapes, 'sp');
    const scale = tf.scalar(0.37);
    try {
      for (let step = 1; step <= 4; step++) {
        const grads = shapes.map((s, i) => values(`sg${i}${step}`, s));
        const options = { learningRate: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step, ...(step === 3 ? { gradScale: scale } : {}) };
        tf.env().set(ADAMW_SIMD_FLAG, true);
        adamwUpdate(simd.p, grads, simd.m, simd.v, options);
        tf.env().set(ADAMW_SIMD_FLAG, false);
        adamwUpdate(js.p, grads, js.m, js.v, options);
        tf.dispose(grads);
      }
    } finally {
      tf.env().set(ADAMW_SIMD_FLAG, true);
    }
    for (const k of ['p', 'm', 'v'] as const) {
      simd[k].forEach((x, i) => {
        const bits = (t: tf.Tensor): number[] => { const d = t.dataSync(); return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length)); };
        const [a, b] = [bits(x), bits(js[k][i]!)];
        expect(a, `${k}${i}`).toEqual(b);
      });
    }
    // The moments reach float32's subnormal range (the case where a rounding difference would show).
    expect(Array.from(simd.m[0]!.dataSync()).some((x) => x !== 0 && Math.abs(x) < 1.2e-38)).toBe(true);
    tf.dispose([...simd.p, ...simd.m, ...simd.v, ...js.p, ...js.m, ...js.v, scale]);
  });

  it('refuses mismatched lists', () => {
    const p = tf.variable(tf.zeros([2]));
    expect(() => adamwUpdate([p], [], [p], [p], { learningRate: 1, beta1: 0.9, beta2: 0.9, epsilon: 1, weightDecay: 0, step: 1 })).toThrow(/1 variables, 0 gradients/);
    p.dispose();
  });
});
