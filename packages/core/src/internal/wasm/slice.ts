/**
 * Slice, Unpack, SplitV and Identity on wasm without copying whole tensors through JavaScript.
 *
 * tfjs-backend-wasm 4.22's Slice kernel starts with `readSync` of its whole input (a copy of every byte from
 * the heap into a fresh JS buffer) however small the slice, and Unpack and SplitV slice once per output: an
 * LSTM's per-step `unstack` of [2, 32, 32, 256] copied 16.8 M floats, a q|k|v `split` of [3904, 384] 4.5 M,
 * together about a fifth of a reference training step. These kernels copy only the slice, heap to heap, one
 * contiguous run at a time (`copyWithin`, a memmove). Identity (every tensor the autodiff tape saves is a
 * clone) shares the input's buffer by reference count, as Reshape does, instead of copying it.
 */
import * as tf from '@tensorflow/tfjs';
import { copyRun, heapView, shareBuffer } from './heap.js';
import type { Info, KernelArgs, StockFunc, WasmBackend } from './heap.js';

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let n = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    s[a] = n;
    n *= shape[a]!;
  }
  return s;
}

/**
 * out = x[begin : begin + size] (every axis). Trailing axes taken whole are merged into one contiguous run,
 * copied with one memmove per run (short runs element by element).
 */
export function sliceInto(backend: WasmBackend, x: Info, begin: readonly number[], size: readonly number[], out: Info): void {
  const rank = x.shape.length;
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const src = heapView(backend, x);
  const dst = heapView(backend, out);
  if (rank === 0) {
    dst.view[0] = src.view[0]!;
    return;
  }
  const xs = stridesOf(x.shape);
  // The innermost axes that are taken whole (plus the first partial one) form one contiguous run.
  let inner = rank - 1;
  let run = size[inner]!;
  while (inner > 0 && size[inner] === x.shape[inner]) {
    inner--;
    run *= size[inner]!;
  }
  // Axes 0..inner-1 are iterated; axis `inner` (partial) starts each run at begin[inner].
  const outer = size.slice(0, inner);
  const count = outer.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(inner).fill(0);
  let start = src.base;
  for (let a = 0; a <= inner; a++) start += begin[a]! * xs[a]!;
  let o = dst.base;
  const { heap } = src;
  for (let r = 0; r < count; r++) {
    let s = start;
    for (let a = 0; a < inner; a++) s += idx[a]! * xs[a]!;
    copyRun(heap, o, s, run);
    o += run;
    for (let a = inner - 1; a >= 0; a--) {
      if (++idx[a]! < outer[a]!) break;
      idx[a] = 0;
    }
  }
}

function sliceOne(backend: WasmBackend, x: Info, begin: number[], size: number[], outShape: number[] = size): Info {
  const out = backend.makeOutput(outShape, x.dtype);
  sliceInto(backend, x, begin, size, out);
  return out;
}

/** Slice: strings go to the stock kernel; everything else is copied run by run. */
export function fastSlice(stock: StockFunc): tf.KernelFunc {
  return ((args: KernelArgs<{ begin: number | number[]; size: number | number[] }>) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return stock(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs.begin, args.attrs.size) as [number[], number[]];
    return sliceOne(args.backend, x, begin, size);
  }) as unknown as tf.KernelFunc;
}

/** Unpack (unstack): one slice per step along `axis`, that axis dropped from each output. */
export function fastUnpack(stock: StockFunc): tf.KernelFunc {
  return ((args: KernelArgs<{ axis: number }>) => {
    const value = args.inputs['value']!;
    if (value.dtype === 'string') return stock(args);
    const rank = value.shape.length;
    const axis = args.attrs.axis < 0 ? args.attrs.axis + rank : args.attrs.axis;
    const outShape = value.shape.filter((_, a) => a !== axis);
    const begin = new Array<number>(rank).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: Info[] = [];
    for (let i = 0; i < value.shape[axis]!; i++) {
      begin[axis] = i;
      outs.push(sliceOne(args.backend, value, begin, size, outShape));
    }
    return outs;
  }) as unknown as tf.KernelFunc;
}

/** SplitV: consecutive slices along `axis`. */
export function fastSplitV(stock: StockFunc): tf.KernelFunc {
  return ((args: KernelArgs<{ numOrSizeSplits: number | number[]; axis: number }>) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return stock(args);
    const axis = tf.util.parseAxisParam(args.attrs.axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const out = sliceOne(args.backend, x, begin, size);
      begin[axis]! += s;
      return out;
    });
  }) as unknown as tf.KernelFunc;
}

/** Identity: the same buffer under one more reference (tensors are immutable), not a copy. */
export function sharedIdentity(stock: StockFunc): tf.KernelFunc {
  return ((args: KernelArgs) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return stock(args);
    return shareBuffer(args.backend, x, x.shape.slice());
  }) as unknown as tf.KernelFunc;
}
