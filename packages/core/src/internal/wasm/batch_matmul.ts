/**
 * BatchMatMul (and _FusedMatMul) with a transposed operand. The stock wasm kernel hands a transposed operand
 * to a slow generic loop, 10-15x slower than its XNNPACK path, and every weight gradient (`dW = xᵀ·dy`,
 * `dx = dy·Wᵀ`) and every attention score (`q·kᵀ`) asks for one. Transposing explicitly with the wasm
 * Transpose kernel (memory-bound, O(size)) and then running the plain product is far cheaper.
 */
import type * as tf from '@tensorflow/tfjs';
import { type Info, type KernelArgs, swapLastTwo, transpose } from './heap.js';

interface MatMulAttrs { transposeA?: boolean; transposeB?: boolean; [key: string]: unknown }
type Original = (args: KernelArgs<MatMulAttrs>) => Info;

/** Marks kernel functions made here, so registering twice never wraps a wrapper. */
export const MMFUSE_WRAPPED = Symbol.for('mmfuse.wasm.wrapped');

/**
 * Wrap a stock matrix-product kernel so that it only ever sees untransposed operands. `original` is the
 * stock kernel function, captured before it was unregistered.
 */
export function untransposedMatMul(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<MatMulAttrs>): Info => {
    const { inputs, backend, attrs } = args;
    const { transposeA = false, transposeB = false } = attrs;
    const a = inputs['a'];
    const b = inputs['b'];
    if ((!transposeA && !transposeB) || a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return original(args);
    }
    const temps: Info[] = [];
    try {
      let a2 = a;
      let b2 = b;
      if (transposeA) {
        a2 = transpose(backend, a, swapLastTwo(a.shape.length));
        temps.push(a2);
      }
      if (transposeB) {
        b2 = transpose(backend, b, swapLastTwo(b.shape.length));
        temps.push(b2);
      }
      return original({ inputs: { ...inputs, a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
