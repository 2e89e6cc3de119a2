/**
 * The saved-model folder:
 * - `model.json`: format name + version, config, labels, target statistics, every encoder's kind, config
 *   and fitted state, the weight manifest (name, shape, dtype, byte offset, length, sha256), the sha256 of
 *   `weights.bin`, and `integrity`, the sha256 of the file's own JSON without that key.
 * - `weights.bin`: every weight in manifest order, each at a 4-byte aligned offset, little-endian: float32,
 *   or (version 2) int8 values followed by their per-channel float32 scales, or float16 (see weight-codec.ts).
 * - `metrics.json` (optional): training history.
 *
 * Versions: 1 stores every weight as float32. 2 adds `dtype` `int8` / `float16` and `scales` to weight
 * entries. A model whose weights are all float32 is written as version 1 (readable by every release);
 * version 2 only when a weight is stored in low precision. Both are read.
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '@mmfuse/core';
import type { ResolvedConfig } from '../config.js';
import { alignUp, encodeFloat16, int8Scales, quantizeInt8 } from './weight-codec.js';
import type { WeightDtype } from './weight-codec.js';

export const FORMAT_NAME = 'mmfuse-fusion-model';
/** The newest version written (version 2: low-precision weights). */
export const FORMAT_VERSION = 2;
/** Every version this release reads. */
export const READABLE_VERSIONS: readonly number[] = [1, 2];

export interface WeightEntry {
  name: string;
  shape: number[];
  /** Storage type; version 1 files hold only `float32`. */
  dtype: WeightDtype;
  /** Byte offset in weights.bin (a multiple of 4). */
  offset: number;
  /** Bytes of the entry (an int8 entry's values, padding to 4 bytes, and its scales). */
  byteLength: number;
  /** sha256 of the entry's bytes. */
  sha256: string;
  /** int8 only: `count` float32 scales (one per channel along `axis`, count = shape[axis]) at byte `offset`, inside the entry. */
  scales?: { axis: number; offset: number; count: number };
}

/** How a weight is stored: int8 with scales along `axis`, or float16. Weights not listed are float32. */
export type StoredAs = { dtype: 'int8'; axis: number } | { dtype: 'float16' };

/** Low-precision storage by weight name (`FusionState.namedWeights` names). */
export type WeightStorage = Readonly<Record<string, StoredAs>>;

export interface ModelFile {
  format: typeof FORMAT_NAME;
  version: number;
  createdAt: string;
  config: ResolvedConfig;
  labels: string[];
  /** Regression targets are standardized with these (per output value). */
  targetStats?: { mean: number[]; std: number[] };
  outDim: number;
  encoders: { field: string; kind: string; config: JsonObject; state: JsonObject }[];
  weights: WeightEntry[];
  weightsFile: 'weights.bin';
  weightsSha256: string;
  integrity: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The integrity hash of a model.json body (every key but `integrity`, in written order). */
export function integrityOf(body: Omit<ModelFile, 'integrity'> | ModelFile): string {
  const { integrity: _i, ...rest } = body as ModelFile;
  return sha256(JSON.stringify(rest));
}

function bytesOf(a: Float32Array | Int8Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The bytes of one weight as stored, and its entry's dtype / scales (offsets relative to the entry). */
function encodeWeight(name: string, data: Float32Array, shape: number[], as: StoredAs | undefined): { bytes: Uint8Array; dtype: WeightDtype; scales?: { axis: number; offset: number; count: number } } {
  if (as === undefined) return { bytes: bytesOf(data), dtype: 'float32' };
  if (as.dtype === 'float16') return { bytes: bytesOf(encodeFloat16(data, name)), dtype: 'float16' };
  const scales = int8Scales(data, shape, as.axis, name);
  const q = quantizeInt8(data, shape, as.axis, scales, name);
  const valuesEnd = alignUp(q.byteLength);
  const bytes = new Uint8Array(valuesEnd + scales.byteLength);
  bytes.set(bytesOf(q), 0);
  bytes.set(bytesOf(scales), valuesEnd);
  return { bytes, dtype: 'int8', scales: { axis: as.axis, offset: valuesEnd, count: scales.length } };
}

/**
 * Pack weights into one buffer with a manifest: float32, or as `storage` says (int8 with per-channel scales,
 * float16). Every entry starts at a 4-byte aligned offset (padding bytes are zero).
 */
export function packWeights(named: [string, Float32Array, number[]][], storage: WeightStorage = {}): { entries: WeightEntry[]; buffer: Uint8Array } {
  const parts = named.map(([name, data, shape]) => ({ name, shape, ...encodeWeight(name, data, shape, storage[name]) }));
  let total = 0;
  for (const p of parts) total = alignUp(total) + p.bytes.byteLength;
  const buffer = new Uint8Array(alignUp(total));
  const entries: WeightEntry[] = [];
  let offset = 0;
  for (const p of parts) {
    offset = alignUp(offset);
    buffer.set(p.bytes, offset);
    const entry: WeightEntry = { name: p.name, shape: p.shape, dtype: p.dtype, offset, byteLength: p.bytes.byteLength, sha256: sha256(p.bytes) };
    if (p.scales !== undefined) entry.scales = { ...p.scales, offset: offset + p.scales.offset };
    entries.push(entry);
    offset += p.bytes.byteLength;
  }
  return { entries, buffer };
}

/** The version a file needs: 1 when every weight is float32 (readable by older releases), else 2. */
export function versionFor(entries: readonly WeightEntry[]): number {
  return entries.every((e) => e.dtype === 'float32') ? 1 : 2;
}
