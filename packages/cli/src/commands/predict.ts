/**
 * `mmfuse predict --model DIR [--text T] [--audio FILE] [--image FILE] [--input FIELD=VALUE] [--json]`, or
 * `--data MANIFEST` for one JSON line per sample.
 */
import * as path from 'node:path';
import { InternalError, UsageError, createRecord, readManifest } from '@mmfuse/core';
import type { ManifestSample, MmfuseError, RawInputKind, SkippedSample } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import { loadPlugins, manifestFields, startEngine } from '../internal/model.js';
import { isOnnxFile, loadModelFor } from '../internal/runtime.js';
import type { FusionModelApi, Prediction } from '../internal/model.js';
import { predictSpec } from './specs.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { describeSkipped, fromCwd, logger, round, skippedJson, pluginArgs } from './common.js';
import { redisUrlOf } from '../distributed/setup.js';

/** Samples predicted per model call with --data. */
const CHUNK = 64;

function parseJsonOr(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** A command-line value as the input's raw kind reads it. */
function fromCommandLine(kind: RawInputKind, value: string, io: CliIo): unknown {
  switch (kind) {
    // Files given on the command line are relative to the working folder.
    case 'file': return fromCwd(io, value);
    case 'text': return value;
    // JSON as in a manifest, or the string itself when it is not JSON.
    case 'json': return parseJsonOr(value);
    // Base64, as in a manifest (fusion decodes it).
    case 'bytes': return value;
  }
}

/** The modality shortcut options of `predict` (`--text`, ...), from its spec. */
const SHORTCUTS = Object.entries(predictSpec.options).flatMap(([flag, o]) => (o.modality === undefined ? [] : [{ flag, modality: o.modality }]));

/** Map the modality shortcuts (`--text`, ...) and --input FIELD=VALUE (by name) to input fields. */
export function inputFields(model: Pick<FusionModelApi, 'inputs'>, args: ParsedArgs, io: CliIo): Record<string, unknown> {
  const inputs = model.inputs;
  const fields = createRecord<unknown>();
  const set = (field: string, value: string, flag: string): void => {
    const input = inputs.find((i) => i.field === field);
    if (input === undefined) throw new UsageError(`${flag}: this model has no input "${field}"; its inputs are ${inputs.map((i) => i.field).join(', ')}`, { command: 'predict' });
    if (Object.hasOwn(fields, field)) throw new UsageError(`${flag}: input "${field}" is given twice`, { command: 'predict' });
    fields[field] = fromCommandLine(input.input.kind, value, io);
  };
  for (const { flag, modality } of SHORTCUTS) {
    const value = args.options[flag];
    if (typeof value !== 'string') continue;
    const matching = inputs.filter((i) => i.modality === modality).map((i) => i.field);
    if (matching.length === 0) throw new UsageError(`--${flag}: this model has no ${modality} input; its inputs are ${inputs.map((i) => `${i.field} (${i.modality})`).join(', ')}`, { command: 'predict' });
    if (matching.length > 1) throw new UsageError(`--${flag}: this model has several ${modality} inputs (${matching.join(', ')}); use --input FIELD=VALUE`, { command: 'predict' });
    set(matching[0] as string, value, `--${flag}`);
  }
  for (const pair of (args.options.input as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--input expects FIELD=VALUE, got ${JSON.stringify(pair)}`, { command: 'predict' });
    set(pair.slice(0, eq), pair.slice(eq + 1), '--input');
  }
  return fields;
}

/**
 * A prediction error of a manifest line: the error's own JSON, placed at the manifest's line (a data file the
 * error names, e.g. a missing image, is kept as `dataFile`).
 */
export function manifestErrorJson(error: MmfuseError, manifest: string, line: number): Record<string, unknown> {
  const out = error.toJSON();
  if (error.file !== undefined && error.file !== manifest) out.dataFile = error.file;
  return { ...out, file: manifest, line };
}

function predictionJson(p: Prediction): Record<string, unknown> {
  return { ...p, label: p.label, probabilities: p.probabilities, contributions: p.contributions ?? {}, modalitiesUsed: p.modalitiesUsed };
}

/** Labels printed by default: enough to see the runners-up, few enough to read at 77 classes. */
const DEFAULT_TOP = 5;

/** A prediction for people: the label, the `top` most probable labels (all when `top` is undefined), contributions. */
export function predictionText(p: Prediction, top?: number): string {
  const lines = [`label: ${Array.isArray(p.label) ? p.label.join(', ') : String(p.label)}`];
  if (p.probabilities !== undefined && !Array.isArray(p.probabilities)) {
    const sorted = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]);
    const shown = top === undefined ? sorted : sorted.slice(0, top);
    const rest = sorted.length - shown.length;
    lines.push(rest > 0 ? `probabilities (top ${shown.length} of ${sorted.length}; --all for every label):` : 'probabilities:', ...shown.map(([l, v]) => `  ${l}: ${round(v)}`));
  }
  if (p.contributions !== undefined) {
    lines.push('contributions:', ...Object.entries(p.contributions).map(([f, v]) => `  ${f}: ${round(v)}`));
  }
  if (p.outOfScope !== undefined) lines.push(`out of scope: ${p.outOfScope ? 'yes (no label fits well enough)' : 'no'}`);
  if (p.modalitiesUsed !== undefined) lines.push(`modalities used: ${p.modalitiesUsed.join(', ')}`);
  for (const [field, heard] of Object.entries(p.heard ?? {})) lines.push(`heard (${field}): ${heard === '' ? '(nothing)' : heard}`);
  return lines.join('\n');
}

export async function runPredict(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'predict');
  const single = [...SHORTCUTS.map((s) => `--${s.flag}`), '--input'];
  const hasSingle = single.some((k) => args.options[k.slice(2)] !== undefined);
  const data = args.options.data as string | undefined;
  if (data !== undefined && hasSingle) throw new UsageError(`--data predicts a manifest; do not combine it with ${single.slice(0, -1).join(', ')} or --input`, { command: 'predict' });
  if (data === undefined && !hasSingle) throw new UsageError(`give at least one input (${single.join(', ')} FIELD=VALUE) or --data MANIFEST`, { command: 'predict' });
  // --redis / MMFUSE_REDIS_URL with --data: workers predict with the TensorFlow.js runtime from the model folder.
  const redis = data === undefined ? undefined : redisUrlOf(args);
  if (redis !== undefined && (args.options.runtime === 'onnx' || args.options.threads !== undefined || isOnnxFile(fromCwd(io, args.options.model as string)))) {
    throw new UsageError('--redis (or MMFUSE_REDIS_URL) predicts on workers, which run a model folder on the TensorFlow.js runtime; --runtime onnx, --threads and .onnx files run in this process only: drop --redis (or unset MMFUSE_REDIS_URL)', { command: 'predict' });
  }
  await startEngine(log);
  await loadPlugins(pluginArgs(args, io), log);
  const model = await loadModelFor(args, io, 'predict', log);
  const oos = args.options['oos-threshold'] === undefined ? {} : { outOfScopeThreshold: args.options['oos-threshold'] as number };
  try {
    if (data === undefined) {
      const fields = inputFields(model, args, io);
      // Errors name the sample "command line" (the values came from the options), not an index.
      const p = await model.predict(fields, { contributions: true, sampleId: 'command line', ...oos });
      return { json: predictionJson(p), human: predictionText(p, args.options.all === true ? undefined : (args.options.top as number | undefined) ?? DEFAULT_TOP) };
    }
    // --redis / MMFUSE_REDIS_URL: the same chunks, predicted on workers (distributed/predict-remote.ts).
    if (redis !== undefined) {
      if (oos.outOfScopeThreshold !== undefined) throw new UsageError('--oos-threshold is not passed to --redis workers yet; leave one of them out', { command: 'predict' });
      const { predictManifestRemote } = await import('../distributed/predict-remote.js');
      return await predictManifestRemote({ model, modelDir: fromCwd(io, args.options.model as string), manifest: fromCwd(io, data), redis, plugins: pluginArgs(args, io), io, log });
    }
    return await predictManifest(model, fromCwd(io, data), io, log, oos);
  } finally {
    model.dispose();
  }
}

/** A manifest line, in order: a sample to predict, or a line the reader refused. */
export type ManifestEntry = { sample: ManifestSample } | { bad: SkippedSample };

/**
 * The manifest's lines in chunks of `CHUNK` entries (samples and refused lines, in order): the batches a
 * local run predicts, and the jobs a distributed run hands out, so both make the same model calls.
 */
export async function* manifestChunks(model: Pick<FusionModelApi, 'config' | 'inputs'>, manifest: string): AsyncGenerator<ManifestEntry[]> {
  const pending: ManifestEntry[] = [];
  for await (const sample of readManifest(manifest, { fields: manifestFields(model, false), onError: 'skip', onSkip: (bad) => { pending.push({ bad }); } })) {
    pending.push({ sample });
    if (pending.length >= CHUNK) yield pending.splice(0);
  }
  if (pending.length > 0) yield pending.splice(0);
}

/**
 * Predict one chunk and write one JSON line per entry to `io.stdout`, in order: a prediction, or
 * `{ id, line, error }` for a bad sample (also logged). Local runs and distributed workers both call it.
 */
export async function predictEntries(model: Pick<FusionModelApi, 'predictBatch'>, entries: readonly ManifestEntry[], manifest: string, io: Pick<CliIo, 'stdout'>, log: (line: string) => void, oos: { outOfScopeThreshold?: number } = {}): Promise<{ n: number; failed: number }> {
  let failed = 0;
  const fail = (s: SkippedSample): void => {
    failed++;
    log(describeSkipped(s, manifest));
    io.stdout(`${JSON.stringify({ ...(s.sample !== undefined ? { id: s.sample } : {}), line: s.line, error: skippedJson(s, manifest) })}\n`);
  };
  const samples = entries.flatMap((p) => ('sample' in p ? [p.sample] : []));
  const outcomes = samples.length > 0 ? await model.predictBatch(samples.map((s) => s.fields), { contributions: true, sampleIds: samples.map((s) => s.id), ...oos }) : [];
  let k = 0;
  for (const p of entries) {
    if ('bad' in p) { fail(p.bad); continue; }
    const s = p.sample;
    const o = outcomes[k++];
    if (o === undefined || !o.ok) {
      failed++;
      const error = o?.error ?? new InternalError('no prediction returned', { sample: s.id });
      log(`skipped ${path.basename(manifest)}:${s.line}${error.field !== undefined ? ` field "${error.field}"` : ''}: ${error.reason}`);
      io.stdout(`${JSON.stringify({ id: s.id, line: s.line, error: manifestErrorJson(error, manifest, s.line) })}\n`);
    } else {
      io.stdout(`${JSON.stringify({ id: s.id, line: s.line, ...predictionJson(o.value) })}\n`);
    }
  }
  return { n: entries.length, failed };
}

/**
 * One JSON line per manifest line, in order: a prediction, or `{ id, line, error }` for a bad sample.
 * Streams: at most one chunk of samples is held, so a manifest of any length runs in bounded memory.
 */
async function predictManifest(model: FusionModelApi, manifest: string, io: CliIo, log: (line: string) => void, oos: { outOfScopeThreshold?: number } = {}): Promise<CommandResult> {
  let n = 0;
  let failed = 0;
  for await (const chunk of manifestChunks(model, manifest)) {
    const r = await predictEntries(model, chunk, manifest, io, log, oos);
    n += r.n;
    failed += r.failed;
  }
  log(`predicted ${n - failed} of ${n} samples${failed > 0 ? `; ${failed} failed` : ''}`);
  return { json: { n, predicted: n - failed, failed }, human: '' };
}
