// Reads the reference vectors of tests/fixtures/vectors (PyTorch layouts, row-major data).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors');

export interface StoredTensor { dtype: string; shape: number[]; data: (number | boolean)[] }

export function readVector(name: string): Record<string, any> {
  return JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Record<string, any>;
}

export function toTensor(t: StoredTensor): tf.Tensor {
  const data = t.data.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
  return tf.tensor(data, t.shape, 'float32');
}

/** max |a - b| <= atol + 1e-4 * max|b| (float32 with another summation order). */
export function expectClose(actual: tf.Tensor, expected: StoredTensor, label: string, atol = 1e-4): void {
  expect(actual.shape, label).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.data as number[];
  let maxAbs = 0;
  for (const v of e) maxAbs = Math.max(maxAbs, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (e[i] as number)));
  expect(worst, `${label}: max abs diff ${worst}`).toBeLessThanOrEqual(atol + 1e-4 * maxAbs);
}
