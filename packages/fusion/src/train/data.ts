/** The data steps of a training run: prepare the labeled sets, split off validation, drop unknown targets. */
import { Rng, createRng, hashString } from '@mmfuse/core';
import type { MmfuseError, ModalityEncoder, SkippedSample } from '@mmfuse/core';
import type { ResolvedConfig } from '../config.js';
import type { PrepareCache } from '../pipeline/cache.js';
import { collectSamples, prepareFields, prepareSamples } from '../pipeline/prepare.js';
import type { Sample, SampleSource } from '../pipeline/prepare.js';
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
    fields: state.fields, encoders: state.encoders, encoderConfigs: state.encoderConfigs, cache: o.cache, file: o.file, onSkip: o.onSkip,
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

/** Options of `augmentTraining`. */
export interface AugmentTrainingOptions {
  /** Input fields prepared again (the others keep their values). */
  fields: readonly string[];
  /** 0-based epoch: with `seed`, it fixes every sample's random stream. */
  epoch: number;
  seed: number;
  cache: PrepareCache;
  baseDir?: string;
}

/**
 * The training samples with the given inputs prepared again as training data (`ctx.training`, a random
 * stream per (seed, epoch, sample, field)), so encoders that augment in `prepare` give fresh audio each
 * epoch, and a resumed run gets the same values as an uninterrupted one. A sample whose training
 * preparation fails keeps its earlier values; the failures are counted (with the first error).
 * `raw[s.index]` must be the raw sample of each training sample.
 */
export async function augmentTraining(state: FusionState, raw: readonly Sample[], train: readonly TrainingSample[], o: AugmentTrainingOptions): Promise<{ train: TrainingSample[]; failed: number; firstError?: string }> {
  const ms = o.fields.map((f) => state.fields.indexOf(f)).filter((m) => m >= 0);
  const opts = {
    fields: ms.map((m) => state.fields[m] as string), encoders: ms.map((m) => state.encoders[m] as ModalityEncoder), encoderConfigs: ms.map((m) => state.encoderConfigs[m]), cache: o.cache,
    ...(o.baseDir === undefined ? {} : { baseDir: o.baseDir }),
  };
  const out = [...train];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= out.length) return;
      const s = out[i] as TrainingSample;
      if (!ms.some((m) => s.values[m] !== undefined)) continue;
      const fields = raw[s.index]?.fields ?? {};
      try {
        const rng = (field: string): Rng => new Rng(hashString(`augment:${o.epoch}:${s.index}:${field}`, o.seed));
        const fresh = await prepareFields(fields, s.id, { ...opts, training: { rng } });
        const values = [...s.values];
        ms.forEach((m, k) => { if (values[m] !== undefined) values[m] = fresh[k]; });
        out[i] = { ...s, values };
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return firstError === undefined ? { train: out, failed } : { train: out, failed, firstError };
}
