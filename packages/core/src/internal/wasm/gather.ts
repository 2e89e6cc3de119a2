/**
 * GatherV2 on wasm as row copies on the heap. The stock kernel of tfjs-backend-wasm 4.22 spends about
 * 55 ns per gathered element (0.8 ms to look up 112 rows of 128 floats, whatever the table's size), which made
 * the embedding lookup most of a text request's latency. Here each gathered run is one contiguous copy
 * (`copyWithin`, a memmove; short runs element by element). Indices out of range throw as the stock kernel
 * does; `batchDims` other than 0, string and complex tensors go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { copyRun, heapView, sizeOf } from './heap.js';
import type { KernelArgs, StockFunc } from './heap.js';

export function fastGather(stock: StockFunc): tf.KernelFunc {
  return ((args: KernelArgs<{ axis: number; batchDims: number }>) => {
    const x = args.inputs['x']!;
    const indices = args.inputs['indices']!;
    if (x.dtype === 'string' || x.dtype === 'complex64' || (args.attrs.batchDims ?? 0) !== 0 || indices.dtype !== 'int32') return stock(args);
    const { backend } = args;
    const axis = tf.util.parseAxisParam(args.attrs.axis, x.shape)[0]!;
    const dim = x.shape[axis]!;
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const ids = backend.typedArrayFromHeap(indices) as Int32Array;
    const n = ids.length;
    for (let j = 0; j < n; j++) {
      const k = ids[j]!;
      if (!(k >= 0 && k <= dim - 1)) throw new Error(`GatherV2: the index value ${k} is not in [0, ${dim - 1}]`);
    }
    const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
    if (outer * n * inner === 0) return out;
    // Views after the allocation (it may have moved the heap); the indices' view too.
    const src = heapView(backend, x);
    const dst = heapView(backend, out);
    const at = backend.typedArrayFromHeap(indices) as Int32Array;
    const { heap } = src;
    let o = dst.base;
    for (let a = 0; a < outer; a++) {
      const rowBase = src.base + a * dim * inner;
      for (let j = 0; j < n; j++) {
        copyRun(heap, o, rowBase + at[j]! * inner, inner);
        o += inner;
      }
    }
    return out;
  }) as unknown as tf.KernelFunc;
}
