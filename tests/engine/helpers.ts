// Shared helpers for the wasm-vs-cpu engine tests.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { createRng, hashString } from '@mmfuse/core';

/** Relative error of `actual` against `expected`: max |a − e| over max(|e|, 1e-6). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

/** Expect two lists of tensors (values) to agree within `tol` relative, with the same shapes. */
export function expectClose(actual: { shape: number[]; values: Float32Array | Int32Array }[], expected: { shape: number[]; values: Float32Array | Int32Array }[], tol = 1e-4, label = ''): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(a.shape, `${label} output ${i} shape`).toEqual(e.shape);
    const err = relativeError(a.values, e.values);
    expect(err, `${label} output ${i}: relative error ${err}`).toBeLessThanOrEqual(tol);
  });
}

export type Snapshot = { shape: number[]; values: Float32Array | Int32Array };

/** Run `f` on `backend` inside a tidy and read its outputs back as plain arrays. */
export function runOn(backend: 'cpu' | 'wasm', f: () => tf.Tensor | tf.Tensor[]): Snapshot[] {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const snap = list.map((t) => ({ shape: t.shape.slice(), values: t.dataSync() as Float32Array | Int32Array }));
    tf.dispose(list);
    return snap;
  } finally {
    tf.setBackend(previous);
  }
}

/** Values of `f` on wasm and on cpu (inputs are plain arrays, so neither backend sees the other's tensors). */
export function compareBackends(f: () => tf.Tensor | tf.Tensor[], tol = 1e-4, label = ''): Snapshot[] {
  const wasm = runOn('wasm', f);
  const cpu = runOn('cpu', f);
  expectClose(wasm, cpu, tol, label);
  return wasm;
}

/** Seeded standard-normal values (through mmfuse's Rng, so runs reproduce). */
export function randomValues(seed: string, size: number): Float32Array {
  const rng = createRng(hashString(seed));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal();
  return out;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A seeded float tensor of `shape` (created on the current backend). */
export function randn(seed: string, shape: number[]): tf.Tensor {
  return tf.tensor(randomValues(seed, sizeOf(shape)), shape, 'float32');
}

/** Number of data buffers the active backend holds (catches leaks inside kernels, which numTensors misses). */
export function backendDataIds(): number {
  return (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
}

/** Expect repeated calls of `f` to leave tensor and backend buffer counts unchanged. */
export function expectNoLeak(f: () => void, repeats = 3): void {
  f(); // Warm-up: first calls may cache (e.g. XNNPACK operators).
  const tensors = tf.memory().numTensors;
  const buffers = backendDataIds();
  for (let i = 0; i < repeats; i++) f();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(backendDataIds()).toBe(buffers);
}
