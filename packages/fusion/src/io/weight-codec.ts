/**
 * Low-precision weight storage of the model format (version 2), as pure functions over typed arrays:
 *
 * - `int8`: symmetric per-output-channel quantization. For the channels along `axis`, scale[c] =
 *   max |w| over channel c / 127 and q = round-half-even(w / scale[c]) in [-127, 127] (no zero point; -128
 *   is never written). A channel of zeros has scale 0 and dequantizes to zeros. Dequantized w' = q × scale[c]
 *   in float32; |w - w'| <= scale[c] / 2.
 * - `float16`: IEEE 754 binary16, round to nearest even (overflow to ±Infinity is refused before encoding).
 *
 * Checked against PyTorch's `torch.quantize_per_channel` (qint8, zero points 0) and `Tensor.half()` in
 * tests/fixtures/compress/quantization.json (scripts/compress/make-quantization-vectors.py).
 */
import { InvalidInputError } from '@mmfuse/core';

/** Storage types of a weight in `weights.bin`. */
export type WeightDtype = 'float32' | 'int8' | 'float16';

/** Largest magnitude of an int8 value (symmetric range: -127..127). */
export const INT8_MAX = 127;

/** Largest finite float16. */
export const FLOAT16_MAX = 65504;

/** Byte offsets in weights.bin are multiples of this (so float32 views of the file need no copy). */
export const WEIGHT_ALIGNMENT = 4;

export function alignUp(n: number, to = WEIGHT_ALIGNMENT): number {
  return Math.ceil(n / to) * to;
}

/** The index of element i's channel along `axis` of a row-major tensor of `shape`. */
function channelStride(shape: readonly number[], axis: number): { channels: number; inner: number } {
  const channels = shape[axis] as number;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { channels, inner };
}

function checkAxis(shape: readonly number[], axis: number, name: string): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new InvalidInputError(`weight ${name}: quantization axis ${axis} is outside its shape [${shape.join(', ')}]`, { field: name });
  }
}

function checkFinite(values: Float32Array, name: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new InvalidInputError(`weight ${name}: value ${i} is ${values[i]}; a weight with non-finite values cannot be stored in low precision`, { field: name });
  }
}

/** Round half to even, as PyTorch's quantization (nearbyint) does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per-channel symmetric scales along `axis`: max |w| / 127 per channel, as float32 values. */
export function int8Scales(values: Float32Array, shape: readonly number[], axis: number, name = 'weight'): Float32Array {
  checkAxis(shape, axis, name);
  checkFinite(values, name);
  const { channels, inner } = channelStride(shape, axis);
  const max = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const a = Math.abs(values[i] as number);
    if (a > (max[c] as number)) max[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = (max[c] as number) / INT8_MAX;
  return scales;
}

/** Quantize with the given per-channel scales (from `int8Scales`). */
export function quantizeInt8(values: Float32Array, shape: readonly number[], axis: number, scales: Float32Array, name = 'weight'): Int8Array {
  checkAxis(shape, axis, name);
  const { channels, inner } = channelStride(shape, axis);
  if (scales.length !== channels) throw new InvalidInputError(`weight ${name}: ${scales.length} scales for ${channels} channels`, { field: name });
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const s = scales[Math.floor(i / inner) % channels] as number;
    if (s === 0) continue;
    const v = roundHalfEven((values[i] as number) / s);
    q[i] = Math.max(-INT8_MAX, Math.min(INT8_MAX, v)); // |w| <= max = 127 s, so this only absorbs float rounding
  }
  return q;
}

/** w' = q × scale[channel], float32. */
export function dequantizeInt8(q: Int8Array, shape: readonly number[], axis: number, scales: Float32Array): Float32Array {
  const { channels, inner } = channelStride(shape, axis);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = (q[i] as number) * (scales[Math.floor(i / inner) % channels] as number);
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float32 value's binary16 bits, round to nearest even. */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mant |= 0x800000; // the implicit leading 1
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m; // a carry into the exponent field gives the smallest normal, as it should
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

/** A binary16 value as a number. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 -> binary16 bits. Refuses non-finite values and values beyond ±65504 (they would become infinite). */
export function encodeFloat16(values: Float32Array, name = 'weight'): Uint16Array {
  checkFinite(values, name);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Math.abs(v) > FLOAT16_MAX) throw new InvalidInputError(`weight ${name}: value ${i} is ${v}, beyond float16's range (±${FLOAT16_MAX})`, { field: name });
    out[i] = toFloat16Bits(v);
  }
  return out;
}

export function decodeFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i] as number);
  return out;
}
