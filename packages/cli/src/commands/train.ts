/** `mmfuse train CONFIG --out DIR [--seed N] [--epochs N] [--checkpoint DIR [--resume]] [--json]` */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, InvalidInputError, UsageError, checkOutputTarget, getEngineInfo, isMmfuseError } from '@mmfuse/core';
import type { ManifestSample, SkippedSample } from '@mmfuse/core';
import { checkpointFolderRule, modelFolderRule } from '@mmfuse/fusion';
import type { EpochMetrics, FusionModel, TrainingHistory } from '@mmfuse/fusion';
import type { ParsedArgs } from '../internal/args.js';
import { loadConfig } from '../internal/config-file.js';
import type { LoadedConfig } from '../internal/config-file.js';
import { calibrationLine, createModel, loadPlugins, readSamples, startEngine, toInputs } from '../internal/model.js';
import type { Evaluation } from '../internal/model.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { renderReport, reportFileRule, writeReportFile } from '../report.js';
import type { EpochRecord } from '../report.js';
import { describeSkipped, fromCwd, logger, pluginArgs, progressOptions, round, skippedJson } from './common.js';
import { cacheDirOf, redisUrlOf } from '../distributed/setup.js';

/** A report point from fusion's epoch metrics: every finite number but `epoch`. */
export function toEpochRecord(m: EpochMetrics): EpochRecord {
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (k !== 'epoch' && typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
  return { epoch: m.epoch, metrics };
}

/** The report's lines on an ensemble (`training.ensemble` > 1): its members' runs and its own validation figures. */
function ensembleFacts(history: TrainingHistory, asked: number): Array<[string, string]> {
  const e = history.ensemble;
  if (e === undefined) return [];
  const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(100 * v).toFixed(1)}%`);
  const facts: Array<[string, string]> = [['ensemble', `${e.members.length} of ${asked} members trained; the model answers with the mean of their logits`]];
  e.members.forEach((m, k) => facts.push([`member ${k + 1}`, `seed ${m.seed}, ${m.epochs} epochs${m.stoppedEarly ? ' (stopped early)' : ''}, best epoch ${m.bestEpoch ?? '-'}, validation loss ${m.valLoss?.toFixed(4) ?? '-'}, accuracy ${pct(m.valAccuracy)}`]));
  if (e.validation !== undefined) facts.push(['ensemble validation', `loss ${e.validation.loss.toFixed(4)}, accuracy ${pct(e.validation.accuracy)}`]);
  return facts;
}

/** Collects skipped samples of every set, for stderr, the JSON output and the report. */
class SkipLog {
  readonly entries: Array<Record<string, unknown>> = [];
  constructor(private readonly log: (line: string) => void) {}
  add(set: string, manifest: string, s: SkippedSample): void {
    this.log(`${set}: ${describeSkipped(s, manifest)}`);
    this.entries.push({ set, ...skippedJson(s, manifest) });
  }
}

interface HeldOut { set: 'validation' | 'test' | 'train'; manifest: string; evaluation: Evaluation; contributions?: Record<string, number> }

/** Each input's mean contribution over the samples that have it (predictions with contributions). */
async function meanContributions(model: FusionModel, samples: ManifestSample[]): Promise<Record<string, number>> {
  const sums: Record<string, { total: number; n: number }> = {};
  for (let start = 0; start < samples.length; start += 256) {
    const chunk = samples.slice(start, start + 256);
    const outcomes = await model.predictBatch(chunk.map((s) => s.fields), { contributions: true, sampleIds: chunk.map((s) => s.id ?? s.line) });
    for (const o of outcomes) {
      if (!o.ok) continue;
      for (const [field, v] of Object.entries(o.value.contributions ?? {})) {
        const acc = (sums[field] ??= { total: 0, n: 0 });
        acc.total += v;
        acc.n++;
      }
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([f, { total, n }]) => [f, total / n]));
}

/** Train with fit's abort signal wired to SIGINT / SIGTERM: training stops after the current step. */
async function fitInterruptibly(model: FusionModel, train: ManifestSample[], validation: ManifestSample[] | undefined, cli: LoadedConfig, skips: SkipLog, log: (line: string) => void, checkpoint: { checkpointDir?: string; resume?: boolean; cacheDir?: string }, io: CliIo): Promise<TrainingHistory> {
  const abort = new AbortController();
  const onSignal = (signal: string) => () => { log(`${signal}: stopping after the current step`); abort.abort(); };
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  for (const [signal, handler] of Object.entries(handlers)) process.once(signal, handler);
  // fit prepares the validation samples too; tell the two sets apart by sample id.
  const validationIds = new Set((validation ?? []).map((v) => v.id));
  try {
    return await model.fit(toInputs(train), {
      ...(validation !== undefined ? { validation: toInputs(validation) } : {}),
      signal: abort.signal,
      ...checkpoint,
      log,
      ...progressOptions(io),
      onSkip: (s) => {
        if (validationIds.has(s.sample ?? '') && cli.data.validation !== undefined) skips.add('validation', cli.data.validation, s);
        else skips.add('train', cli.data.train as string, s);
      },
    });
  } finally {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  }
}

/**
 * Score the validation and test manifests; with neither, the training data, so the report always has a
 * confusion matrix (an optimistic one, and labelled as such).
 */
async function evaluateHeldOut(model: FusionModel, cli: LoadedConfig, train: ManifestSample[], validation: ManifestSample[] | undefined, skips: SkipLog, log: (line: string) => void): Promise<HeldOut[]> {
  const out: HeldOut[] = [];
  if (cli.data.validation !== undefined && validation !== undefined) {
    // Validation samples that cannot be prepared were already reported by fit.
    out.push({ set: 'validation', manifest: cli.data.validation, evaluation: await model.evaluate(toInputs(validation), { ablation: false }) });
  }
  if (cli.data.test !== undefined) {
    const test = await readSamples(cli.data.test, model, true);
    const evaluation = await model.evaluate(toInputs(test.samples), { ablation: false });
    for (const s of [...test.skipped, ...evaluation.skipped].sort((a, b) => a.line - b.line)) skips.add('test', cli.data.test, s);
    out.push({ set: 'test', manifest: cli.data.test, evaluation });
  }
  if (out.length === 0) {
    out.push({ set: 'train', manifest: cli.data.train as string, evaluation: await model.evaluate(toInputs(train), { ablation: false }) });
    log('no validation or test manifest; the report scores the training data');
  }
  // What each input brings, on the first scored set: the ablation (scores without each input) and the mean
  // per-input contributions (with more than one input; a single input's ablation says nothing new).
  const first = out[0] as HeldOut;
  if (model.inputs.length > 1) {
    const samples = first.set === 'validation' ? validation ?? [] : first.set === 'train' ? train : (await readSamples(first.manifest, model, true)).samples;
    const withAblation = await model.evaluate(toInputs(samples), {});
    if (withAblation.ablation !== undefined) first.evaluation = { ...first.evaluation, ablation: withAblation.ablation };
    first.contributions = await meanContributions(model, samples);
  }
  for (const h of out) log(`${h.set === 'train' ? 'training data' : h.set}: accuracy ${round(h.evaluation.accuracy)}, macro F1 ${round(h.evaluation.macroF1)} (n ${h.evaluation.n})`);
  return out;
}

/** True when `a` is `b` or inside it. */
function inside(a: string, b: string): boolean {
  const rel = path.relative(b, a);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Every place `train` writes, checked before anything is read or trained: the model folder, its report
 * beside it and the checkpoint folder are each absent, empty or mmfuse's own earlier output (else refused
 * untouched, whatever they hold), writable, and apart from each other.
 */
async function checkOutputs(out: string, report: string, checkpointDir: string | undefined, cwd: string): Promise<void> {
  if (checkpointDir !== undefined && (inside(out, checkpointDir) || inside(checkpointDir, out))) {
    throw new UsageError(`--out ${out} and --checkpoint ${checkpointDir} must be separate folders, neither inside the other`, { command: 'train' });
  }
  await checkOutputTarget(out, modelFolderRule('--out'), { cwd });
  await checkOutputTarget(report, reportFileRule('--out'), { cwd });
  if (checkpointDir !== undefined) await checkOutputTarget(checkpointDir, checkpointFolderRule('--checkpoint'), { cwd });
}

export async function runTrain(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'train');
  const started = Date.now();
  const out = fromCwd(io, args.options.out as string);
  const reportFile = `${out}.report.html`;
  const overrides: { seed?: number; epochs?: number } = {};
  if (args.options.seed !== undefined) overrides.seed = args.options.seed as number;
  if (args.options.epochs !== undefined) overrides.epochs = args.options.epochs as number;
  if (args.options.resume === true && args.options.checkpoint === undefined) throw new UsageError('--resume needs --checkpoint DIR, the folder the interrupted run wrote its checkpoints to', { command: 'train' });
  const checkpoint = args.options.checkpoint === undefined ? {} : { checkpointDir: fromCwd(io, args.options.checkpoint as string), resume: args.options.resume === true };
  await checkOutputs(out, reportFile, checkpoint.checkpointDir, io.cwd);
  // --cache (or MMFUSE_CACHE_DIR): the prepared-input cache `mmfuse prepare` fills; --redis prepares on workers first.
  const cacheDir = cacheDirOf(args, io);
  const redis = redisUrlOf(args);
  if (redis !== undefined && cacheDir === undefined) throw new UsageError('--redis (or MMFUSE_REDIS_URL) prepares the samples on workers into the cache: give --cache DIR (or MMFUSE_CACHE_DIR), a folder every worker can read and write', { command: 'train' });
  const cli = await loadConfig(fromCwd(io, args.positionals.CONFIG as string), overrides);
  const { config } = cli;
  if (cli.data.train === undefined) {
    throw new ConfigError('is required by "mmfuse train": the training manifest, relative to the config file', { file: cli.file, path: 'data.train' });
  }
  await startEngine(log);
  await loadPlugins([...cli.plugins, ...pluginArgs(args, io)], log);
  // Building the encoders checks their options before any data is read.
  let model: FusionModel;
  try {
    model = createModel(config);
  } catch (err) {
    throw isMmfuseError(err) ? err.locate({ file: cli.file }) : err;
  }

  try {
    const skips = new SkipLog(log);
    const train = await readSamples(cli.data.train, model, true);
    for (const s of train.skipped) skips.add('train', cli.data.train, s);
    if (train.samples.length === 0) throw new InvalidInputError('the training manifest has no usable samples', { file: cli.data.train });
    let validation: ManifestSample[] | undefined;
    if (cli.data.validation !== undefined) {
      const read = await readSamples(cli.data.validation, model, true);
      for (const s of read.skipped) skips.add('validation', cli.data.validation, s);
      validation = read.samples;
    }
    log(`training on ${train.samples.length} samples${validation ? `, validating on ${validation.length}` : ''}; ${config.training.epochs} epochs, batch ${config.training.batchSize}, seed ${config.training.seed}`);

    if (redis !== undefined) await (await import('../distributed/prepare-run.js')).prepareForTraining({ cli, cacheDir: cacheDir as string, redis, plugins: pluginArgs(args, io), log });
    const history = await fitInterruptibly(model, train.samples, validation, cli, skips, log, { ...checkpoint, ...(cacheDir !== undefined ? { cacheDir } : {}) }, io);
    const epochs = history.epochs.map(toEpochRecord);
    await model.save(out);
    log(`saved the model to ${out}`);
    const heldOut = await evaluateHeldOut(model, cli, train.samples, validation, skips, log);

    const seconds = (Date.now() - started) / 1000;
    const engine = getEngineInfo()?.engine ?? 'unknown';
    const scores = heldOut.map(({ set, manifest, evaluation: e }) => ({ name: set, manifest, n: e.n, accuracy: e.accuracy, macroF1: e.macroF1 }));
    const status = history.interrupted ? ' (interrupted)' : history.stoppedEarly ? ' (stopped early)' : '';
    await writeReportFile(reportFile, renderReport({
      title: `mmfuse training report: ${path.basename(out)}`,
      facts: [
        ['config', cli.file],
        ['model folder', out],
        ['engine', engine],
        ['training samples', String(history.trainSamples)],
        ...ensembleFacts(history, config.training.ensemble ?? 1),
        [history.ensemble === undefined ? 'epochs run' : 'epochs run (member 1; its curves are below)', `${epochs.length} of ${config.training.epochs}${status}`],
        ['parameters', String(model.summary().parameters)],
        ['labels', model.labels.join(', ')],
        ['skipped samples', String(skips.entries.length)],
        ['duration', `${seconds.toFixed(1)} s`],
        ['finished', new Date().toISOString()],
      ],
      history: epochs,
      ...(history.bestEpoch === undefined ? {} : { bestEpoch: history.bestEpoch }),
      evaluations: heldOut.map(({ set, manifest, evaluation: e, contributions }) => ({
        name: `${set} (${path.basename(manifest)})`, n: e.n, accuracy: e.accuracy, macroF1: e.macroF1, perClass: e.perClass, confusion: e.confusion, skipped: e.skipped.length,
        ...(e.ablation === undefined ? {} : { ablation: e.ablation }), ...(contributions === undefined ? {} : { contributions }),
      })),
      config,
    }), '--out');
    // What inspect shows besides the model itself: where it came from and how it scored.
    // `history`, `bestEpoch` and each evaluation's per-class scores are what `mmfuse report` compares.
    const run = {
      configFile: cli.file, plugins: [...cli.plugins, ...pluginArgs(args, io)], engine, seconds, trainSamples: history.trainSamples, epochs: epochs.length, interrupted: history.interrupted, skipped: skips.entries.length,
      evaluations: heldOut.map(({ set, manifest, evaluation: e }) => ({ name: set, manifest, n: e.n, accuracy: e.accuracy, macroF1: e.macroF1, perClass: e.perClass })),
      history: epochs, ...(history.bestEpoch === undefined ? {} : { bestEpoch: history.bestEpoch }),
      ...(history.ensemble === undefined ? {} : { ensemble: history.ensemble }), finishedAt: new Date().toISOString(),
    };
    await writeFile(path.join(out, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
    log(`wrote the report to ${reportFile}`);

    const json = {
      model: out,
      interrupted: history.interrupted,
      report: reportFile,
      labels: model.labels,
      trainSamples: history.trainSamples,
      epochs: epochs.length,
      history: epochs,
      // An ensemble (training.ensemble): each member's run and the ensemble's validation figures; `history` is member 1's.
      ...(history.ensemble === undefined ? {} : { ensemble: history.ensemble }),
      evaluations: heldOut.map(({ set, evaluation: e }) => ({ set, n: e.n, accuracy: e.accuracy, macroF1: e.macroF1, perClass: e.perClass, confusion: e.confusion })),
      skipped: skips.entries,
      calibration: model.calibration ?? null,
      engine,
      seconds,
    };
    const last = epochs[epochs.length - 1];
    const human = [
      `model:  ${out}`,
      `report: ${reportFile}`,
      `epochs: ${epochs.length}${status}${last ? ` (last: ${Object.entries(last.metrics).map(([k, v]) => `${k} ${round(v)}`).join(', ')})` : ''}`,
      ...scores.map((e) => `${e.name}: accuracy ${round(e.accuracy)}, macro F1 ${round(e.macroF1)} (n ${e.n})`),
      ...(model.calibration === undefined ? [] : [calibrationLine(model.calibration)]),
    ].join('\n');
    if (history.interrupted) {
      const asked = config.training.ensemble ?? 1;
      // An ensemble's epochs above are member 1's: say how many members the saved model holds instead.
      const done = asked > 1 ? `training of the ensemble of ${asked} was interrupted (the model holds ${model.state.members} member(s))` : `training was interrupted after ${epochs.length} of ${config.training.epochs} epochs`;
      log(`${done}; the model as trained so far is in ${out}`);
      return { json, human, exitCode: 1 };
    }
    return { json, human };
  } finally {
    model.dispose();
  }
}
