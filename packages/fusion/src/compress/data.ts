/** Samples for compression steps (calibration, importance scores, agreement): prepared once, targets optional. */
import type { SkippedSample } from '@mmfuse/core';
import { PrepareCache } from '../pipeline/cache.js';
import { collectSamples, prepareSamples } from '../pipeline/prepare.js';
import type { SampleSource } from '../pipeline/prepare.js';
import type { Target } from '../outputs/index.js';
import type { FusionState } from '../state.js';

export interface PreparedSet {
  /** Prepared input values per sample (values[m] undefined = input m missing). */
  values: unknown[][];
  /** Parsed targets; undefined for a sample without the output field. */
  targets: (Target | undefined)[];
  skipped: SkippedSample[];
}

export interface PrepareSetOptions {
  baseDir?: string;
  /** Use at most this many samples (the first ones). Default all. */
  maxSamples?: number;
  onSkip?: (s: SkippedSample) => void;
  /** Label of the set in skip reports. */
  file?: string;
  cacheDir?: string;
}

/**
 * Prepare samples for a state's encoders. A sample without the output field is kept with an undefined
 * target (unlabeled data can calibrate); a malformed or unknown target refuses the sample (reported).
 */
export async function prepareSet(state: FusionState, source: SampleSource, options: PrepareSetOptions = {}): Promise<PreparedSet> {
  let samples = await collectSamples(source);
  if (options.maxSamples !== undefined) samples = samples.slice(0, options.maxSamples);
  const field = state.config.output.field;
  const { prepared, skipped } = await prepareSamples(samples, {
    ...state.prepareOptions(new PrepareCache(options.cacheDir), options.baseDir),
    file: options.file ?? 'data',
    ...(options.onSkip === undefined ? {} : { onSkip: options.onSkip }),
    check: (s, id): Target | undefined => (s.fields[field] === undefined || s.fields[field] === null ? undefined : state.target(s.fields[field], id)),
  });
  return { values: prepared.map((p) => p.values), targets: prepared.map((p) => p.extra), skipped };
}
