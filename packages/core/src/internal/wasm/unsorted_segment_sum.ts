/**
 * UnsortedSegmentSum, the gradient of `gather` and so of every embedding lookup: a scatter-add of each row
 * of `x` into the output row its segment id names. One pass over `x` (O(size)), against the cpu backend's
 * one masked reduction per segment (O(numSegments · size)).
 *
 * Semantics follow TensorFlow and the cpu backend: `segmentIds` has the shape of a prefix of `x`'s shape;
 * ids outside [0, numSegments) contribute nothing; output is [numSegments, ...x.shape after the prefix].
 */
import * as tf from '@tensorflow/tfjs';
import { f32, i32, type Info, type KernelArgs, sizeOf } from './heap.js';

export function unsortedSegmentSum(args: KernelArgs<{ numSegments: number }>): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs['x'];
  const ids = inputs['segmentIds'];
  if (x === undefined || ids === undefined) throw new Error('UnsortedSegmentSum: inputs x and segmentIds are required');
  const { numSegments } = attrs;
  if (ids.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${ids.dtype}`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  if (!Number.isInteger(numSegments) || numSegments < 0) throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  const prefix = ids.shape.length;
  for (let d = 0; d < prefix; d++) {
    if (ids.shape[d] !== x.shape[d]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${ids.shape.join(', ')}] is not a prefix of x shape [${x.shape.join(', ')}]`);
    }
  }
  const rowShape = x.shape.slice(prefix);
  const row = sizeOf(rowShape);
  const rows = sizeOf(ids.shape);
  const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
  // Views after the allocation (it may have moved the heap).
  const dst = x.dtype === 'float32' ? f32(backend, out) : i32(backend, out);
  const src = x.dtype === 'float32' ? f32(backend, x) : i32(backend, x);
  const seg = i32(backend, ids);
  dst.fill(0);
  for (let r = 0; r < rows; r++) {
    const s = seg[r]!;
    if (s < 0 || s >= numSegments) continue;
    const o = s * row;
    const i = r * row;
    for (let j = 0; j < row; j++) dst[o + j]! += src[i + j]!;
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};

/** Marks mmfuse's UnsortedSegmentSum gradient, so registering it twice (or over itself) does nothing. */
const MMFUSE_GRAD = Symbol.for('mmfuse.unsortedSegmentSumGrad');

/**
 * The gradient of UnsortedSegmentSum (and so of every embedding lookup's gradient, and of n-gram pooling) on
 * wasm: `gather(dy, ids)`. TensorFlow.js's own gradient also zeroes the rows of negative ids through a
 * broadcast `logicalAnd` + `where` over the whole [N, ...] gradient; on wasm that `logicalAnd` alone took
 * more than half of an n-gram text model's training step (100 ms for [11000, 128]). Here the ids are read
 * (they are on the heap; a copy of N ints) and the zeroing is done only when an id is negative, by a
 * multiply with a [N, 1, ...] 0/1 column. Other backends keep TensorFlow.js's gradient.
 */
let stockGradient: tf.GradConfig | undefined;

export function registerUnsortedSegmentSumGradient(): void {
  const stock = tf.getGradient('UnsortedSegmentSum');
  if (stock === undefined || (stock as unknown as Record<symbol, unknown>)[MMFUSE_GRAD] === true) return;
  stockGradient = stock;
  const config: tf.GradConfig = {
    kernelName: 'UnsortedSegmentSum',
    inputsToSave: ['segmentIds'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = Array.isArray(dy) ? dy[0]! : dy;
      const [ids] = saved as [tf.Tensor];
      if (tf.getBackend() !== 'wasm') return stock.gradFunc(dy, saved, attrs);
      return {
        x: () => {
          const values = ids.dataSync() as Int32Array;
          let negative = false;
          for (let i = 0; i < values.length; i++) if (values[i]! < 0) { negative = true; break; }
          if (!negative) return tf.gather(g, ids);
          const keep = Float32Array.from(values, (v) => (v < 0 ? 0 : 1));
          const gathered = tf.gather(g, tf.maximum(ids, tf.scalar(0, 'int32')));
          return gathered.mul(tf.tensor(keep, [...ids.shape, ...new Array<number>(gathered.rank - ids.rank).fill(1)]));
        },
      };
    },
  };
  Object.defineProperty(config, MMFUSE_GRAD, { value: true });
  tf.registerGradient(config);
}

/** Put TensorFlow.js's gradient back (benchmarks time the stock engine); true when there was one to restore. */
export function unregisterUnsortedSegmentSumGradient(): boolean {
  const current = tf.getGradient('UnsortedSegmentSum');
  if (stockGradient === undefined || current === undefined || (current as unknown as Record<symbol, unknown>)[MMFUSE_GRAD] !== true) return false;
  tf.registerGradient(stockGradient);
  return true;
}
