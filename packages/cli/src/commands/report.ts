/** `mmfuse report MODEL_DIR [MODEL_DIR...] [--out FILE] [--json]`: trained runs compared side by side. */
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { IoError, ModelFormatError, UsageError } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { renderComparison } from '../report.js';
import type { ComparedRun } from '../report.js';
import { fromCwd, logger } from './common.js';

/** A run from its model folder's run.json (written by `mmfuse train`). */
async function readRun(dir: string): Promise<ComparedRun> {
  const file = path.join(dir, 'run.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelFormatError(`${dir} has no run.json: give model folders written by "mmfuse train"`, { file, cause: err });
    throw new IoError(`cannot read run.json: ${(err as Error).message}`, { file, cause: err });
  }
  let run: Record<string, unknown>;
  try {
    run = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ModelFormatError(`run.json is not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  if (!Array.isArray(run.evaluations)) throw new ModelFormatError('run.json has no "evaluations" list', { file });
  const facts: Array<[string, string]> = [];
  for (const [key, label] of [['configFile', 'config'], ['engine', 'engine'], ['trainSamples', 'training samples'], ['epochs', 'epochs run'], ['bestEpoch', 'best epoch'], ['seconds', 'duration (s)'], ['finishedAt', 'finished']] as const) {
    const v = run[key];
    if (v !== undefined) facts.push([label, typeof v === 'number' && key === 'seconds' ? v.toFixed(1) : String(v)]);
  }
  return {
    name: path.basename(dir),
    // Runs trained before run.json kept curves have none to draw; their scores still compare.
    history: Array.isArray(run.history) ? run.history as ComparedRun['history'] : [],
    ...(typeof run.bestEpoch === 'number' ? { bestEpoch: run.bestEpoch } : {}),
    evaluations: run.evaluations as ComparedRun['evaluations'],
    facts,
  };
}

export async function runReport(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'report');
  const dirs = [args.positionals.MODEL_DIR as string, ...(args.rest ?? [])].map((d) => fromCwd(io, d).replace(/[\\/]+$/, ''));
  const runs = await Promise.all(dirs.map(readRun));
  const names = runs.map((r) => r.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    // Same folder name from different parents: name them by their relative path instead.
    runs.forEach((r, i) => { r.name = path.relative(io.cwd, dirs[i] as string) || r.name; });
    if (new Set(runs.map((r) => r.name)).size < runs.length) throw new UsageError(`${twice} is given twice`, { command: 'report' });
  }
  const out = fromCwd(io, (args.options.out as string | undefined) ?? 'mmfuse-compare.html');
  await writeFile(out, renderComparison(`mmfuse runs: ${runs.map((r) => r.name).join(' vs ')}`, runs));
  log(`wrote ${out}`);
  const json = { report: out, runs: runs.map((r) => ({ name: r.name, bestEpoch: r.bestEpoch ?? null, epochs: r.history.length, evaluations: r.evaluations.map(({ name, n, accuracy, macroF1 }) => ({ name, n, accuracy, macroF1 })) })) };
  const human = [`report: ${out}`, ...runs.flatMap((r) => r.evaluations.map((e) => `${r.name} ${e.name}: accuracy ${e.accuracy.toFixed(4)}, macro F1 ${e.macroF1.toFixed(4)} (n ${e.n})`))].join('\n');
  return { json, human };
}
