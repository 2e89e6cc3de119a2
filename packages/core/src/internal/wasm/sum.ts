/**
 * Sum over leading axes on wasm (every bias gradient and every broadcast add's gradient: [N, C] → [C]). The
 * stock kernel reduces innermost axes only, so it first transposes the whole input ([3904, 384] for a q|k|v
 * bias) and then sums; this wrapper adds the rows into float64 accumulators in one sequential pass. Any other
 * reduction goes to the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { MMFUSE_WRAPPED } from './batch_matmul.js';
import { f32, type Info, type KernelArgs } from './heap.js';

type Original = (args: KernelArgs<{ axis: number | number[]; keepDims?: boolean }>) => Info;

/** The reduction axes as a sorted list of non-negative axes. */
function normalizeAxes(axis: number | number[], rank: number): number[] {
  const list = Array.isArray(axis) ? axis : [axis];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

export function leadingSum(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<{ axis: number | number[]; keepDims?: boolean }>): Info => {
    const x = args.inputs['x']!;
    const rank = x.shape.length;
    const axes = normalizeAxes(args.attrs.axis, rank);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return original(args);
    const k = axes.length;
    const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const rest = x.shape.slice(k);
    const cols = rest.reduce((a, b) => a * b, 1);
    const out = args.backend.makeOutput(args.attrs.keepDims === true ? [...new Array<number>(k).fill(1), ...rest] : rest, 'float32');
    const acc = new Float64Array(cols);
    const xv = f32(args.backend, x);
    for (let r = 0, o = 0; r < rows; r++, o += cols) {
      for (let c = 0; c < cols; c++) acc[c]! += xv[o + c]!;
    }
    f32(args.backend, out).set(acc);
    return out;
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
