/**
 * `mmfuse hyperopt CONFIG --space SPACE.yaml --trials N [--out DIR] [--parallel N] [--redis URL]`:
 * random configurations from the search space (seeded), each trained as one job, weak ones stopped at the
 * rungs of asynchronous successive halving (ASHA) through a training callback; the trials run in this
 * process one after another, in N child processes, or on workers through Redis. Writes OUT/results.json,
 * OUT/report.html and OUT/best-model (the best trial's model folder; the other trials' models are removed
 * as soon as they are beaten, so the disk holds at most a few).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, UsageError } from '@mmfuse/core';
import type { JsonValue, MmfuseError } from '@mmfuse/core';
import type { JobExecutor, SearchSpace } from '@mmfuse/distributed';
import type { ParsedArgs } from '../internal/args.js';
import { MODEL_KEYS, loadConfig, readCliConfig } from '../internal/config-file.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { loadPlugins, startEngine } from '../internal/model.js';
import { rankTrials, renderSearchReport } from '../distributed/hyperopt-report.js';
import type { TrialRow } from '../distributed/hyperopt-report.js';
import { abortOnSignals } from '../distributed/interrupt.js';
import type { TrialJob, TrialResult } from '../distributed/job-types.js';
import { loadDistributed, openExecutor, redisUrlOf } from '../distributed/setup.js';
import { fromCwd, logger, pluginArgs } from './common.js';

/** A folder the search may write into: absent, or empty; created. */
async function freshFolder(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return []; throw err; });
  if (entries.length > 0) throw new UsageError(`--out ${dir} is not empty; choose a new folder (a search removes the models of the trials it beats inside it)`, { command: 'hyperopt' });
  await mkdir(dir, { recursive: true });
}

/** Remove a trial's model folder: only inside this search's trials folder, and only an mmfuse model. */
async function removeTrialModel(trialsDir: string, modelDir: string): Promise<void> {
  const rel = path.relative(trialsDir, modelDir);
  if (rel.startsWith('..') || path.isAbsolute(rel) || path.basename(modelDir) !== 'model') return;
  try {
    const meta = JSON.parse(await readFile(path.join(modelDir, 'model.json'), 'utf8')) as { format?: string };
    if (meta.format !== 'mmfuse-fusion-model') return;
  } catch {
    return;
  }
  await rm(modelDir, { recursive: true, force: true });
}

/** Check the space's key paths against the config: a model section, an existing input, no epoch count. */
function checkParams(space: SearchSpace, inputs: readonly string[], spaceFile: string): void {
  for (const key of Object.keys(space.params)) {
    const [head, second] = key.split('.');
    if (!(MODEL_KEYS as readonly string[]).includes(head as string)) throw new ConfigError(`a key path starts with one of ${MODEL_KEYS.join(', ')}`, { file: spaceFile, path: `params.${key}` });
    if (head === 'inputs' && !inputs.includes(second as string)) throw new ConfigError(`the config has no input "${second}"; its inputs are ${inputs.join(', ')}`, { file: spaceFile, path: `params.${key}` });
    if (key === 'training.epochs') throw new ConfigError('the epoch budget is not searched: set asha.maxEpochs (default: the config\'s training.epochs)', { file: spaceFile, path: `params.${key}` });
  }
}

export async function runHyperopt(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'hyperopt');
  const started = Date.now();
  const file = fromCwd(io, args.positionals.CONFIG as string);
  const spaceFile = fromCwd(io, args.options.space as string);
  const trials = args.options.trials as number;
  const parallel = args.options.parallel as number | undefined;
  const redis = redisUrlOf(args);
  if (redis !== undefined && parallel !== undefined) throw new UsageError('--parallel is for runs without Redis; with --redis every worker takes trials', { command: 'hyperopt' });
  const out = fromCwd(io, (args.options.out as string | undefined) ?? `hyperopt-${path.basename(file).replace(/\.[^.]+$/, '')}`);
  const plugins = pluginArgs(args, io);
  const d = await loadDistributed();
  // Everything that can be checked without the engine first: the space, the key paths, the output folder.
  const space = await d.readSearchSpace(spaceFile);
  const raw = await readCliConfig(file);
  if (raw.data.train === undefined) throw new ConfigError('is required by "mmfuse hyperopt": the training manifest, relative to the config file', { file: raw.file, path: 'data.train' });
  const rawInputs = raw.model.inputs;
  checkParams(space, typeof rawInputs === 'object' && rawInputs !== null && !Array.isArray(rawInputs) ? Object.keys(rawInputs) : [], spaceFile);
  await freshFolder(out);
  await startEngine(log);
  await loadPlugins([...raw.plugins, ...plugins], log);
  const cli = await loadConfig(file);
  const trialsDir = path.join(out, 'trials');
  const cacheDir = args.options.cache !== undefined ? fromCwd(io, args.options.cache as string) : path.join(out, 'cache');
  const maxEpochs = space.asha.maxEpochs ?? cli.config.training.epochs;
  const maximize = d.maximizes(space.metric);
  const rungs = space.method === 'asha' ? d.ashaRungs({ minEpochs: space.asha.minEpochs, reductionFactor: space.asha.reductionFactor, maxEpochs }) : [];
  const search = randomBytes(6).toString('hex');

  const jobs: TrialJob[] = Array.from({ length: trials }, (_, i) => {
    const baseline = space.includeConfig && i === 0;
    const params: Record<string, JsonValue> = baseline ? {} : d.sampleParams(space, i);
    const job: TrialJob = { config: cli.file, plugins, trial: i + 1, params, search, dir: path.join(trialsDir, `trial-${String(i + 1).padStart(3, '0')}`), cacheDir, maxEpochs, metric: space.metric };
    if (space.method === 'asha') job.asha = { minEpochs: space.asha.minEpochs, reductionFactor: space.asha.reductionFactor };
    return job;
  });

  const { mmfuseHandlers } = await import('../distributed/handlers.js');
  const executor: JobExecutor = await openExecutor({
    ...(redis !== undefined ? { redis } : {}), ...(parallel !== undefined ? { parallel } : {}), plugins, log,
    handlers: () => mmfuseHandlers({ plugins: [...cli.plugins, ...plugins], log }),
  });
  const window = redis !== undefined ? trials : Math.max(1, parallel ?? 1);
  log(`${trials} trials of ${Object.keys(space.params).join(', ')} (${space.method}${rungs.length > 0 ? `, rungs at ${rungs.join(', ')} epochs` : ''}, at most ${maxEpochs} epochs, ${space.metric} ${maximize ? 'maximized' : 'minimized'}) on ${executor.description}; results in ${out}`);

  const rows: TrialRow[] = [];
  const results = new Map<number, TrialResult>();
  let best: TrialResult | undefined;
  const better = (a: TrialResult, b: TrialResult | undefined): boolean => b === undefined || (maximize ? a.metric > b.metric : a.metric < b.metric) || (a.metric === b.metric && a.trial < b.trial);
  const interrupt = abortOnSignals(log);
  try {
    await d.runOrdered(jobs, {
      window,
      signal: interrupt.signal,
      run: async (job) => {
        const outcome = await executor.run<TrialResult>({ kind: 'trial', key: `${search}-trial-${job.trial}`, data: job });
        // Handled as each trial ends (not in trial order): log, keep the best model, drop the others.
        if (outcome.ok) {
          const r = outcome.value;
          results.set(r.trial, r);
          const row: TrialRow = { ...r, ...(space.includeConfig && r.trial === 1 ? { baseline: true } : {}) };
          rows.push(row);
          log(`trial ${r.trial}/${trials}: ${space.metric} ${r.metric.toFixed(4)} (epoch ${r.bestEpoch} of ${r.epochs}${r.status === 'stopped' ? ', stopped by asha' : ''}) in ${r.seconds.toFixed(0)} s on ${r.worker}: ${Object.keys(r.params).length > 0 ? d.describeParams(r.params) : 'the config as written'}`);
          // Decide and record the new best before awaiting anything: trials end concurrently, and a check
          // followed by an await let two of them both beat the same old best, leaving a model behind (and the
          // later, possibly worse, one as "best").
          let beaten: string | undefined;
          if (better(r, best)) {
            beaten = best?.model;
            best = r;
          } else {
            beaten = r.model;
          }
          if (beaten !== undefined) await removeTrialModel(trialsDir, beaten);
        } else {
          const e: MmfuseError = outcome.error;
          rows.push({ trial: job.trial, params: job.params, status: 'failed', error: { code: e.code, message: e.message }, ...(space.includeConfig && job.trial === 1 ? { baseline: true } : {}) });
          log(`trial ${job.trial}/${trials} failed: [${e.code}] ${e.message}`);
        }
        return outcome.ok;
      },
      deliver: () => undefined,
    });
  } finally {
    interrupt.dispose();
    await executor.close();
  }

  let bestModel: string | undefined;
  if (best !== undefined) {
    bestModel = path.join(out, 'best-model');
    await rename(best.model, bestModel);
  }
  const seconds = (Date.now() - started) / 1000;
  const ranked = rankTrials(rows, maximize);
  const baseline = space.includeConfig ? rows.find((r) => r.trial === 1) : undefined;
  const summary = {
    config: cli.file,
    space: spaceFile,
    searchSpace: space,
    method: space.method,
    metric: space.metric,
    maximize,
    maxEpochs,
    rungs,
    executor: executor.description,
    trials: ranked,
    best: best === undefined ? null : { trial: best.trial, params: best.params, metric: best.metric, valLoss: best.valLoss, valAccuracy: best.valAccuracy, bestEpoch: best.bestEpoch, model: bestModel },
    ...(baseline !== undefined ? { baseline: { trial: 1, metric: baseline.metric ?? null, status: baseline.status } } : {}),
    failed: rows.filter((r) => r.status === 'failed').length,
    stopped: rows.filter((r) => r.status === 'stopped').length,
    seconds,
  };
  const resultsFile = path.join(out, 'results.json');
  const reportFile = path.join(out, 'report.html');
  await writeFile(resultsFile, `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(reportFile, renderSearchReport({
    title: `mmfuse hyperparameter search: ${path.basename(file)}`,
    metric: space.metric,
    maximize,
    trials: rows,
    ...(best !== undefined ? { bestTrial: best.trial } : {}),
    facts: [
      ['config', cli.file],
      ['search space', spaceFile],
      ['method', `${space.method}${rungs.length > 0 ? ` (reduction factor ${space.asha.reductionFactor}, rungs at ${rungs.join(', ')} epochs)` : ''}, seed ${space.seed}`],
      ['trials', `${rows.length} (${summary.stopped} stopped early, ${summary.failed} failed)`],
      ['epochs per trial', `at most ${maxEpochs}`],
      ['ran on', executor.description],
      ['best', best === undefined ? 'none' : `trial ${best.trial}: ${space.metric} ${best.metric.toFixed(4)}`],
      ...(baseline !== undefined ? [['the config as written (trial 1)', baseline.metric === undefined ? baseline.status : `${space.metric} ${baseline.metric.toFixed(4)}`] as [string, string]] : []),
      ['duration', `${seconds.toFixed(1)} s`],
    ],
  }));
  log(`wrote ${resultsFile} and ${reportFile}${bestModel !== undefined ? `; best model: ${bestModel}` : ''}`);
  const human = [
    `best: ${best === undefined ? 'none (every trial failed)' : `trial ${best.trial}, ${space.metric} ${best.metric.toFixed(4)}: ${Object.keys(best.params).length > 0 ? d.describeParams(best.params) : 'the config as written'}`}`,
    ...(bestModel !== undefined ? [`model:   ${bestModel}`] : []),
    `results: ${resultsFile}`,
    `report:  ${reportFile}`,
  ].join('\n');
  const json = { out, results: resultsFile, report: reportFile, ...summary };
  return best === undefined ? { json, human, exitCode: 1 } : { json, human };
}
