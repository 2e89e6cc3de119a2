/**
 * Checks of the weight manifest of a model.json (every entry's dtype, byte range and scales agree with its
 * shape and with weights.bin) and decoding of one entry to float32. Both throw `ModelFormatError` naming the
 * weight, so `load` refuses a bad folder before building anything.
 */
import { ModelFormatError } from '@mmfuse/core';
import type { ModelFile, WeightEntry } from './format.js';
import { alignUp, decodeFloat16, dequantizeInt8 } from './weight-codec.js';

export const DTYPES_BY_VERSION: Readonly<Record<number, readonly string[]>> = { 1: ['float32'], 2: ['float32', 'int8', 'float16'] };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The bytes an entry of this dtype and shape must span. */
function expectedBytes(w: WeightEntry, size: number): number {
  switch (w.dtype) {
    case 'float32': return size * 4;
    case 'float16': return size * 2;
    case 'int8': return alignUp(size) + 4 * (w.scales?.count ?? 0);
  }
}

/** Check every entry's structure against its dtype, its shape and the length of weights.bin. */
export function checkEntries(model: ModelFile, bufferLength: number, file: string): void {
  const bad = (w: { name?: unknown } | undefined, i: number, reason: string): ModelFormatError =>
    new ModelFormatError(`weight ${i}${typeof w?.name === 'string' ? ` (${w.name})` : ''}: ${reason}`, { file });
  if (!Array.isArray(model.weights)) throw new ModelFormatError('model.json has no weight list', { file });
  const dtypes = DTYPES_BY_VERSION[model.version] ?? [];
  model.weights.forEach((w, i) => {
    if (typeof w !== 'object' || w === null || typeof w.name !== 'string') throw bad(w, i, 'not a weight entry');
    if (!Array.isArray(w.shape) || !w.shape.every(isCount)) throw bad(w, i, `shape ${JSON.stringify(w.shape)} is not a list of sizes`);
    if (!dtypes.includes(w.dtype)) throw bad(w, i, `dtype ${JSON.stringify(w.dtype)} is not one of ${dtypes.join(', ')} (format version ${model.version})`);
    if (!isCount(w.offset) || !isCount(w.byteLength)) throw bad(w, i, 'offset and byteLength must be non-negative integers');
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.dtype === 'int8') {
      const s = w.scales;
      if (typeof s !== 'object' || s === null || !isCount(s.axis) || !isCount(s.offset) || !isCount(s.count)) throw bad(w, i, 'an int8 weight needs scales { axis, offset, count }');
      if (s.axis >= w.shape.length || s.count !== w.shape[s.axis]) throw bad(w, i, `scales along axis ${s.axis} must number ${w.shape[s.axis] ?? '(no such axis)'}, got ${s.count}`);
      if (s.offset !== w.offset + alignUp(size)) throw bad(w, i, `scales must follow the int8 values at byte ${w.offset + alignUp(size)}, got ${s.offset}`);
    } else if (w.scales !== undefined) {
      throw bad(w, i, `a ${w.dtype} weight has no scales`);
    }
    const expected = expectedBytes(w, size);
    if (w.byteLength !== expected) throw bad(w, i, `${w.byteLength} bytes for a ${w.dtype} weight of shape [${w.shape.join(', ')}], expected ${expected}`);
    if (w.offset + w.byteLength > bufferLength) throw bad(w, i, `ends at byte ${w.offset + w.byteLength}, past the end of weights.bin (${bufferLength} bytes)`);
  });
}

/** Copy `bytes` bytes at `offset` of the buffer (the copy is aligned whatever the offset). */
function copyBytes(buffer: Uint8Array, offset: number, bytes: number): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset + offset, buffer.byteOffset + offset + bytes) as ArrayBuffer;
}

/** One checked entry (`checkEntries`) as float32 values: copied, converted from float16, or dequantized. */
export function decodeEntry(w: WeightEntry, buffer: Uint8Array, file: string): Float32Array {
  const size = w.shape.reduce((a, b) => a * b, 1);
  switch (w.dtype) {
    case 'float32': return new Float32Array(copyBytes(buffer, w.offset, size * 4));
    case 'float16': return decodeFloat16(new Uint16Array(copyBytes(buffer, w.offset, size * 2)));
    case 'int8': {
      const s = w.scales as NonNullable<WeightEntry['scales']>;
      const scales = new Float32Array(copyBytes(buffer, s.offset, s.count * 4));
      const badScale = scales.findIndex((v) => !Number.isFinite(v) || v < 0);
      if (badScale >= 0) throw new ModelFormatError(`weight ${w.name}: scale ${badScale} is ${scales[badScale]}; scales must be finite and >= 0`, { file });
      return dequantizeInt8(new Int8Array(copyBytes(buffer, w.offset, size)), w.shape, s.axis, scales);
    }
    default: throw new ModelFormatError(`weight ${(w as WeightEntry).name}: unknown dtype ${JSON.stringify((w as WeightEntry).dtype)}`, { file });
  }
}
