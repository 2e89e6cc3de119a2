/**
 * The saved-model folder:
 * - `model.json`: format name + version, config, labels, target statistics, the output calibration (version
 *   2: temperature and out-of-scope threshold of a category output), every encoder's kind, config
 *   and fitted state, the weight manifest (name, shape, dtype, byte offset, length, sha256), the sha256 of
 *   `weights.bin`, and `integrity`, the sha256 of the file's own JSON without that key.
 * - `weights.bin`: float32 little-endian values of every weight, in manifest order.
 * - `metrics.json` (optional): training history.
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '@mmfuse/core';
import type { ResolvedConfig } from '../config.js';
import type { Calibration } from '../outputs/calibration.js';

export const FORMAT_NAME = 'mmfuse-fusion-model';
/**
 * The newest format version written. Version 2 adds `calibration`; a model without one is still written as
 * version 1, so readers that only know version 1 keep reading it (and refuse, rather than silently
 * ignore, a calibrated one).
 */
export const FORMAT_VERSION = 2;
/** Versions this package reads. */
export const READABLE_VERSIONS: readonly number[] = [1, 2];

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  /** Byte offset in weights.bin. */
  offset: number;
  byteLength: number;
  sha256: string;
}

export interface ModelFile {
  format: typeof FORMAT_NAME;
  version: number;
  createdAt: string;
  config: ResolvedConfig;
  labels: string[];
  /** Regression targets are standardized with these (per output value). */
  targetStats?: { mean: number[]; std: number[] };
  outDim: number;
  /** Version 2: the category output's calibration (temperature, out-of-scope threshold, validation figures). */
  calibration?: Calibration;
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

/** Pack float32 arrays into one buffer with a manifest. */
export function packWeights(named: [string, Float32Array, number[]][]): { entries: WeightEntry[]; buffer: Uint8Array } {
  const total = named.reduce((a, [, d]) => a + d.byteLength, 0);
  const buffer = new Uint8Array(total);
  const entries: WeightEntry[] = [];
  let offset = 0;
  for (const [name, data, shape] of named) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    buffer.set(bytes, offset);
    entries.push({ name, shape, dtype: 'float32', offset, byteLength: data.byteLength, sha256: sha256(bytes) });
    offset += data.byteLength;
  }
  return { entries, buffer };
}
