/**
 * BatchMatMul on wasm, rerouted around two slow paths of the stock kernel:
 * - a transposed operand goes to a generic loop 10-15x slower than the XNNPACK path, and every weight
 *   gradient (`dW = xᵀ·dy`, `dx = dy·Wᵀ`) and attention score (`q·kᵀ`) asks for one: the operand is
 *   transposed explicitly first (memory-bound, O(size));
 * - a batch of matrices (attention: [B·heads] products of [T, 32] by [32, T]) runs about 4x slower than the
 *   same products one by one: a batch whose right operand is shared becomes one tall product
 *   ([batch·M, K] · [K, N]); otherwise each pair goes through the fast single-matrix path.
 */
import * as tf from '@tensorflow/tfjs';
import { f32, type Info, type KernelArgs, sizeOf, swapLastTwo, transpose, type WasmBackend, withShape } from './heap.js';

interface MatMulAttrs { transposeA?: boolean; transposeB?: boolean; [key: string]: unknown }
type Original = (args: KernelArgs<MatMulAttrs>) => Info;

/** Marks kernel functions made here, so registering twice never wraps a wrapper. */
export const MMFUSE_WRAPPED = Symbol.for('mmfuse.wasm.wrapped');

/** A copy of rows [offset, offset + size) of `x` as a new tensor of `shape` (the caller disposes it). */
function copyPart(backend: WasmBackend, x: Info, offset: number, shape: number[]): Info {
  const part = backend.makeOutput(shape, 'float32');
  const size = sizeOf(shape);
  f32(backend, part).set(f32(backend, x).subarray(offset, offset + size));
  return part;
}

/** a [...batchA, M, K] · b [...batchB, K, N], neither transposed. */
function batchedProduct(original: Original, backend: WasmBackend, a: Info, b: Info): Info {
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 1]!;
  const outShape = [...batchShape, m, n];
  const plain = (x: Info, y: Info): Info => original({ inputs: { a: x, b: y }, backend, attrs: { transposeA: false, transposeB: false } });
  if (batchA <= 1 && batchB <= 1) return withShape(plain(withShape(a, [1, m, k]), withShape(b, [1, k, n])), outShape);
  if (batchB === 1) {
    // The rows of every left matrix meet the same right matrix: one tall product.
    return withShape(plain(withShape(a, [1, batchA * m, k]), withShape(b, [1, k, n])), outShape);
  }
  if (batchA !== batchB && batchA !== 1) {
    // Partial broadcasting ([2, 1] against [1, 3]): leave it to the stock kernel.
    return withShape(plain(a, b), outShape);
  }
  const out = backend.makeOutput(outShape, 'float32');
  for (let i = 0; i < batchB; i++) {
    // Fresh tensors per pair: XNNPACK caches packed right operands by tensor id, so a reused id would
    // multiply by stale weights.
    const ai = batchA === 1 ? withShape(a, [1, m, k]) : copyPart(backend, a, i * m * k, [1, m, k]);
    const bi = copyPart(backend, b, i * k * n, [1, k, n]);
    const oi = plain(ai, bi);
    f32(backend, out).set(f32(backend, oi), i * m * n);
    backend.disposeData(oi.dataId);
    backend.disposeData(bi.dataId);
    if (ai.dataId !== a.dataId) backend.disposeData(ai.dataId);
  }
  return out;
}

/** Transpose the operands that ask for it, then call `next` with untransposed operands. */
function withExplicitTransposes(args: KernelArgs<MatMulAttrs>, next: (a: Info, b: Info) => Info): Info {
  const { inputs, backend, attrs } = args;
  const a = inputs['a']!;
  const b = inputs['b']!;
  const temps: Info[] = [];
  try {
    let a2 = a;
    let b2 = b;
    if (attrs.transposeA === true) {
      a2 = transpose(backend, a, swapLastTwo(a.shape.length));
      temps.push(a2);
    }
    if (attrs.transposeB === true) {
      b2 = transpose(backend, b, swapLastTwo(b.shape.length));
      temps.push(b2);
    }
    return next(a2, b2);
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

function isFloatPair(args: KernelArgs<MatMulAttrs>): boolean {
  const { a, b } = args.inputs;
  return a !== undefined && b !== undefined && a.dtype === 'float32' && b.dtype === 'float32';
}

/** The BatchMatMul kernel: explicit transposes, then the batched product above. */
export function fastBatchMatMul(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<MatMulAttrs>): Info => {
    if (!isFloatPair(args)) return original(args);
    return withExplicitTransposes(args, (a, b) => batchedProduct(original, args.backend, a, b));
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}

/**
 * Wrap a stock matrix-product kernel (used for _FusedMatMul) so that it only ever sees untransposed
 * operands; every other input and attribute passes through.
 */
export function untransposedMatMul(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<MatMulAttrs>): Info => {
    const { transposeA = false, transposeB = false } = args.attrs;
    if ((!transposeA && !transposeB) || !isFloatPair(args)) return original(args);
    return withExplicitTransposes(args, (a, b) => original({ inputs: { ...args.inputs, a, b }, backend: args.backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } }));
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
