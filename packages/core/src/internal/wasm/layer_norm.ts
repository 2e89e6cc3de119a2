/**
 * Layer normalization over the last axis as one kernel each way on wasm:
 *   y = (x − mean) · rstd · gamma + beta,   rstd = 1 / sqrt(var + eps)   (biased variance, as PyTorch)
 *   dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)),  g = dy · gamma,  x̂ = (x − mean) · rstd
 *   dgamma = Σ_rows dy · x̂,  dbeta = Σ_rows dy
 * Composed from tf ops this is ~8 kernels forward and ~25 backward (moments, broadcasts, the mean gradient's
 * `ones` tensor built in JavaScript); fused it is one pass forward and one backward, statistics in float64.
 * The backward kernel recomputes mean and rstd from x (two passes over the row) instead of keeping them.
 * On other backends `layerNorm` composes the same function from tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { f32, type Info, type KernelArgs } from './heap.js';

export const LAYER_NORM = 'MmfuseLayerNorm';
export const LAYER_NORM_GRAD = 'MmfuseLayerNormGrad';

interface Attrs { epsilon: number; [key: string]: unknown }

function dims(x: Info, gamma: Info, beta?: Info): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1]!;
  if (x.shape.length < 1 || gamma.shape.length !== 1 || gamma.shape[0] !== d || (beta !== undefined && (beta.shape.length !== 1 || beta.shape[0] !== d))) {
    throw new Error(`layerNorm: gamma and beta must be [${d}] for x [${x.shape.join(', ')}], got [${gamma.shape.join(', ')}] and [${beta?.shape.join(', ') ?? ''}]`);
  }
  return { rows: d === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / d, d };
}

/** mean and rstd of row r (two-pass variance, float64). */
function stats(x: Float32Array, r: number, d: number, eps: number): [number, number] {
  const o = r * d;
  let sum = 0;
  for (let j = 0; j < d; j++) sum += x[o + j]!;
  const mean = sum / d;
  let sq = 0;
  for (let j = 0; j < d; j++) {
    const c = x[o + j]! - mean;
    sq += c * c;
  }
  return [mean, 1 / Math.sqrt(sq / d + eps)];
}

function layerNormKernel(args: KernelArgs<Attrs>): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs['x']!;
  const gamma = inputs['gamma']!;
  const beta = inputs['beta']!;
  const { rows, d } = dims(x, gamma, beta);
  const out = backend.makeOutput([...x.shape], 'float32');
  const xv = f32(backend, x);
  const g = f32(backend, gamma);
  const bv = f32(backend, beta);
  const y = f32(backend, out);
  for (let r = 0; r < rows; r++) {
    const [mean, rstd] = stats(xv, r, d, attrs.epsilon);
    const o = r * d;
    for (let j = 0; j < d; j++) y[o + j] = (xv[o + j]! - mean) * rstd * g[j]! + bv[j]!;
  }
  return out;
}

/** Gradient kernel: inputs {dy, x, gamma} → [dx, dgamma, dbeta]. */
function layerNormGradKernel(args: KernelArgs<Attrs>): Info[] {
  const { inputs, backend, attrs } = args;
  const x = inputs['x']!;
  const gamma = inputs['gamma']!;
  const { rows, d } = dims(x, gamma);
  const dxOut = backend.makeOutput([...x.shape], 'float32');
  const dgOut = backend.makeOutput([d], 'float32');
  const dbOut = backend.makeOutput([d], 'float32');
  const xv = f32(backend, x);
  const dy = f32(backend, inputs['dy']!);
  const g = f32(backend, gamma);
  const dx = f32(backend, dxOut);
  const dgamma = new Float64Array(d);
  const dbeta = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const [mean, rstd] = stats(xv, r, d, attrs.epsilon);
    const o = r * d;
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < d; j++) {
      const xhat = (xv[o + j]! - mean) * rstd;
      const dyj = dy[o + j]!;
      const gj = dyj * g[j]!;
      sumG += gj;
      sumGX += gj * xhat;
      dgamma[j]! += dyj * xhat;
      dbeta[j]! += dyj;
    }
    const mG = sumG / d;
    const mGX = sumGX / d;
    for (let j = 0; j < d; j++) {
      const xhat = (xv[o + j]! - mean) * rstd;
      dx[o + j] = rstd * (dy[o + j]! * g[j]! - mG - xhat * mGX);
    }
  }
  f32(backend, dgOut).set(dgamma);
  f32(backend, dbOut).set(dbeta);
  return [dxOut, dgOut, dbOut];
}

export const layerNormConfig: tf.KernelConfig = { kernelName: LAYER_NORM, backendName: 'wasm', kernelFunc: layerNormKernel as unknown as tf.KernelFunc };
export const layerNormGradConfig: tf.KernelConfig = { kernelName: LAYER_NORM_GRAD, backendName: 'wasm', kernelFunc: layerNormGradKernel as unknown as tf.KernelFunc };

/** Register the gradient of the fused kernel (once per process). */
export function registerLayerNormGradient(): void {
  if (tf.getGradient(LAYER_NORM) !== undefined) return;
  tf.registerGradient({
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, gamma] = saved as [tf.Tensor, tf.Tensor1D];
      const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: Array.isArray(dy) ? dy[0]! : dy, x, gamma }, attrs) as unknown as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
}

/** `layerNorm` from tf ops (any backend): the reference the fused kernels are tested against. */
export function layerNormComposed(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true); // [..., 1] each
  return x.sub(mean).mul(tf.rsqrt(variance.add(epsilon))).mul(gamma).add(beta);
}

/**
 * Layer normalization of x [..., d] over the last axis with gamma, beta [d] (biased variance, epsilon added
 * to it; default 1e-5 as PyTorch). Differentiable. One fused kernel each way on the wasm engine; tf ops
 * elsewhere.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-5): tf.Tensor {
  if (tf.getKernel(LAYER_NORM, tf.getBackend()) === undefined || x.dtype !== 'float32') return layerNormComposed(x, gamma, beta, epsilon);
  return tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
