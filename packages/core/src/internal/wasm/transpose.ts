/**
 * Transpose on wasm. The stock kernel is fast up to rank 4 but takes a generic path above it: the
 * attention reshuffle [B, T, 3, heads, 32] → [3, B, heads, T, 32] took ~80 ms for 1.5 M floats. This wrapper
 * first drops size-1 axes and merges input axes that stay adjacent in the output (a transpose of a smaller
 * rank moves the same bytes), hands rank ≤ 4 to the stock kernel, and does higher ranks itself in one pass
 * over the output.
 */
import type * as tf from '@tensorflow/tfjs';
import { MMFUSE_WRAPPED } from './batch_matmul.js';
import { type Info, type KernelArgs, shareBuffer, sizeOf, withShape } from './heap.js';

type Original = (args: KernelArgs<{ perm: number[] }>) => Info;

/**
 * The smallest (shape, perm) that moves data like (shape, perm): size-1 axes dropped, runs of input axes
 * that appear consecutively in the output merged into one.
 */
export function collapseTranspose(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept: number[] = [];
  const remap = new Map<number, number>();
  shape.forEach((size, axis) => {
    if (size !== 1) {
      remap.set(axis, kept.length);
      kept.push(size);
    }
  });
  if (kept.length === 0) return { shape: [1], perm: [0] };
  // Runs of consecutive input axes, in output order.
  const groups: number[][] = [];
  for (const original of perm) {
    const axis = remap.get(original);
    if (axis === undefined) continue;
    const last = groups[groups.length - 1];
    if (last !== undefined && last[last.length - 1] === axis - 1) last.push(axis);
    else groups.push([axis]);
  }
  const byInput = groups.slice().sort((g, h) => g[0]! - h[0]!);
  return {
    shape: byInput.map((g) => g.reduce((n, axis) => n * kept[axis]!, 1)),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

/** out[o] = x[Σ index_i · stride_i] over the output in row-major order; the innermost axis as a tight loop. */
function transposeInto(src: ArrayLike<number>, dst: { [i: number]: number }, shape: number[], perm: number[]): void {
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let a = rank - 1; a >= 0; a--) {
    inStrides[a] = s;
    s *= shape[a]!;
  }
  const outShape = perm.map((a) => shape[a]!);
  const strides = perm.map((a) => inStrides[a]!);
  const total = sizeOf(shape);
  const innerLen = outShape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let base = 0;
  for (let o = 0; o < total; o += innerLen) {
    for (let j = 0, at = base; j < innerLen; j++, at += innerStride) dst[o + j] = src[at]!;
    for (let ax = rank - 2; ax >= 0; ax--) {
      idx[ax]!++;
      base += strides[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      base -= strides[ax]! * outShape[ax]!;
      idx[ax] = 0;
    }
  }
}

export function fastTranspose(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<{ perm: number[] }>): Info => {
    const { inputs, backend, attrs } = args;
    const x = inputs['x'];
    if (x === undefined) throw new Error('Transpose: input x is required');
    const outShape = attrs.perm.map((a) => x.shape[a]!);
    const c = collapseTranspose(x.shape, attrs.perm);
    if (c.perm.every((a, i) => a === i) && x.dtype !== 'string') {
      // Nothing moves (e.g. the identity permutation in gather's gradient, over a whole embedding table):
      // the same buffer under one more reference, as Reshape and Identity do, instead of a copy.
      return shareBuffer(backend, x, outShape);
    }
    if (c.perm.length <= 4 || x.dtype === 'string' || x.dtype === 'complex64') {
      const out = original({ inputs: { x: withShape(x, c.shape) }, backend, attrs: { perm: c.perm } });
      return withShape(out, outShape);
    }
    const out = backend.makeOutput(outShape, x.dtype);
    transposeInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), c.shape, c.perm);
    return out;
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
