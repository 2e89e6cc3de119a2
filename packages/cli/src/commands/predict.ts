/**
 * `mmfuse predict --model DIR [--text T] [--audio FILE] [--image FILE] [--input FIELD=VALUE] [--json]`, or
 * `--data MANIFEST` for one JSON line per sample.
 */
import { readManifest } from '@mmfuse/core';
import type { ManifestSample, SkippedSample } from '@mmfuse/core';
import { UsageError } from '../internal/args.js';
import type { ParsedArgs } from '../internal/args.js';
import { isBatchError, loadModel, loadPlugins, manifestFields, startEngine } from '../internal/model.js';
import type { FusionModelApi, Prediction } from '../internal/model.js';
import type { CliIo, CommandResult } from '../main.js';
import { describeSkipped, fromCwd, logger, round, skippedJson, pluginArgs } from './common.js';

/** Samples predicted per model call with --data. */
const CHUNK = 64;

function parseJsonOr(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Map --text/--audio/--image (by modality type) and --input FIELD=VALUE (by name) to input fields. */
export function inputFields(model: Pick<FusionModelApi, 'config'>, args: ParsedArgs, io: CliIo): Record<string, unknown> {
  const inputs = model.config.inputs;
  const fields: Record<string, unknown> = {};
  const set = (field: string, value: string, flag: string): void => {
    const type = inputs[field]?.type;
    if (type === undefined) throw new UsageError(`${flag}: this model has no input "${field}"; its inputs are ${Object.keys(inputs).join(', ')}`, 'predict');
    if (field in fields) throw new UsageError(`${flag}: input "${field}" is given twice`, 'predict');
    // Files given on the command line are relative to the working folder; a plugin modality's value is
    // JSON (as in a manifest), or the string itself when it is not JSON.
    fields[field] = type === 'text' ? value : type === 'audio' || type === 'image' ? fromCwd(io, value) : parseJsonOr(value);
  };
  for (const type of ['text', 'audio', 'image'] as const) {
    const value = args.options[type];
    if (typeof value !== 'string') continue;
    const matching = Object.entries(inputs).filter(([, i]) => i.type === type).map(([f]) => f);
    if (matching.length === 0) throw new UsageError(`--${type}: this model has no ${type} input; its inputs are ${Object.entries(inputs).map(([f, i]) => `${f} (${i.type})`).join(', ')}`, 'predict');
    if (matching.length > 1) throw new UsageError(`--${type}: this model has several ${type} inputs (${matching.join(', ')}); use --input FIELD=VALUE`, 'predict');
    set(matching[0] as string, value, `--${type}`);
  }
  for (const pair of (args.options.input as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--input expects FIELD=VALUE, got ${JSON.stringify(pair)}`, 'predict');
    set(pair.slice(0, eq), pair.slice(eq + 1), '--input');
  }
  return fields;
}

function predictionJson(p: Prediction): Record<string, unknown> {
  return { ...p, label: p.label, probabilities: p.probabilities, contributions: p.contributions ?? {}, modalitiesUsed: p.modalitiesUsed };
}

function predictionText(p: Prediction): string {
  const lines = [`label: ${Array.isArray(p.label) ? p.label.join(', ') : String(p.label)}`];
  if (p.probabilities !== undefined && !Array.isArray(p.probabilities)) {
    const sorted = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]);
    lines.push('probabilities:', ...sorted.map(([l, v]) => `  ${l}: ${round(v)}`));
  }
  if (p.contributions !== undefined) {
    lines.push('contributions:', ...Object.entries(p.contributions).map(([f, v]) => `  ${f}: ${round(v)}`));
  }
  if (p.modalitiesUsed !== undefined) lines.push(`modalities used: ${p.modalitiesUsed.join(', ')}`);
  return lines.join('\n');
}

export async function runPredict(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'predict');
  const hasSingle = ['text', 'audio', 'image', 'input'].some((k) => args.options[k] !== undefined);
  const data = args.options.data as string | undefined;
  if (data !== undefined && hasSingle) throw new UsageError('--data predicts a manifest; do not combine it with --text, --audio, --image or --input', 'predict');
  if (data === undefined && !hasSingle) throw new UsageError('give at least one input (--text, --audio, --image, --input FIELD=VALUE) or --data MANIFEST', 'predict');
  await startEngine(log);
  await loadPlugins(pluginArgs(args, io), log);
  const model = await loadModel(fromCwd(io, args.options.model as string));
  try {
    if (data === undefined) {
      const fields = inputFields(model, args, io);
      const p = await model.predict(fields, { contributions: true });
      return { json: predictionJson(p), human: predictionText(p) };
    }
    return await predictManifest(model, fromCwd(io, data), io, log);
  } finally {
    model.dispose();
  }
}

/**
 * One JSON line per manifest line, in order: a prediction, or `{ id, line, error }` for a bad sample.
 * Streams: at most one chunk of samples is held, so a manifest of any length runs in bounded memory.
 */
async function predictManifest(model: FusionModelApi, manifest: string, io: CliIo, log: (line: string) => void): Promise<CommandResult> {
  // Manifest lines in order: a sample to predict, or a line the reader refused.
  const pending: Array<{ sample: ManifestSample } | { bad: SkippedSample }> = [];
  let n = 0;
  let failed = 0;
  const fail = (s: SkippedSample): void => {
    failed++;
    log(describeSkipped(s, manifest));
    io.stdout(`${JSON.stringify({ ...(s.sample !== undefined ? { id: s.sample } : {}), line: s.line, error: skippedJson(s, manifest) })}\n`);
  };
  const flush = async (): Promise<void> => {
    const samples = pending.flatMap((p) => ('sample' in p ? [p.sample] : []));
    const preds = samples.length > 0 ? await model.predictBatch(samples.map((s) => s.fields), { contributions: true }) : [];
    let k = 0;
    for (const p of pending) {
      n++;
      if ('bad' in p) { fail(p.bad); continue; }
      const s = p.sample;
      const pred = preds[k++];
      if (pred === undefined || isBatchError(pred)) {
        const e = pred?.error;
        fail({ file: manifest, line: s.line, sample: s.id, code: e?.code ?? 'INTERNAL', reason: e?.reason ?? 'no prediction returned', message: e?.message ?? '', ...(e?.field !== undefined ? { field: e.field } : {}) });
      } else {
        io.stdout(`${JSON.stringify({ id: s.id, line: s.line, ...predictionJson(pred) })}\n`);
      }
    }
    pending.length = 0;
  };
  for await (const sample of readManifest(manifest, { fields: manifestFields(model.config, false), onError: 'skip', onSkip: (bad) => { pending.push({ bad }); } })) {
    pending.push({ sample });
    if (pending.length >= CHUNK) await flush();
  }
  await flush();
  log(`predicted ${n - failed} of ${n} samples${failed > 0 ? `; ${failed} failed` : ''}`);
  return { json: { n, predicted: n - failed, failed }, human: '' };
}
