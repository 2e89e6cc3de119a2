/** The data steps of a training run: prepare the labeled sets, split off validation, drop unknown targets. */
import { ConfigError, InvalidInputError, Rng, createRng, hashString } from '@mmfuse/core';
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
  /** Where the summary of skipped samples goes (the run's log). */
  log?: (line: string) => void;
}

/** How many skip reasons the summary line quotes. */
const QUOTED_REASONS = 3;

function describeSkip(s: SkippedSample): string {
  return `${s.sample !== undefined ? `sample ${JSON.stringify(s.sample)}` : `line ${s.line}`}${s.field !== undefined ? ` field "${s.field}"` : ''}: ${s.reason}`;
}

/**
 * Say loudly what a set lost: one line with the count and the first reasons. An input that was present in
 * some samples and refused in every one of them would silently train a model without it: that is an
 * error, naming the input and the first reasons.
 */
function reportSkips(state: FusionState, set: string, samples: readonly { fields: Record<string, unknown> }[], skipped: readonly SkippedSample[], log: ((line: string) => void) | undefined): void {
  if (skipped.length === 0) return;
  log?.(`${set}: skipped ${skipped.length} of ${samples.length} samples (first: ${skipped.slice(0, QUOTED_REASONS).map(describeSkip).join('; ')})${skipped.length > QUOTED_REASONS ? '; onSkip lists every one' : ''}`);
  // By the field each input reads (`inputs.<name>.field`): that is where a sample has it, and what a refusal names.
  for (const field of new Set(state.sources)) {
    const present = samples.filter((s) => Object.hasOwn(s.fields, field) && s.fields[field] !== null && s.fields[field] !== undefined).length;
    const refused = skipped.filter((s) => s.field === field);
    if (present > 0 && refused.length >= present) {
      const inputs = state.fields.filter((_, m) => state.sources[m] === field);
      const named = inputs.length === 1 && inputs[0] === field ? `input "${field}"` : `field "${field}" (input ${inputs.map((i) => `"${i}"`).join(', ')})`;
      throw new InvalidInputError(`${named} could not be read in any of the ${present} ${set} samples that have it, so the model would train without it (first: ${refused.slice(0, QUOTED_REASONS).map(describeSkip).join('; ')}); relative paths resolve against each manifest's folder (or the baseDir option)`, { field });
    }
  }
}

/** Prepare a labeled set: inputs through their encoders, targets parsed (and checked once the output is fitted). */
export async function prepareLabeled(state: FusionState, source: SampleSource, o: PrepareSetOptions): Promise<TrainingSample[]> {
  const samples = await collectSamples(source);
  const outField = state.config.output.field;
  const { prepared, skipped } = await prepareSamples(samples, {
    ...state.prepareOptions(o.cache, o.baseDir), file: o.file, onSkip: o.onSkip,
    check: (s, id) => state.target(Object.hasOwn(s.fields, outField) ? s.fields[outField] : undefined, id),
  });
  reportSkips(state, o.file, samples, skipped, o.log);
  return prepared.map((p) => {
    const line = samples[p.index]?.line ?? p.index + 1;
    const base = { id: p.id, index: p.index, line, values: p.values, target: p.extra };
    if (o.keepFields === undefined || o.keepFields.length === 0) return base;
    const raw = samples[p.index]?.fields ?? {};
    return { ...base, fields: Object.fromEntries(o.keepFields.filter((f) => Object.hasOwn(raw, f) && raw[f] !== undefined).map((f) => [f, raw[f]])) };
  });
}

/**
 * Hold out `training.validationSplit` of the training samples for validation (a seeded choice), when no
 * validation set was given and there are at least 10 samples. Training splits its prepared samples; `distill`
 * (and `mmfuse distill`) split the labeled raw samples the same way, before adding the samples the teacher labels.
 */
export function splitValidation<T>(train: T[], cfg: Pick<ResolvedConfig['training'], 'validationSplit' | 'seed'>): { train: T[]; validation: T[] } {
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
    fields: ms.map((m) => state.fields[m] as string), sources: ms.map((m) => state.sources[m] as string), encoders: ms.map((m) => state.encoders[m] as ModalityEncoder), encoderConfigs: ms.map((m) => state.encoderConfigs[m]), cache: o.cache,
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
        // A bad setting (e.g. an encoder's augmentation options) fails the run; only a sample's own
        // problem keeps its unaugmented inputs.
        if (err instanceof ConfigError) throw err;
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return firstError === undefined ? { train: out, failed } : { train: out, failed, firstError };
}
