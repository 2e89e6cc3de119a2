/**
 * Preparation of raw samples: every configured input of every sample is checked by its encoder's raw-input
 * kind (`raw-input.ts`), then goes through its encoder's `prepare` (decode, features, tokenize), with
 * bounded concurrency (file reads and native decoders such as sharp run on libuv's thread pool meanwhile)
 * and the prepared-value cache. A bad value refuses its sample alone with a typed, located error.
 */
import { ConfigError, InvalidInputError, isMmfuseError, rawInputOf, skippedFromError } from '@mmfuse/core';
import type { MmfuseError, ModalityEncoder, Outcome, Rng, SkippedSample } from '@mmfuse/core';
import type { PrepareCache } from './cache.js';
import { checkRawInput } from './raw-input.js';

/** One sample: an optional id and its field values (a `ManifestSample` fits). */
export interface Sample {
  id?: string;
  /** Manifest line, for error reports. */
  line?: number;
  fields: Record<string, unknown>;
  /**
   * Folder this sample's relative file paths resolve against (and must stay in): a manifest sample carries
   * its manifest's folder. Takes precedence over the `baseDir` option of `fit` / `evaluate` / `predict`.
   */
  baseDir?: string;
  /** This sample's paths may leave `baseDir` (a manifest read with `allowOutside`). */
  allowOutsideBaseDir?: boolean;
}

/** Anything that yields samples: an array, a generator, `readManifest(...)`. */
export type SampleSource = Iterable<Sample> | AsyncIterable<Sample>;

/** A prepared sample: `values[m]` is input m's prepared value, undefined when the sample lacks it. */
export interface PreparedSample<T = undefined> {
  id: string;
  /** Position in the prepared list of samples. */
  index: number;
  values: unknown[];
  /** What the `check` option returned (e.g. the parsed target). */
  extra: T;
}

export interface PrepareInputsOptions {
  /** Input names (in the order of `encoders`). */
  fields: readonly string[];
  /**
   * The sample field each input reads (`inputs.<name>.field`), in the order of `fields`. Required: an input
   * that reads another input's field (e.g. `sentence` reading `text`) would find nothing under its own name.
   * `FusionState.prepareOptions` fills it.
   */
  sources: readonly string[];
  encoders: readonly ModalityEncoder[];
  /** Encoder configs, part of the cache key. */
  encoderConfigs: readonly unknown[];
  cache: PrepareCache;
  baseDir?: string;
  /** Samples prepared at once. Default 8. */
  concurrency?: number;
  /**
   * Prepare as training data: `ctx.training` true and `ctx.rng` = `rng(field)` (encoders augment), never
   * from or into the cache. Default: inference preparation.
   */
  training?: { rng: (field: string) => Rng };
}

export async function collectSamples(source: SampleSource): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of source as AsyncIterable<Sample>) out.push(s);
  return out;
}

/** The error of a non-mmfuse failure inside a plugin, located at the sample and field. */
function asInputError(err: unknown, kind: string, sample: string | number, field: string): MmfuseError {
  if (isMmfuseError(err)) return err.locate({ sample, field });
  const msg = err instanceof Error ? err.message : String(err);
  return new InvalidInputError(`encoder ${kind} could not prepare this value: ${msg}`, { sample, field, cause: err });
}

/**
 * Prepare the inputs of one sample's fields (an unknown field is ignored). `where` is the sample's own
 * folder for relative paths (a manifest sample's), over `opts.baseDir`. Throws a located MmfuseError.
 */
export async function prepareFields(fieldsIn: Record<string, unknown>, sample: string | number, opts: PrepareInputsOptions, where: { baseDir?: string; allowOutsideBaseDir?: boolean } = {}): Promise<unknown[]> {
  const values: unknown[] = [];
  const baseDir = where.baseDir ?? opts.baseDir;
  for (let m = 0; m < opts.fields.length; m++) {
    const field = opts.sources[m] as string;
    // Own properties only: a field named `constructor` is not Object's.
    const raw = Object.hasOwn(fieldsIn, field) ? fieldsIn[field] : undefined;
    if (raw === undefined || raw === null) { values.push(undefined); continue; }
    const enc = opts.encoders[m] as ModalityEncoder;
    const spec = rawInputOf(enc);
    try {
      const value = await checkRawInput(spec, raw, { sample, field, encoder: enc.kind, ...(baseDir === undefined ? {} : { baseDir }), ...(where.allowOutsideBaseDir === true ? { allowOutsideBaseDir: true } : {}) });
      const extra = enc.preparedKey?.();
      const config = extra === undefined ? opts.encoderConfigs[m] : { config: opts.encoderConfigs[m], prepared: extra };
      const key = opts.training !== undefined ? undefined : await opts.cache.key(value, { kind: enc.kind, config, input: spec.kind, maxBytes: spec.maxBytes });
      if (key !== undefined) {
        const got = await opts.cache.get(key);
        if (got.hit) { values.push(got.value); continue; }
      }
      // A file path is absolute and checked by now, so a file plugin resolves nothing itself.
      const base = spec.kind === 'file' || baseDir === undefined ? { sample, field } : { sample, field, baseDir };
      const ctx = opts.training === undefined ? base : { ...base, training: true, rng: opts.training.rng(field) };
      const prepared = await enc.prepare(value, ctx);
      if (key !== undefined) await opts.cache.set(key, prepared);
      values.push(prepared);
    } catch (err) {
      throw asInputError(err, enc.kind, sample, field);
    }
  }
  if (values.every((v) => v === undefined)) {
    throw new InvalidInputError(`none of the inputs ${[...new Set(opts.sources)].map((f) => `"${f}"`).join(', ')} is present`, { sample });
  }
  return values;
}

/**
 * Prepare many samples in order: one outcome per sample, the prepared sample or the typed error that
 * refused it alone. `check` runs first on each sample (e.g. target parsing) and may throw an MmfuseError
 * to refuse it; `sampleName` names a sample without an id in errors (default: its index as a string).
 */
export async function prepareAll<T = undefined>(samples: readonly Sample[], opts: PrepareInputsOptions & { check?: (s: Sample, id: string) => T; sampleName?: (index: number) => string | number }): Promise<Outcome<PreparedSample<T>>[]> {
  // A caller from plain JavaScript may leave `sources` out: refuse the call, not every sample one by one.
  if (!Array.isArray(opts.sources) || opts.sources.length !== opts.fields.length) {
    throw new ConfigError(`must list the field each of the ${opts.fields.length} inputs reads, got ${JSON.stringify(opts.sources)}; FusionState.prepareOptions builds these options`, { path: 'sources' });
  }
  const results: Outcome<PreparedSample<T>>[] = new Array(samples.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      if (index >= samples.length) return;
      const sample = samples[index] as Sample;
      const name = sample?.id ?? opts.sampleName?.(index) ?? String(index);
      const id = String(name);
      try {
        if (typeof sample !== 'object' || sample === null || typeof sample.fields !== 'object' || sample.fields === null) {
          throw new InvalidInputError('a sample must be an object { id?, fields: { ... } }', { sample: name });
        }
        const extra = opts.check === undefined ? (undefined as T) : opts.check(sample, id);
        const values = await prepareFields(sample.fields, name, opts, { ...(sample.baseDir === undefined ? {} : { baseDir: sample.baseDir }), ...(sample.allowOutsideBaseDir === true ? { allowOutsideBaseDir: true } : {}) });
        results[index] = { ok: true, value: { id, index, values, extra } };
      } catch (err) {
        const error = isMmfuseError(err) ? err : new InvalidInputError(`could not prepare: ${err instanceof Error ? err.message : String(err)}`, { sample: name, cause: err });
        results[index] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, worker));
  return results;
}

/**
 * Prepare labeled data (training, evaluation): the refused samples become `SkippedSample` reports (with
 * `file` and the manifest line), passed to `onSkip` in order.
 */
export async function prepareSamples<T>(samples: readonly Sample[], opts: PrepareInputsOptions & { check?: (s: Sample, id: string) => T; onSkip?: (s: SkippedSample) => void; file?: string }): Promise<{ prepared: PreparedSample<T>[]; skipped: SkippedSample[] }> {
  const outcomes = await prepareAll(samples, opts);
  const prepared: PreparedSample<T>[] = [];
  const skipped: SkippedSample[] = [];
  outcomes.forEach((o, index) => {
    if (o.ok) { prepared.push(o.value); return; }
    const s = skippedFromError(o.error, { file: opts.file ?? '(input)', line: samples[index]?.line ?? index + 1 });
    skipped.push(s);
    opts.onSkip?.(s);
  });
  return { prepared, skipped };
}
