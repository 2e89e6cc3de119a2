/**
 * Fixed sinusoidal positions (Vaswani et al.), sin and cos interleaved:
 * PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
 */
import { ConfigError } from '@mmfuse/core';

/** The [maxLen, dModel] table, row-major, computed in float64 and stored as float32. */
export function sinusoidalTable(maxLen: number, dModel: number, base = 10000): Float32Array {
  if (!Number.isInteger(maxLen) || maxLen < 0) throw new ConfigError(`sinusoidalTable: must be a non-negative integer, got ${maxLen}`, { path: 'maxLen' });
  if (!Number.isInteger(dModel) || dModel < 2 || dModel % 2 !== 0) throw new ConfigError(`sinusoidalTable: must be an even integer >= 2, got ${dModel}`, { path: 'dModel' });
  const out = new Float32Array(maxLen * dModel);
  for (let i = 0; i < dModel / 2; i++) {
    const divTerm = Math.exp(2 * i * (-Math.log(base) / dModel));
    for (let pos = 0; pos < maxLen; pos++) {
      out[pos * dModel + 2 * i] = Math.sin(pos * divTerm);
      out[pos * dModel + 2 * i + 1] = Math.cos(pos * divTerm);
    }
  }
  return out;
}
