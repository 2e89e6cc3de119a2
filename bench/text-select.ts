/**
 * Selection runs of the recommended text recipe (issue 20): train variants of a text-only config and score
 * them on validation data only — Banking77: a seeded, stratified 15% of train.csv held out (test.csv is never
 * read); the bot: its validation split (`valid.jsonl`, typed messages). Every run is appended as one JSON line
 * to `bench/selection/text-recipe.jsonl` with the load average, so the choice can be checked.
 *
 *   node --conditions=source --import tsx bench/text-select.ts --data banking77|bot --variants FILE.json [--only a,b] [--out FILE]
 *
 * A variants file is a list of `{ name, inputs?, fusion?, training? }`: `inputs` replaces the text inputs
 * (every input reads the manifest field `text`), `fusion` and `training` are merged over the base below.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { holdOut, readBanking77, readBotText, samplesOf } from './text-data.js';
import type { Row } from './text-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Variant {
  name: string;
  inputs?: FusionModelConfig['inputs'];
  fusion?: FusionModelConfig['fusion'];
  training?: FusionModelConfig['training'];
  /** Seeded corrupted copies of each training text added to the training set (`corruptText`). */
  augment?: { copies: number; seed?: number };
}

export const BASE: FusionModelConfig = {
  inputs: { text: { type: 'text', encoder: { kind: 'ngram' } } },
  fusion: { strategy: 'late', dModel: 128, dropout: 0.1, modalityDropout: 0 },
  output: { field: 'intent', type: 'category' },
  training: { epochs: 12, batchSize: 64, learningRate: 5e-3, warmupRatio: 0.05, weightDecay: 0.01, labelSmoothing: 0.1, earlyStoppingPatience: 3, seed: 42 },
};

export function configOf(v: Variant): FusionModelConfig {
  return {
    inputs: v.inputs ?? BASE.inputs,
    fusion: { ...BASE.fusion, ...(v.fusion ?? {}) },
    output: BASE.output,
    training: { ...BASE.training, ...(v.training ?? {}) },
  };
}

export function splits(data: string): { train: Row[]; validation: Row[] } {
  if (data === 'banking77') {
    const { train, heldOut } = holdOut(readBanking77('train'), 0.15, 2020);
    return { train, validation: heldOut };
  }
  if (data === 'bot') return { train: readBotText('train'), validation: readBotText('valid') };
  throw new Error(`--data: banking77 or bot, got ${data}`);
}

function commit(): string {
  try { return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; }
}

async function main(): Promise<void> {
  const { values: opts } = parseArgs({ options: { data: { type: 'string', default: 'banking77' }, variants: { type: 'string' }, only: { type: 'string' }, out: { type: 'string', default: path.join(here, 'selection', 'text-recipe.jsonl') } } });
  if (opts.variants === undefined) throw new Error('--variants FILE.json is required');
  let variants = JSON.parse(readFileSync(opts.variants, 'utf8')) as Variant[];
  if (opts.only !== undefined) { const keep = opts.only.split(','); variants = variants.filter((v) => keep.includes(v.name)); }
  await initEngine();
  const data = opts.data as string;
  const { train, validation } = splits(data);
  mkdirSync(path.dirname(opts.out as string), { recursive: true });
  for (const v of variants) {
    const load0 = loadavg()[0] as number;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let trainRows = train;
    if (v.augment !== undefined) {
      const { augmentRows } = await import('./text-augment.js');
      trainRows = augmentRows(train, v.augment.copies, v.augment.seed ?? 1);
    }
    const model = FusionModel.create(configOf(v));
    const history = await model.fit(samplesOf(trainRows), { validation: samplesOf(validation), progress: 'lines', log: (l) => console.log(`[select] ${v.name}: ${l}`) });
    const trainSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const report = await model.evaluate(samplesOf(validation), { ablation: false });
    const best = history.bestEpoch === undefined ? history.epochs[history.epochs.length - 1] : history.epochs[history.bestEpoch - 1];
    const record = {
      date: new Date().toISOString(), commit: commit(), data, variant: v.name, config: configOf(v), augment: v.augment ?? null,
      train: trainRows.length, validation: validation.length,
      valAccuracy: report.accuracy, valMacroF1: report.macroF1, valLoss: history.ensemble?.validation?.loss ?? best?.valLoss ?? null,
      epochs: history.epochs.length, bestEpoch: history.bestEpoch ?? null, averaged: history.averaged ?? null, ensemble: history.ensemble ?? null, steps: history.steps,
      calibration: (model.state.output?.toJSON() as { calibration?: unknown } | undefined)?.calibration ?? null,
      trainSeconds, trainCpuSeconds: (cpu.user + cpu.system) / 1e6, loadAverage: [load0, loadavg()[0] as number],
      parameters: model.summary().parameters,
    };
    console.log(`[select] ${v.name}: validation accuracy ${(100 * report.accuracy).toFixed(2)}% (loss ${record.valLoss?.toFixed(4)}), ${record.epochs} epochs, ${trainSeconds.toFixed(0)} s (CPU ${record.trainCpuSeconds.toFixed(0)} s), load ${load0.toFixed(1)}`);
    appendFileSync(opts.out as string, `${JSON.stringify(record)}\n`);
    model.dispose();
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => { console.error(err); process.exit(1); });
}
