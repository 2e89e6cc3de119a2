/**
 * Input checks of the DSP functions (sample buffers, feature matrices). Option checks are core's
 * (`checkInteger`, `checkNumber`, ... from @mmfuse/core).
 */
import { InvalidInputError } from '@mmfuse/core/base';

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
