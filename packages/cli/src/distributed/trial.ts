/**
 * One trial of a hyperparameter search: the config file with the trial's values set at their key paths,
 * trained on its `data.train` (validated on `data.validation` or the held-out split), its model saved in
 * the trial's folder. With ASHA, a training callback records the trial's best metric at each rung in the
 * search's shared table and stops the run when the trial is not among the best there (`run.stop`, which
 * keeps the best validation weights, as early stopping does).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, StateError } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { trainFromManifest } from '@mmfuse/fusion';
import type { EpochMetrics, TrainingCallback, TrainingRun } from '@mmfuse/fusion';
import { AshaRungs, applyParams } from '@mmfuse/distributed';
import type { JobContext } from '@mmfuse/distributed';
import { normalizeModelPart, readCliConfig } from '../internal/config-file.js';
import type { TrialJob, TrialResult } from './job-types.js';

export interface TrialEnvironment {
  name: string;
  log: (line: string) => void;
  quiet: () => void;
  checkPlugins: (plugins: readonly string[]) => void;
  loadPluginsOnce: (plugins: readonly string[]) => Promise<void>;
}

/** The model config of a trial: the file's model part with the values set, and the epoch budget. */
export function trialModelConfig(model: JsonObject, params: TrialJob['params'], maxEpochs: number): JsonObject {
  const withParams = applyParams(model, params);
  const training = (withParams.training ?? {}) as JsonObject;
  return { ...withParams, training: { ...training, epochs: maxEpochs } };
}

/** Tracks the trial's best metric per epoch and asks the rungs whether to go on. */
class SearchCallback implements TrainingCallback {
  best: number | undefined;

  constructor(private readonly job: TrialJob, private readonly rungs: AshaRungs | undefined, private readonly log: (line: string) => void) {}

  async onEpochEnd(m: EpochMetrics, run: TrainingRun): Promise<void> {
    const v = m[this.job.metric];
    if (v === undefined || !Number.isFinite(v)) return;
    const maximize = this.job.metric !== 'valLoss';
    this.best = this.best === undefined ? v : maximize ? Math.max(this.best, v) : Math.min(this.best, v);
    const reason = await this.rungs?.afterEpoch(m.epoch, this.best);
    this.log(`trial ${this.job.trial} epoch ${m.epoch}/${this.job.maxEpochs}: ${this.job.metric} ${v.toFixed(4)} (best ${this.best.toFixed(4)})${reason !== undefined ? `; stopped (${reason})` : ''}`);
    if (reason !== undefined) run.stop(reason);
  }
}

export async function runTrial(job: TrialJob, ctx: JobContext, env: TrialEnvironment): Promise<TrialResult> {
  env.checkPlugins(job.plugins);
  const cf = await readCliConfig(job.config);
  await env.loadPluginsOnce(cf.plugins);
  if (cf.data.train === undefined) throw new ConfigError('is required by "mmfuse hyperopt": the training manifest', { file: cf.file, path: 'data.train' });
  // A sampled value the config refuses (e.g. heads that do not divide dModel) fails this trial alone.
  const config = normalizeModelPart(trialModelConfig(cf.model, job.params, job.maxEpochs), cf.file);
  const rungs = job.asha === undefined ? undefined : new AshaRungs({ ...job.asha, maxEpochs: job.maxEpochs, maximize: job.metric !== 'valLoss', table: ctx.shared, search: job.search, trial: String(job.trial) });
  const search = new SearchCallback(job, rungs, ctx.log);
  await mkdir(job.dir, { recursive: true });
  const modelDir = path.join(job.dir, 'model');
  const started = performance.now();
  const { model, history } = await trainFromManifest({
    config,
    train: cf.data.train,
    ...(cf.data.validation !== undefined ? { validation: cf.data.validation } : {}),
    out: modelDir,
    ...(job.cacheDir !== undefined ? { cacheDir: job.cacheDir } : {}),
    callbacks: [search],
    signal: ctx.signal,
    progress: 'none',
    log: (line) => ctx.log(`trial ${job.trial}: ${line}`),
  });
  model.dispose();
  if (history.interrupted) throw new StateError(`trial ${job.trial} was interrupted`);
  if (history.validationSamples === 0 || search.best === undefined) {
    throw new ConfigError(`trial ${job.trial} had no validation samples to score: give data.validation, or at least 10 training samples for training.validationSplit`, { file: cf.file, path: 'data.validation' });
  }
  const epochs = history.epochs;
  const maximize = job.metric !== 'valLoss';
  const bestAt = epochs.reduce((b, m, i) => {
    const v = m[job.metric] ?? Number.NaN;
    const bv = epochs[b]?.[job.metric] ?? Number.NaN;
    return (maximize ? v > bv : v < bv) ? i : b;
  }, 0);
  const at = epochs[bestAt] as EpochMetrics;
  const result: TrialResult = {
    trial: job.trial,
    params: job.params,
    status: history.stopReason?.startsWith('asha') === true ? 'stopped' : 'completed',
    metric: search.best,
    bestEpoch: at.epoch,
    epochs: epochs.length,
    valLossHistory: epochs.map((m) => (m.valLoss !== undefined && Number.isFinite(m.valLoss) ? m.valLoss : null)),
    seconds: (performance.now() - started) / 1000,
    worker: env.name,
    model: modelDir,
    trainSamples: history.trainSamples,
    validationSamples: history.validationSamples,
  };
  if (at.valLoss !== undefined) result.valLoss = at.valLoss;
  if (at.valAccuracy !== undefined) result.valAccuracy = at.valAccuracy;
  if (at.valMacroF1 !== undefined) result.valMacroF1 = at.valMacroF1;
  if (history.stopReason !== undefined) result.stopReason = history.stopReason;
  await writeFile(path.join(job.dir, 'trial.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
