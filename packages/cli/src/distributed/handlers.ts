/**
 * The jobs an mmfuse worker runs (`mmfuse worker`, child processes of `hyperopt --parallel`, and this
 * process when no Redis is configured): `predict-chunk`, `prepare-chunk`, `trial` and `ping`. Workers keep
 * nothing but caches: loaded models (each checked against the coordinator's model.json hash, and verified
 * by its checksums when loaded) and built encoders per config file.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, ModelFormatError, skippedFromError } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { PrepareCache, prepareAll } from '@mmfuse/fusion';
import type { FusionModel } from '@mmfuse/fusion';
import { fieldsFromWire } from '@mmfuse/distributed';
import type { JobContext, JobHandlers } from '@mmfuse/distributed';
import { predictEntries } from '../commands/predict.js';
import { loadConfig, readCliConfig } from '../internal/config-file.js';
import { createModel, loadModel, loadPlugins } from '../internal/model.js';
import { entryFromWire } from './job-types.js';
import type { PredictChunkJob, PredictChunkResult, PrepareChunkJob, PrepareChunkResult, TrialJob } from './job-types.js';
import { runTrial } from './trial.js';

/** sha256 of a file, hex. */
export async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

interface CachedModel { sha: string; model: FusionModel; users: number; stale: boolean }

/** Loaded model folders, at most `max`, each identified by the hash of its model.json. */
class ModelCache {
  private readonly entries = new Map<string, Promise<CachedModel>>();
  constructor(private readonly max = 2) {}

  /** Use the model in `dir` whose model.json hashes to `sha` for the duration of `use`. */
  async with<T>(dir: string, sha: string, use: (model: FusionModel) => Promise<T>): Promise<T> {
    let entry = await this.entries.get(dir)?.catch(() => undefined);
    if (entry === undefined || entry.sha !== sha) {
      if (entry !== undefined) this.retire(dir, entry);
      const loading = this.load(dir);
      this.entries.set(dir, loading);
      entry = await loading.catch((err: unknown) => { this.entries.delete(dir); throw err; });
      this.evict(dir);
    }
    if (entry.sha !== sha) {
      throw new ModelFormatError(`the model folder on this worker (${os.hostname()}) is not the coordinator's: model.json sha256 ${entry.sha.slice(0, 12)}… here, ${sha.slice(0, 12)}… there; every worker must read the same folder (shared storage, not a copy being replaced)`, { file: dir });
    }
    entry.users++;
    try {
      return await use(entry.model);
    } finally {
      entry.users--;
      if (entry.stale && entry.users === 0) entry.model.dispose();
    }
  }

  /** Load and verify (FusionModel.load checks every checksum), with the hash of the model.json it read. */
  private async load(dir: string): Promise<CachedModel> {
    for (let tries = 0; ; tries++) {
      const before = await sha256File(path.join(dir, 'model.json')).catch(() => undefined);
      const model = await loadModel(dir);
      const after = await sha256File(path.join(dir, 'model.json'));
      if (before === after || tries >= 2) return { sha: after, model, users: 0, stale: false };
      model.dispose(); // replaced while loading: again
    }
  }

  private retire(dir: string, entry: CachedModel): void {
    this.entries.delete(dir);
    entry.stale = true;
    if (entry.users === 0) entry.model.dispose();
  }

  private evict(keep: string): void {
    for (const dir of this.entries.keys()) {
      if (this.entries.size <= this.max) return;
      if (dir === keep) continue;
      const p = this.entries.get(dir) as Promise<CachedModel>;
      this.entries.delete(dir);
      void p.then((e) => { e.stale = true; if (e.users === 0) e.model.dispose(); }, () => undefined);
    }
  }
}

export interface HandlerOptions {
  /** The `--plugin` modules this process loaded (absolute paths or package names). */
  plugins: readonly string[];
  log: (line: string) => void;
  /** Name in results (trial tables). Default `<host>-<pid>`. */
  name?: string;
}

/** The handlers of every mmfuse job kind. */
export function mmfuseHandlers(options: HandlerOptions): JobHandlers {
  const models = new ModelCache();
  const loadedPlugins = new Set(options.plugins);
  const name = options.name ?? `${os.hostname()}-${process.pid}`;
  const quiet = (): void => undefined;
  const prepared = new Map<string, Promise<FusionModel>>();

  /** A job's command-line plugins must be this worker's: a worker never imports code a job names. */
  const checkPlugins = (wanted: readonly string[]): void => {
    const missing = wanted.filter((p) => !loadedPlugins.has(p));
    if (missing.length > 0) throw new ConfigError(`this worker was not started with ${missing.map((p) => `--plugin ${p}`).join(' ')}; start the workers with the plugins the command uses`, { path: 'plugins' });
  };

  /** The untrained model (its encoders) of a config file, rebuilt when the file changes. */
  const encodersOf = async (file: string): Promise<FusionModel> => {
    const st = await stat(file).catch((err: unknown) => { throw new ConfigError(`config file is not readable on this worker (${os.hostname()}): ${(err as Error).message}`, { file, cause: err }); });
    const key = `${file}\0${st.mtimeMs}\0${st.size}`;
    let model = prepared.get(key);
    if (model === undefined) {
      model = (async () => {
        const cf = await readCliConfig(file);
        const fresh = cf.plugins.filter((p) => !loadedPlugins.has(p));
        await loadPlugins(fresh, options.log);
        for (const p of fresh) loadedPlugins.add(p);
        return createModel((await loadConfig(file)).config);
      })();
      for (const [k, old] of prepared) if (k.startsWith(`${file}\0`)) { prepared.delete(k); void old.then((m) => m.dispose(), () => undefined); }
      prepared.set(key, model);
      model.catch(() => prepared.delete(key));
    }
    return model;
  };

  return {
    ping: async (data: unknown) => ({ worker: name, pid: process.pid, echo: data }),

    'predict-chunk': async (job: PredictChunkJob, ctx: JobContext): Promise<PredictChunkResult> => {
      checkPlugins(job.plugins);
      const entries = job.entries.map((e) => entryFromWire(e, fieldsFromWire));
      return models.with(job.model, job.modelSha256, async (model) => {
        let text = '';
        const logs: string[] = [];
        const r = await predictEntries(model, entries, job.manifest, { stdout: (t) => { text += t; } }, (line) => logs.push(line));
        ctx.log(`predicted ${r.n - r.failed} of ${r.n} samples of ${path.basename(job.manifest)}`);
        return { text, logs, ...r };
      });
    },

    'prepare-chunk': async (job: PrepareChunkJob): Promise<PrepareChunkResult> => {
      checkPlugins(job.plugins);
      const model = await encodersOf(job.config);
      const s = model.state;
      const outField = s.config.output.field;
      const entries = job.entries.map((e) => entryFromWire(e, fieldsFromWire));
      const samples = entries.flatMap((e) => ('sample' in e ? [e.sample] : []));
      // A cache per job: values are written to disk, not held by a long-lived worker.
      const cache = new PrepareCache(job.cacheDir);
      // The calls `fit` makes on the training set (same keys, same checks, target parsed), so `train` hits.
      const outcomes = await prepareAll(samples, { ...s.prepareOptions(cache), check: (sample, id) => s.target(sample.fields[outField], id) });
      const skipped: SkippedSample[] = [];
      let k = 0;
      for (const e of entries) {
        if ('bad' in e) { skipped.push(e.bad); continue; }
        const o = outcomes[k++];
        if (o !== undefined && !o.ok) skipped.push(skippedFromError(o.error, { file: job.manifest, line: e.sample.line }));
      }
      return { samples: entries.length, prepared: outcomes.filter((o) => o.ok).length, skipped, cache: { diskHits: cache.stats.diskHits, misses: cache.stats.misses, writes: cache.stats.writes } };
    },

    trial: async (job: TrialJob, ctx: JobContext) => runTrial(job, ctx, { name, log: options.log, quiet, checkPlugins, loadPluginsOnce: async (specs) => {
      const fresh = specs.filter((p) => !loadedPlugins.has(p));
      await loadPlugins(fresh, options.log);
      for (const p of fresh) loadedPlugins.add(p);
    } }),
  };
}
