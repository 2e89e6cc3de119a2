/** `mmfuse inspect DIR [--json]`: config, labels, metrics, engine, size of a model folder. */
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFormatError } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import { loadModel, loadPlugins, startEngine } from '../internal/model.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { fromCwd, logger, pluginArgs } from './common.js';

async function readJsonIfPresent(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelFormatError(`cannot read ${path.basename(file)}: ${(err as Error).message}`, { file, cause: err });
  }
}

export async function runInspect(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'inspect');
  const dir = fromCwd(io, args.positionals.DIR as string);
  const engine = await startEngine(log);
  // Loading checks the folder's integrity (hashes, weight shapes), so inspect also validates it.
  await loadPlugins(pluginArgs(args, io), log);
  const model = await loadModel(dir);
  try {
    const files: Record<string, number> = {};
    let sizeBytes = 0;
    for (const name of (await readdir(dir)).sort()) {
      const st = await stat(path.join(dir, name));
      if (!st.isFile()) continue;
      files[name] = st.size;
      sizeBytes += st.size;
    }
    const modelFile = (await readJsonIfPresent(path.join(dir, 'model.json'))) as Record<string, unknown> | undefined;
    const metrics = await readJsonIfPresent(path.join(dir, 'metrics.json'));
    const run = await readJsonIfPresent(path.join(dir, 'run.json'));
    const summary = model.summary();
    const trainedWith = (run as { engine?: string } | undefined)?.engine ?? null;
    const json: Record<string, unknown> = {
      dir,
      format: modelFile ? { name: modelFile.format, version: modelFile.version, createdAt: modelFile.createdAt } : undefined,
      config: model.config,
      labels: model.labels,
      summary,
      metrics: metrics ?? null,
      run: run ?? null,
      engine: { now: engine.engine, trainedWith },
      sizeBytes,
      files,
    };
    const inputs = Object.entries(model.config.inputs).map(([f, i]) => `${f} (${i.type}, ${i.encoder.kind})`).join(', ');
    const fusion = model.config.fusion as Record<string, unknown>;
    const human = [
      `model:   ${dir}`,
      `inputs:  ${inputs}`,
      `fusion:  ${fusion.strategy}, dModel ${fusion.dModel}, layers ${fusion.layers}, heads ${fusion.heads}`,
      `output:  ${model.config.output.field} (${model.config.output.type})`,
      `labels:  ${model.labels.join(', ') || '(regression)'}`,
      ...((summary.ensemble ?? 1) > 1 ? [`members: ${summary.ensemble} (an ensemble: it answers with the mean of their logits; params counts every member)`] : []),
      `params:  ${String(summary.parameters)}`,
      `engine:  ${engine.engine} (now)${trainedWith !== null ? `, trained with ${trainedWith}` : ''}`,
      `size:    ${sizeBytes} bytes in ${Object.keys(files).length} files (${Object.keys(files).join(', ')})`,
    ];
    const evals = (run as { evaluations?: Array<{ name: string; accuracy: number; macroF1: number; n: number }> } | undefined)?.evaluations ?? [];
    for (const e of evals) human.push(`metrics: ${e.name}: accuracy ${e.accuracy.toFixed(4)}, macro F1 ${e.macroF1.toFixed(4)} (n ${e.n})`);
    return { json, human: human.join('\n') };
  } finally {
    model.dispose();
  }
}
