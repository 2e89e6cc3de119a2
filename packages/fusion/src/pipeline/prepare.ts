/**
 * Preparation of raw samples: every configured input of every sample goes through its encoder's
 * `prepare` (decode, features, tokenize), with bounded concurrency (file reads and native decoders such
 * as sharp run on libuv's thread pool meanwhile) and the prepared-value cache. A bad value skips its
 * sample, reported through `onSkip`; the other samples go on.
 */
import { InvalidInputError, isMmfuseError, skippedFromError } from '@mmfuse/core';
import type { MmfuseError, ModalityEncoder, SkippedSample } from '@mmfuse/core';
import type { PrepareCache } from './cache.js';

/** One sample: an optional id and its field values (a `ManifestSample` fits). */
export interface Sample {
  id?: string;
  /** Manifest line, for error reports. */
  line?: number;
  fields: Record<string, unknown>;
}

/** Anything that yields samples: an array, a generator, `readManifest(...)`. */
export type SampleSource = Iterable<Sample> | AsyncIterable<Sample>;

/** A prepared sample: `values[m]` is input m's prepared value, undefined when the sample lacks it. */
export interface PreparedSample {
  id: string;
  index: number;
  values: unknown[];
}

export interface PrepareInputsOptions {
  fields: readonly string[];
  encoders: readonly ModalityEncoder[];
  /** Encoder configs, part of the cache key. */
  encoderConfigs: readonly unknown[];
  cache: PrepareCache;
  baseDir?: string;
  /** Label used in skip reports when a sample has no manifest line. Default `(input)`. */
  file?: string;
  /** Samples prepared at once. Default 8. */
  concurrency?: number;
}

export async function collectSamples(source: SampleSource): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of source as AsyncIterable<Sample>) out.push(s);
  return out;
}

/** The error of a non-mmfuse failure inside a plugin, located at the sample and field. */
function asInputError(err: unknown, kind: string, sample: string, field: string): MmfuseError {
  if (isMmfuseError(err)) return err.locate({ sample, field });
  const msg = err instanceof Error ? err.message : String(err);
  return new InvalidInputError(`encoder ${kind} could not prepare this value: ${msg}`, { sample, field, cause: err });
}

/** Prepare the inputs of one sample's fields (an unknown field is ignored). Throws a located MmfuseError. */
export async function prepareFields(fieldsIn: Record<string, unknown>, id: string, opts: PrepareInputsOptions): Promise<unknown[]> {
  const values: unknown[] = [];
  for (let m = 0; m < opts.fields.length; m++) {
    const field = opts.fields[m] as string;
    const raw = fieldsIn[field];
    if (raw === undefined || raw === null) { values.push(undefined); continue; }
    const enc = opts.encoders[m] as ModalityEncoder;
    try {
      const key = await opts.cache.key(raw, { kind: enc.kind, config: opts.encoderConfigs[m], isPath: enc.modality !== 'text', ...(opts.baseDir === undefined ? {} : { baseDir: opts.baseDir }) });
      if (key !== undefined) {
        const got = await opts.cache.get(key);
        if (got.hit) { values.push(got.value); continue; }
      }
      const ctx = opts.baseDir === undefined ? { sample: id, field } : { sample: id, field, baseDir: opts.baseDir };
      const value = await enc.prepare(raw, ctx);
      if (key !== undefined) await opts.cache.set(key, value);
      values.push(value);
    } catch (err) {
      throw asInputError(err, enc.kind, id, field);
    }
  }
  if (values.every((v) => v === undefined)) {
    throw new InvalidInputError(`none of the inputs ${opts.fields.map((f) => `"${f}"`).join(', ')} is present`, { sample: id });
  }
  return values;
}

/**
 * Prepare many samples in order. `check` runs first on each sample (e.g. target parsing) and may throw an
 * MmfuseError to skip it. Returns the prepared samples (with the sample kept for `check`'s result) and the skipped ones.
 */
export async function prepareSamples<T>(samples: readonly Sample[], opts: PrepareInputsOptions & { check?: (s: Sample, id: string) => T; onSkip?: (s: SkippedSample) => void }): Promise<{ prepared: (PreparedSample & { extra: T })[]; skipped: SkippedSample[] }> {
  const results: ((PreparedSample & { extra: T }) | undefined)[] = new Array(samples.length);
  const skipped: { index: number; s: SkippedSample }[] = [];
  let next = 0;
  const file = opts.file ?? '(input)';
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      if (index >= samples.length) return;
      const sample = samples[index] as Sample;
      const id = sample.id ?? String(index);
      try {
        if (typeof sample !== 'object' || sample === null || typeof sample.fields !== 'object' || sample.fields === null) {
          throw new InvalidInputError('a sample must be an object { id?, fields: { ... } }', { sample: id });
        }
        const extra = opts.check === undefined ? (undefined as T) : opts.check(sample, id);
        const values = await prepareFields(sample.fields, id, opts);
        results[index] = { id, index, values, extra };
      } catch (err) {
        const e = isMmfuseError(err) ? err : new InvalidInputError(`could not prepare: ${err instanceof Error ? err.message : String(err)}`, { sample: id, cause: err });
        skipped.push({ index, s: skippedFromError(e, { file, line: sample?.line ?? index + 1 }) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, worker));
  skipped.sort((a, b) => a.index - b.index);
  for (const { s } of skipped) opts.onSkip?.(s);
  return { prepared: results.filter((r): r is PreparedSample & { extra: T } => r !== undefined), skipped: skipped.map((x) => x.s) };
}
