/** A [M, K] · [K, N] product on the wasm backend's fast (untransposed, XNNPACK) BatchMatMul path. */
import { callKernel, type Info, type WasmBackend, withShape } from './heap.js';

export function plainMatMul(backend: WasmBackend, a: Info, b: Info): Info {
  const [m, k] = a.shape as [number, number];
  const [k2, n] = b.shape as [number, number];
  if (a.shape.length !== 2 || b.shape.length !== 2 || k !== k2) {
    throw new Error(`plainMatMul: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not multiply`);
  }
  const out = callKernel('BatchMatMul', backend, { a: withShape(a, [1, m, k]), b: withShape(b, [1, k, n]) }, { transposeA: false, transposeB: false });
  return withShape(out, [m, n]);
}
