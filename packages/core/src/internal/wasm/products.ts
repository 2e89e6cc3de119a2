/**
 * One small matrix product on the wasm backend's XNNPACK path, with operands filled and the result read by
 * callbacks: the fused kernels (attention) gather their operands straight from strided layouts into fresh
 * heap tensors, so no transpose or split kernel runs, and scatter the result the same way.
 */
import { callKernel, f32, type WasmBackend } from './heap.js';

/**
 * C [m, n] = A [m, k] · B [k, n]. `fill` writes A and B (row-major) into the views it gets; `read` gets C.
 * The views are valid only during the callback (any allocation may move the heap). Fresh operand tensors per
 * call also keep XNNPACK's operator cache (keyed by the right operand's id) from reusing stale weights.
 */
export function product(backend: WasmBackend, m: number, k: number, n: number,
  fill: (a: Float32Array, b: Float32Array) => void, read: (c: Float32Array) => void): void {
  const a = backend.makeOutput([1, m, k], 'float32');
  const b = backend.makeOutput([1, k, n], 'float32');
  try {
    fill(f32(backend, a), f32(backend, b));
    const c = callKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
    try {
      read(f32(backend, c));
    } finally {
      backend.disposeData(c.dataId);
    }
  } finally {
    backend.disposeData(a.dataId);
    backend.disposeData(b.dataId);
  }
}
