/** The data steps of a training run: prepare the labeled sets, split off validation, drop unknown targets. */
import { createRng } from '@mmfuse/core';
import type { MmfuseError, SkippedSample } from '@mmfuse/core';
import type { ResolvedConfig } from '../config.js';
import type { PrepareCache } from '../pipeline/cache.js';
import { collectSamples, prepareSamples } from '../pipeline/prepare.js';
import type { SampleSource } from '../pipeline/prepare.js';
import type { FusionState } from '../state.js';
import type { TrainingSample } from './loss-terms.js';

export interface PrepareSetOptions {
  cache: PrepareCache;
  /** Label of the set in skip reports (`train`, `validation`). */
  file: string;
  baseDir?: string;
  onSkip: (s: SkippedSample) => void;
  /** Raw fields kept on each sample (`TrainingSample.fields`). */
  keepFields?: readonly string[];
}

/** Prepare a labeled set: inputs through their encoders, targets parsed (and checked once the output is fitted). */
export async function prepareLabeled(state: FusionState, source: SampleSource, o: PrepareSetOptions): Promise<TrainingSample[]> {
  const samples = await collectSamples(source);
  const outField = state.config.output.field;
  const { prepared } = await prepareSamples(samples, {
    fields: state.fields, sources: state.sources, encoders: state.encoders, encoderConfigs: state.encoderConfigs, cache: o.cache, file: o.file, onSkip: o.onSkip,
    ...(o.baseDir === undefined ? {} : { baseDir: o.baseDir }),
    check: (s, id) => state.target(s.fields[outField], id),
  });
  return prepared.map((p) => {
    const line = samples[p.index]?.line ?? p.index + 1;
    const base = { id: p.id, index: p.index, line, values: p.values, target: p.extra };
    if (o.keepFields === undefined || o.keepFields.length === 0) return base;
    const raw = samples[p.index]?.fields ?? {};
    return { ...base, fields: Object.fromEntries(o.keepFields.filter((f) => raw[f] !== undefined).map((f) => [f, raw[f]])) };
  });
}

/**
 * Hold out `training.validationSplit` of the training samples for validation (a seeded choice), when no
 * validation set was given and there are at least 10 samples.
 */
export function splitValidation(train: TrainingSample[], cfg: ResolvedConfig['training']): { train: TrainingSample[]; validation: TrainingSample[] } {
  if (cfg.validationSplit <= 0 || train.length < 10) return { train, validation: [] };
  const order = createRng(cfg.seed).fork('validation-split').permutation(train.length);
  const nVal = Math.max(1, Math.round(train.length * cfg.validationSplit));
  const valIdx = new Set(order.slice(0, nVal));
  return { train: train.filter((_, i) => !valIdx.has(i)), validation: train.filter((_, i) => valIdx.has(i)) };
}

/** Samples whose targets the fitted output does not know (validation, or new data after load) cannot be scored: skipped. */
export function dropUnknownTargets(state: FusionState, set: TrainingSample[], file: string, onSkip: (s: SkippedSample) => void): TrainingSample[] {
  const field = state.config.output.field;
  return set.filter((s) => {
    try {
      state.requireOutput().check(s.target, { sample: s.id, field });
      return true;
    } catch (err) {
      const e = err as MmfuseError;
      onSkip({ file, line: s.line, sample: s.id, code: e.code, reason: e.reason, message: e.message, field });
      return false;
    }
  });
}
