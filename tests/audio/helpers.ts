/** Test helpers: reference vector loading and comparison. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const vectorsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors');

export interface StoredTensor { dtype: string; shape: number[]; data: number[] }

export function loadVector<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(path.join(vectorsDir, file), 'utf8')) as T;
}

/** The float32 waveform every transform of a vector file was given. */
export function loadSignal(file: string): { samples: Float32Array; sampleRate: number } {
  const v = loadVector<{ sample_rate: number; sample_format: string; int16_divisor?: number; samples: StoredTensor }>(file);
  const div = v.sample_format === 'int16' ? (v.int16_divisor ?? 32768) : 1;
  return { samples: Float32Array.from(v.samples.data, (x) => x / div), sampleRate: v.sample_rate };
}

/** Transpose a stored [rows, cols] tensor to [cols, rows] (torchaudio [bins, frames] -> frame by frame). */
export function transpose(data: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  return out;
}

/** Largest absolute difference, and the README tolerance max(1e-4 * max|expected|, 2 * float64 diff). */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, float64Diff: number): { maxDiff: number; tolerance: number; at: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i] as number));
  let maxDiff = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (!(d <= maxDiff)) { maxDiff = d; at = i; }
  }
  return { maxDiff, tolerance: Math.max(1e-4 * maxAbs, 2 * float64Diff), at };
}
