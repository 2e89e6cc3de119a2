/**
 * _FusedMatMul on wasm, fixed and sped up:
 * - the stock kernel adds the bias to the first matrix of a batch only (tfjs-backend-wasm 4.22: a batched
 *   `tf.fused.matMul` with a bias gives wrong values), so a batched product runs as BatchMatMul (mmfuse's
 *   fast one) → Add (broadcast bias) → activation, each a wasm kernel;
 * - transposed operands are transposed explicitly first (see batch_matmul.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { MMFUSE_WRAPPED, untransposedMatMul } from './batch_matmul.js';
import { callKernel, type Info, type KernelArgs, sizeOf, type WasmBackend } from './heap.js';

interface FusedAttrs { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number; [key: string]: unknown }
type Original = (args: KernelArgs<FusedAttrs>) => Info;

function activate(backend: WasmBackend, x: Info, activation: string, alpha: number | undefined, prelu: Info | undefined): Info {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return callKernel('Relu', backend, { x });
    case 'relu6':
      return callKernel('Relu6', backend, { x });
    case 'elu':
      return callKernel('Elu', backend, { x });
    case 'sigmoid':
      return callKernel('Sigmoid', backend, { x });
    case 'leakyrelu':
      return callKernel('LeakyRelu', backend, { x }, { alpha: alpha ?? 0.2 });
    case 'prelu':
      if (prelu === undefined) throw new Error('_FusedMatMul: prelu activation needs preluActivationWeights');
      return callKernel('Prelu', backend, { x, alpha: prelu });
    default:
      throw new Error(`_FusedMatMul: activation "${activation}" is not supported on wasm`);
  }
}

export function fusedMatMul(original: Original): tf.KernelFunc {
  const untransposed = untransposedMatMul(original) as unknown as Original;
  const wrapped = (args: KernelArgs<FusedAttrs>): Info => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs;
    if (a === undefined || b === undefined) throw new Error('_FusedMatMul: inputs a and b are required');
    const batch = Math.max(sizeOf(a.shape.slice(0, -2)), sizeOf(b.shape.slice(0, -2)));
    if (batch <= 1) return untransposed(args);
    // A batch: the (fast) BatchMatMul kernel, then bias and activation as separate wasm kernels.
    const product = callKernel('BatchMatMul', backend, { a, b }, { transposeA: attrs.transposeA ?? false, transposeB: attrs.transposeB ?? false });
    if (bias === undefined || bias === null) {
      const out = activate(backend, product, attrs.activation ?? 'linear', attrs.leakyreluAlpha, preluActivationWeights ?? undefined);
      if (out !== product) backend.disposeData(product.dataId);
      return out;
    }
    const biased = callKernel('Add', backend, { a: product, b: bias });
    backend.disposeData(product.dataId);
    const out = activate(backend, biased, attrs.activation ?? 'linear', attrs.leakyreluAlpha, preluActivationWeights ?? undefined);
    if (out !== biased) backend.disposeData(biased.dataId);
    return out;
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
