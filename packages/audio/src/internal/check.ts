/** Argument checks shared by the DSP functions: each throws a ConfigError naming the option and value. */
import { ConfigError, InvalidInputError } from '@mmfuse/core';

export function checkInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new ConfigError(`must be an integer ${range}, got ${String(value)}`, { path: name });
  }
  return value;
}

export function checkNumber(value: unknown, name: string, min: number, max = Number.POSITIVE_INFINITY, minExclusive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (minExclusive && value === min)) {
    const low = minExclusive ? `> ${min}` : `>= ${min}`;
    const range = max === Number.POSITIVE_INFINITY ? low : `${low} and <= ${max}`;
    throw new ConfigError(`must be a finite number ${range}, got ${String(value)}`, { path: name });
  }
  return value;
}

export function checkOneOf<T extends string | null>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new ConfigError(`must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`, { path: name });
  }
  return value as T;
}

export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`must be true or false, got ${JSON.stringify(value)}`, { path: name });
  return value;
}

/** Refuse a sample buffer that is not a float typed array or holds NaN/Infinity. */
export function checkSamples(samples: unknown, name = 'samples'): Float32Array | Float64Array {
  if (!(samples instanceof Float32Array) && !(samples instanceof Float64Array)) {
    throw new InvalidInputError(`${name} must be a Float32Array or Float64Array, got ${samples === null ? 'null' : typeof samples}`);
  }
  // One sum decides: it is finite exactly when every sample is (NaN and Infinity propagate; a sum of at most
  // 2^53 float32 values cannot overflow a double). Only then look for the culprit.
  // Four partial sums so the additions do not wait on each other.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = samples.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += samples[i] as number;
    s1 += samples[i + 1] as number;
    s2 += samples[i + 2] as number;
    s3 += samples[i + 3] as number;
  }
  for (; i < n; i++) s0 += samples[i] as number;
  const sum = s0 + s1 + s2 + s3;
  if (sum - sum !== 0) {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i] as number;
      if (v - v !== 0) throw new InvalidInputError(`${name}[${i}] is ${v}; audio samples must be finite`, { details: { index: i } });
    }
  }
  return samples;
}

export function checkFeatureMatrix(m: unknown, name = 'features'): void {
  const fm = m as { data?: unknown; frames?: unknown; bins?: unknown } | null;
  if (fm === null || typeof fm !== 'object' || !(fm.data instanceof Float32Array) || typeof fm.frames !== 'number' || typeof fm.bins !== 'number' ||
    !Number.isInteger(fm.frames) || !Number.isInteger(fm.bins) || fm.frames < 0 || fm.bins < 1 || fm.data.length !== fm.frames * fm.bins) {
    throw new InvalidInputError(`${name} must be a FeatureMatrix { data: Float32Array of frames * bins values, frames, bins }`);
  }
}
