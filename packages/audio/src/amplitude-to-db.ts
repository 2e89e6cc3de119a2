import { checkFeatureMatrix } from './internal/check.js';
import { checkNumber, checkOneOf } from '@mmfuse/core/base';
import { dbInPlace } from './internal/db.js';
import type { FeatureMatrix } from './types.js';

/** Options of `amplitudeToDb` (torchaudio.transforms.AmplitudeToDB / functional.amplitude_to_DB). */
export interface AmplitudeToDbOptions {
  /** `power` (10 log10) or `magnitude` (20 log10). Default `power`. */
  stype?: 'power' | 'magnitude';
  /** Floor the result at (its maximum - topDb); null: no floor. Default null. */
  topDb?: number | null;
  /** Smallest input value before the log. Default 1e-10. */
  amin?: number;
  /** Reference value (0 dB). Default 1. */
  ref?: number;
}

/**
 * Decibels: multiplier * log10(max(x, amin)) - multiplier * log10(max(ref, amin)), then floored at
 * max - topDb over the whole matrix when topDb is set.
 * @returns a new matrix of the same shape.
 */
export function amplitudeToDb(input: FeatureMatrix, options: AmplitudeToDbOptions = {}): FeatureMatrix {
  checkFeatureMatrix(input, 'input');
  const stype = checkOneOf(options.stype ?? 'power', 'stype', ['power', 'magnitude'] as const);
  const topDb = options.topDb === undefined || options.topDb === null ? null : checkNumber(options.topDb, 'topDb', 0);
  const amin = checkNumber(options.amin ?? 1e-10, 'amin', 0, Number.POSITIVE_INFINITY, true);
  const ref = checkNumber(options.ref ?? 1, 'ref', 0, Number.POSITIVE_INFINITY, true);
  const data = new Float32Array(input.data.length);
  dbInPlace(input.data, data, stype === 'power' ? 10 : 20, amin, ref, topDb);
  return { data, frames: input.frames, bins: input.bins };
}
