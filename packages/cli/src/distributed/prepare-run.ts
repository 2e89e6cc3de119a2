/**
 * Preparation of a config's manifests into the on-disk cache, as chunk jobs on an executor (workers through
 * Redis, or this process): each manifest is read here as `mmfuse train` reads it, cut into chunks, and
 * every chunk is prepared with the calls `fit` makes, so `mmfuse train --cache DIR` then finds every
 * sample. Refused lines and samples come back in manifest order and are reported as `train` reports them.
 */
import { readManifest } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { manifestFields } from '@mmfuse/fusion';
import type { JobExecutor } from '@mmfuse/distributed';
import type { LoadedConfig } from '../internal/config-file.js';
import type { ManifestEntry } from '../commands/predict.js';
import { entryToWire } from './job-types.js';
import type { PrepareChunkJob, PrepareChunkResult } from './job-types.js';
import type { DistributedModule } from './setup.js';

/** Samples per prepare job. */
const CHUNK = 64;

export type SetName = 'train' | 'validation' | 'test';

export interface SetSummary { set: SetName; manifest: string; samples: number; prepared: number; skipped: number }

export interface PrepareRunResult {
  sets: SetSummary[];
  /** Every refused line or sample, per set in manifest order. */
  skipped: Array<{ set: SetName; manifest: string; sample: SkippedSample }>;
  cache: { diskHits: number; misses: number; writes: number };
  failedJobs: number;
}

export interface PrepareRunOptions {
  d: DistributedModule;
  executor: JobExecutor;
  cli: LoadedConfig;
  sets: readonly SetName[];
  cacheDir: string;
  /** Plugins of the command line (the config's own travel in the config file). */
  plugins: string[];
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Called once per refused line or sample, in order. */
  onSkip?: (set: SetName, manifest: string, s: SkippedSample) => void;
  /** Show a progress bar / lines. Default true. */
  progress?: boolean;
}

async function* chunksOf(file: string, cli: LoadedConfig): AsyncGenerator<ManifestEntry[]> {
  const pending: ManifestEntry[] = [];
  const fields = manifestFields(cli.config, { withTarget: true });
  for await (const sample of readManifest(file, { fields, required: [cli.config.output.field], onError: 'skip', onSkip: (bad) => { pending.push({ bad }); } })) {
    pending.push({ sample });
    if (pending.length >= CHUNK) yield pending.splice(0);
  }
  if (pending.length > 0) yield pending.splice(0);
}

export async function prepareSets(o: PrepareRunOptions): Promise<PrepareRunResult> {
  const result: PrepareRunResult = { sets: [], skipped: [], cache: { diskHits: 0, misses: 0, writes: 0 }, failedJobs: 0 };
  let key = 0;
  for (const set of o.sets) {
    const manifest = o.cli.data[set];
    if (manifest === undefined) continue;
    const summary: SetSummary = { set, manifest, samples: 0, prepared: 0, skipped: 0 };
    const total = await o.d.countLines(manifest);
    const progress = new o.d.FanOutProgress({ unit: `${set} samples`, total: /\.(csv|tsv)$/i.test(manifest) ? Math.max(0, total - 1) : total, log: o.log, mode: o.progress === false ? 'none' : 'auto' });
    await o.d.runOrdered(chunksOf(manifest, o.cli), {
      window: 16,
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      run: (chunk) => {
        const data: PrepareChunkJob = { config: o.cli.file, plugins: o.plugins, manifest, cacheDir: o.cacheDir, entries: chunk.map((e) => entryToWire(e, o.d.fieldsToWire)) };
        return o.executor.run<PrepareChunkResult>({ kind: 'prepare-chunk', key: `prepare-${key++}`, data });
      },
      deliver: (outcome, chunk) => {
        if (outcome.ok) {
          const r = outcome.value;
          summary.samples += r.samples;
          summary.prepared += r.prepared;
          summary.skipped += r.skipped.length;
          for (const k of ['diskHits', 'misses', 'writes'] as const) result.cache[k] += r.cache[k];
          for (const s of r.skipped) { result.skipped.push({ set, manifest, sample: s }); o.onSkip?.(set, manifest, s); }
        } else {
          // A chunk that failed after its retries: its samples are not prepared; say which and why.
          result.failedJobs++;
          summary.samples += chunk.length;
          o.log(`${set}: a chunk of ${chunk.length} samples could not be prepared: [${outcome.error.code}] ${outcome.error.message}`);
        }
        progress.add(chunk.length);
      },
    });
    progress.finish();
    result.sets.push(summary);
  }
  return result;
}

/**
 * `mmfuse train --redis URL --cache DIR`: the training and validation samples prepared on workers into the
 * shared cache before training starts here. Refused samples are not reported here: training meets them
 * again and reports them as always.
 */
export async function prepareForTraining(o: { cli: LoadedConfig; cacheDir: string; redis: string; plugins: string[]; log: (line: string) => void }): Promise<void> {
  const { loadDistributed, openExecutor } = await import('./setup.js');
  const d = await loadDistributed();
  const executor = await openExecutor({ redis: o.redis, log: o.log, handlers: () => ({}) });
  try {
    o.log(`preparing the training and validation samples on workers through ${executor.description} into ${o.cacheDir}`);
    const r = await prepareSets({ d, executor, cli: o.cli, sets: ['train', 'validation'], cacheDir: o.cacheDir, plugins: o.plugins, log: o.log });
    const prepared = r.sets.reduce((a, s) => a + s.prepared, 0);
    o.log(`prepared ${prepared} samples on workers (${r.cache.writes} new cache entries, ${r.cache.diskHits} already cached)${r.skipped.length > 0 ? `; ${r.skipped.length} refused, reported below` : ''}`);
  } finally {
    await executor.close();
  }
}
