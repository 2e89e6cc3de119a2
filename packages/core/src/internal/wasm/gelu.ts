/**
 * Exact GELU, y = x Φ(x) = 0.5 x (1 + erf(x / √2)) (PyTorch's default `gelu`), as one kernel each way on wasm:
 *   dy/dx = Φ(x) + x φ(x),  φ(x) = exp(−x² / 2) / √(2π)
 * The transcendental parts run on the backend's own C++ kernels (Erf, Exp: compiled code beats a JavaScript
 * loop there), everything else in one JavaScript pass each way. Composed from tf ops GELU is 5 kernels
 * forward and ~12 backward over the [tokens, ffDim] activations.
 * On other backends, and on wasm unless the MMFUSE_FUSED_GELU flag is on, `gelu` composes the same function
 * from tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { callKernel, f32, type Info, type KernelArgs, type WasmBackend } from './heap.js';

export const GELU = 'MmfuseGelu';

/**
 * tfjs environment flag: run `gelu` as the fused wasm kernels (true) or as tf ops (false, the default):
 * measured on the reference model's activations the fused kernels are slower on wasm (their passes are
 * scalar JavaScript, tfjs's elementwise kernels SIMD C++; see BENCHMARKS.md).
 */
export const FUSED_GELU_FLAG = 'MMFUSE_FUSED_GELU';

/** Register the flag (re-registering only replaces the default, so this is safe to repeat). */
export function registerGeluFlag(): void {
  tf.env().registerFlag(FUSED_GELU_FLAG, () => false);
}
export const GELU_GRAD = 'MmfuseGeluGrad';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf(x / √2) of every value, by the backend's own (C++) Erf kernel; the caller disposes it. */
function erfScaled(backend: WasmBackend, x: Info): Info {
  const scaled = backend.makeOutput([...x.shape], 'float32');
  const xv = f32(backend, x);
  const sv = f32(backend, scaled);
  for (let i = 0; i < xv.length; i++) sv[i] = xv[i]! * Math.SQRT1_2;
  const e = callKernel('Erf', backend, { x: scaled });
  backend.disposeData(scaled.dataId);
  return e;
}

function geluKernel(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const x = inputs['x']!;
  const e = erfScaled(backend, x);
  const out = backend.makeOutput([...x.shape], 'float32');
  const xv = f32(backend, x);
  const ev = f32(backend, e);
  const y = f32(backend, out);
  for (let i = 0; i < xv.length; i++) y[i] = 0.5 * xv[i]! * (1 + ev[i]!);
  backend.disposeData(e.dataId);
  return out;
}

/** Gradient kernel: inputs {dy, x} → dx = dy (Φ(x) + x φ(x)). */
function geluGradKernel(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const x = inputs['x']!;
  const e = erfScaled(backend, x);
  const half = backend.makeOutput([...x.shape], 'float32');
  {
    const xv = f32(backend, x);
    const hv = f32(backend, half);
    for (let i = 0; i < xv.length; i++) hv[i] = -0.5 * xv[i]! * xv[i]!;
  }
  const g = callKernel('Exp', backend, { x: half }); // exp(−x²/2)
  backend.disposeData(half.dataId);
  const out = backend.makeOutput([...x.shape], 'float32');
  const xv = f32(backend, x);
  const dy = f32(backend, inputs['dy']!);
  const ev = f32(backend, e);
  const gv = f32(backend, g);
  const dx = f32(backend, out);
  for (let i = 0; i < xv.length; i++) dx[i] = dy[i]! * (0.5 * (1 + ev[i]!) + xv[i]! * gv[i]! * INV_SQRT_2PI);
  backend.disposeData(e.dataId);
  backend.disposeData(g.dataId);
  return out;
}

export const geluConfig: tf.KernelConfig = { kernelName: GELU, backendName: 'wasm', kernelFunc: geluKernel as unknown as tf.KernelFunc };
export const geluGradConfig: tf.KernelConfig = { kernelName: GELU_GRAD, backendName: 'wasm', kernelFunc: geluGradKernel as unknown as tf.KernelFunc };

/** Register the gradient of the fused kernel (once per process). */
export function registerGeluGradient(): void {
  if (tf.getGradient(GELU) !== undefined) return;
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.engine().runKernel(GELU_GRAD, { dy: Array.isArray(dy) ? dy[0]! : dy, x }, {}) as tf.Tensor };
    },
  });
}

/** GELU from tf ops (any backend): the reference the fused kernels are tested against. */
export function geluComposed(x: tf.Tensor): tf.Tensor {
  return x.mul(0.5).mul(tf.erf(x.mul(Math.SQRT1_2)).add(1));
}

/** GELU as the fused kernels where the backend has them, whatever the flag says (for tests and benchmarks). */
export function geluFused(x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(GELU, tf.getBackend()) === undefined || x.dtype !== 'float32') return geluComposed(x);
  return tf.engine().runKernel(GELU, { x }, {}) as tf.Tensor;
}

/**
 * Exact GELU, 0.5 x (1 + erf(x / √2)). Differentiable. tf ops; with the `MMFUSE_FUSED_GELU` flag on, one
 * fused kernel each way on the wasm engine.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return (tf.env().getFlags()[FUSED_GELU_FLAG] ?? false) === true ? geluFused(x) : geluComposed(x);
}
