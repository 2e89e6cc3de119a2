/** `mmfuse eval --model DIR --data MANIFEST [--json]` */
import { InvalidInputError } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import { loadPlugins, readSamples, startEngine, toInputs } from '../internal/model.js';
import type { FusionModelApi } from '../internal/model.js';
import { loadModelFor } from '../internal/runtime.js';
import type { Evaluation } from '../internal/model.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { describeSkipped, fromCwd, logger, round, skippedJson, pluginArgs } from './common.js';

/** Evaluate a loaded model on a manifest; manifest lines and samples that cannot be prepared are skipped and listed. */
export async function evaluateManifest(model: FusionModelApi, manifest: string, log: (line: string) => void): Promise<{ evaluation: Evaluation; skipped: Record<string, unknown>[] }> {
  const { samples, skipped: badLines } = await readSamples(manifest, model, true);
  if (samples.length === 0) {
    for (const s of badLines) log(describeSkipped(s, manifest));
    throw nothingToScore(manifest, badLines);
  }
  const evaluation = await model.evaluate(toInputs(samples), {});
  const skipped = [...badLines, ...evaluation.skipped].sort((a, b) => a.line - b.line);
  for (const s of skipped) log(describeSkipped(s, manifest));
  if (evaluation.n === 0) throw nothingToScore(manifest, skipped);
  return { evaluation, skipped: skipped.map((s) => skippedJson(s, manifest)) };
}

/**
 * An evaluation of no sample is a failure, never `{"n":0,"accuracy":0}`: the manifest is empty, or every
 * line was skipped (each one is listed on stderr; the reason shared by most is named here).
 */
function nothingToScore(manifest: string, skipped: readonly SkippedSample[]): InvalidInputError {
  if (skipped.length === 0) return new InvalidInputError('nothing to score: the manifest has no samples', { file: manifest });
  const counts = new Map<string, number>();
  for (const s of skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  const [reason, count] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  const most = count === skipped.length ? `all: ${reason}` : `most (${count}): ${reason}`;
  return new InvalidInputError(`nothing to score: all ${skipped.length} samples were skipped (${most})`, { file: manifest });
}

/**
 * The ablation as eval reports it: `without.<field>` is the score with that input removed from every sample
 * (the library's `EvaluationReport.ablation` is keyed by the bare field name).
 */
export function ablationJson(a: Evaluation['ablation']): Record<string, NonNullable<Evaluation['ablation']>[string]> | undefined {
  return a === undefined ? undefined : Object.fromEntries(Object.entries(a).map(([field, score]) => [`without.${field}`, score]));
}

export function evaluationText(e: Evaluation, skipped: number): string {
  const tail = skipped > 0 ? `   skipped: ${skipped}` : '';
  const lines = e.regression !== undefined
    ? [`n: ${e.n}   MAE: ${round(e.regression.mae)}   RMSE: ${round(e.regression.rmse)}   R²: ${round(e.regression.r2)}${tail}`]
    : [`n: ${e.n}   accuracy: ${round(e.accuracy)}   macro F1: ${round(e.macroF1)}${tail}`];
  if (e.ece !== undefined) {
    const parts = [`ECE: ${round(e.ece, 3)}${e.eceUncalibrated !== undefined ? ` (uncalibrated ${round(e.eceUncalibrated, 3)})` : ''}`];
    if (e.outOfScope !== undefined) parts.push(`out of scope: ${round(100 * e.outOfScope, 1)}%`);
    lines.push(parts.join('   '));
  }
  for (const [field, a] of Object.entries(e.ablation ?? {})) {
    lines.push(a.regression !== undefined
      ? `without ${field}: MAE ${round(a.regression.mae)} (${signed(a.regression.mae - (e.regression?.mae ?? 0))})`
      : `without ${field}: accuracy ${round(a.accuracy)} (${signed(a.accuracy - e.accuracy)})   macro F1: ${round(a.macroF1)} (${signed(a.macroF1 - e.macroF1)})`);
  }
  const labels = Object.keys(e.perClass ?? {});
  if (labels.length > 0) {
    const w = Math.max(5, ...labels.map((l) => l.length));
    lines.push('', `${'class'.padEnd(w)}  precision  recall  f1      support`);
    for (const l of labels) {
      const s = e.perClass[l]!;
      lines.push(`${l.padEnd(w)}  ${String(round(s.precision, 3)).padEnd(9)}  ${String(round(s.recall, 3)).padEnd(6)}  ${String(round(s.f1, 3)).padEnd(6)}  ${s.support}`);
    }
  }
  return lines.join('\n');
}

function signed(d: number): string {
  return `${d >= 0 ? '+' : '−'}${Math.abs(round(d))}`;
}

export async function runEval(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'eval');
  await startEngine(log);
  await loadPlugins(pluginArgs(args, io), log);
  const model = await loadModelFor(args, io, 'eval', log);
  try {
    const manifest = fromCwd(io, args.options.data as string);
    const { evaluation, skipped } = await evaluateManifest(model, manifest, log);
    const { skipped: _s, ablation, ...rest } = evaluation;
    const json = { ...rest, ...(ablation === undefined ? {} : { ablation: ablationJson(ablation) }), n: evaluation.n, accuracy: evaluation.accuracy, macroF1: evaluation.macroF1, perClass: evaluation.perClass, confusion: evaluation.confusion, skipped };
    return { json, human: evaluationText(evaluation, skipped.length) };
  } finally {
    model.dispose();
  }
}
