/** `mmfuse train CONFIG --out DIR [--seed N] [--epochs N] [--json]` */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, InvalidInputError, getEngineInfo, isMmfuseError } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import type { EpochMetrics, FitOptions } from '@mmfuse/fusion';
import type { ParsedArgs } from '../internal/args.js';
import { loadConfig } from '../internal/config-file.js';
import { createModel, readSamples, startEngine, toInputs } from '../internal/model.js';
import type { Evaluation } from '../internal/model.js';
import type { CliIo, CommandResult } from '../main.js';
import { renderReport } from '../report.js';
import type { EpochRecord, ReportEvaluation } from '../report.js';
import { describeSkipped, fromCwd, logger, round, skippedJson } from './common.js';

/** An epoch record from whatever fusion reports: `epoch` plus every finite numeric field. */
export function toEpochRecord(raw: unknown, fallbackEpoch: number): EpochRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const obj = raw as Record<string, unknown>;
  const epoch = typeof obj.epoch === 'number' ? obj.epoch : fallbackEpoch;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k !== 'epoch' && typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
  }
  return { epoch, metrics };
}

/** Epoch records from a returned history: an array of epochs, or an object holding one. */
export function epochsFromHistory(history: unknown): EpochRecord[] {
  const list = Array.isArray(history) ? history
    : typeof history === 'object' && history !== null
      ? Object.values(history as Record<string, unknown>).find((v) => Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && 'epoch' in (v[0] as object))
      : undefined;
  if (!Array.isArray(list)) return [];
  return list.map((e, i) => toEpochRecord(e, i + 1)).filter((e): e is EpochRecord => e !== undefined);
}

function reportEvaluation(name: string, e: Evaluation, skipped: number): ReportEvaluation {
  return { name, n: e.n, accuracy: e.accuracy, macroF1: e.macroF1, perClass: e.perClass ?? {}, confusion: e.confusion ?? { labels: [], matrix: [] }, skipped };
}

export async function runTrain(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'train');
  const started = Date.now();
  const configFile = fromCwd(io, args.positionals.CONFIG as string);
  const out = fromCwd(io, args.options.out as string).replace(/[\\/]+$/, '');
  const overrides: { seed?: number; epochs?: number } = {};
  if (args.options.seed !== undefined) overrides.seed = args.options.seed as number;
  if (args.options.epochs !== undefined) overrides.epochs = args.options.epochs as number;
  const cli = await loadConfig(configFile, overrides);
  const config = cli.config;
  if (cli.data.train === undefined) {
    throw new ConfigError('is required by "mmfuse train": the training manifest, relative to the config file', { file: cli.file, path: 'data.train' });
  }
  const engine = await startEngine(log);
  // Building the encoders checks their options before any data is read.
  let model: ReturnType<typeof createModel>;
  try {
    model = createModel(config);
  } catch (err) {
    throw isMmfuseError(err) ? err.locate({ file: cli.file }) : err;
  }

  try {
    const allSkipped: Array<Record<string, unknown>> = [];
    const report = (set: string, manifest: string) => (s: SkippedSample): void => {
      log(`${set}: ${describeSkipped(s, manifest)}`);
      allSkipped.push({ set, ...skippedJson(s, manifest) });
    };
    const train = await readSamples(cli.data.train, config, true);
    train.skipped.forEach(report('train', cli.data.train));
    if (train.samples.length === 0) throw new InvalidInputError('the training manifest has no usable samples', { file: cli.data.train });
    const validation = cli.data.validation !== undefined ? await readSamples(cli.data.validation, config, true) : undefined;
    if (validation !== undefined && cli.data.validation !== undefined) validation.skipped.forEach(report('validation', cli.data.validation));
    log(`training on ${train.samples.length} samples${validation ? `, validating on ${validation.samples.length}` : ''}; ${config.training.epochs} epochs, batch ${config.training.batchSize}, seed ${config.training.seed}`);

    const history: EpochRecord[] = [];
    const validationIds = new Set((validation?.samples ?? []).map((v) => v.id));
    const fitOptions: FitOptions = {
      onEpoch: (e: EpochMetrics) => { const r = toEpochRecord(e, history.length + 1); if (r !== undefined) history.push(r); },
      log,
      progress: 'lines',
      // fit prepares the validation samples too; tell the two sets apart by sample id.
      onSkip: (sk: SkippedSample) => {
        if (validationIds.has(sk.sample ?? '') && cli.data.validation !== undefined) report('validation', cli.data.validation)(sk);
        else report('train', cli.data.train as string)(sk);
      },
    };
    if (validation !== undefined) fitOptions.validation = toInputs(validation.samples);
    // Ctrl-C / SIGTERM stop training after the current step; the model so far is saved and reported.
    const abort = new AbortController();
    fitOptions.signal = abort.signal;
    const onSignal = (signal: string) => () => { log(`${signal}: stopping after the current step`); abort.abort(); };
    const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
    for (const [signal, handler] of Object.entries(handlers)) process.once(signal, handler);
    let returned: Awaited<ReturnType<typeof model.fit>>;
    try {
      returned = await model.fit(toInputs(train.samples), fitOptions);
    } finally {
      for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
    }
    const epochs = history.length > 0 ? history : epochsFromHistory(returned);
    const trainSamples = returned.trainSamples;
    await model.save(out);
    log(`saved the model to ${out}`);

    const evaluations: Array<{ set: string; manifest: string; evaluation: Evaluation }> = [];
    for (const set of ['validation', 'test'] as const) {
      const manifest = cli.data[set];
      if (manifest === undefined) continue;
      let samples = validation?.samples ?? [];
      let badLines: SkippedSample[] = [];
      if (set === 'test') ({ samples, skipped: badLines } = await readSamples(manifest, config, true));
      const evaluation = await model.evaluate(toInputs(samples), { ablation: false });
      // Validation samples that cannot be prepared were already reported by fit.
      if (set === 'test') [...badLines, ...evaluation.skipped].sort((a, b) => a.line - b.line).forEach(report(set, manifest));
      evaluations.push({ set, manifest, evaluation });
      log(`${set}: accuracy ${round(evaluation.accuracy)}, macro F1 ${round(evaluation.macroF1)} (n ${evaluation.n})`);
    }

    if (evaluations.length === 0) {
      // No held-out manifest: the report still shows a confusion matrix, of the training data (optimistic).
      const evaluation = await model.evaluate(toInputs(train.samples), { ablation: false });
      evaluations.push({ set: 'train', manifest: cli.data.train, evaluation });
      log(`no validation or test manifest; training data: accuracy ${round(evaluation.accuracy)}, macro F1 ${round(evaluation.macroF1)} (n ${evaluation.n})`);
    }

    const seconds = (Date.now() - started) / 1000;
    const reportFile = `${out}.report.html`;
    const engineName = getEngineInfo()?.engine ?? engine.engine;
    const summary = model.summary();
    const evalSummaries = evaluations.map(({ set, manifest, evaluation }) => ({ name: set, manifest, n: evaluation.n, accuracy: evaluation.accuracy, macroF1: evaluation.macroF1 }));
    const html = renderReport({
      title: `mmfuse training report: ${path.basename(out)}`,
      facts: [
        ['config', cli.file],
        ['model folder', out],
        ['engine', engineName],
        ['training samples', String(trainSamples)],
        ['epochs run', `${epochs.length} of ${config.training.epochs}${returned.interrupted ? ' (interrupted)' : returned.stoppedEarly ? ' (stopped early)' : ''}`],
        ['parameters', String(summary.parameters ?? '')],
        ['labels', model.labels.join(', ')],
        ['skipped samples', String(allSkipped.length)],
        ['duration', `${seconds.toFixed(1)} s`],
        ['finished', new Date().toISOString()],
      ],
      history: epochs,
      evaluations: evaluations.map(({ set, manifest, evaluation }) => reportEvaluation(`${set} (${path.basename(manifest)})`, evaluation, evaluation.skipped.length)),
      config,
    });
    await writeFile(reportFile, html);
    // What inspect shows besides the model itself: where it came from and how it scored.
    const run = { configFile: cli.file, engine: engineName, seconds, trainSamples, epochs: epochs.length, skipped: allSkipped.length, evaluations: evalSummaries, finishedAt: new Date().toISOString() };
    await writeFile(path.join(out, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
    log(`wrote the report to ${reportFile}`);

    const json = {
      model: out,
      interrupted: returned.interrupted,
      report: reportFile,
      labels: model.labels,
      trainSamples,
      epochs: epochs.length,
      history: epochs,
      evaluations: evaluations.map(({ set, evaluation }) => ({ set, n: evaluation.n, accuracy: evaluation.accuracy, macroF1: evaluation.macroF1, perClass: evaluation.perClass, confusion: evaluation.confusion })),
      skipped: allSkipped,
      engine: engineName,
      seconds,
    };
    const last = epochs[epochs.length - 1];
    const human = [
      `model:  ${out}`,
      `report: ${reportFile}`,
      `epochs: ${epochs.length}${last ? ` (last: ${Object.entries(last.metrics).map(([k, v]) => `${k} ${round(v)}`).join(', ')})` : ''}`,
      ...evalSummaries.map((e) => `${e.name}: accuracy ${round(e.accuracy)}, macro F1 ${round(e.macroF1)} (n ${e.n})`),
    ].join('\n');
    if (returned.interrupted) {
      log(`training was interrupted after ${epochs.length} of ${config.training.epochs} epochs; the model as trained so far is in ${out}`);
      return { json, human, exitCode: 1 };
    }
    return { json, human };
  } finally {
    model.dispose();
  }
}
