/**
 * `mmfuse predict --data MANIFEST --redis URL`: the manifest is cut into the chunks a local run predicts
 * (`manifestChunks`), each chunk is a job, workers predict with the same code (`predictEntries`), and
 * the lines are written in manifest order, each exactly once, as they come back: byte for byte what a
 * local run writes. A chunk whose job fails after its retries (a poison chunk) gets an error line per
 * sample, so the output still has one line per manifest line, and the command exits 1.
 */
import * as path from 'node:path';
import { StateError } from '@mmfuse/core';
import type { MmfuseError, Outcome } from '@mmfuse/core';
import type { CliIo, CommandResult } from '../internal/io.js';
import type { FusionModelApi } from '../internal/model.js';
import { manifestChunks, predictEntries } from '../commands/predict.js';
import type { ManifestEntry } from '../commands/predict.js';
import { sha256File } from './handlers.js';
import { abortOnSignals } from './interrupt.js';
import { entryToWire } from './job-types.js';
import type { PredictChunkJob, PredictChunkResult } from './job-types.js';
import { loadDistributed } from './setup.js';

export interface RemotePredictOptions {
  model: FusionModelApi;
  modelDir: string;
  manifest: string;
  redis: string;
  plugins: string[];
  io: CliIo;
  log: (line: string) => void;
}

export async function predictManifestRemote(o: RemotePredictOptions): Promise<CommandResult> {
  const d = await loadDistributed();
  const executor = await d.RedisExecutor.connect({ url: o.redis, log: o.log });
  const interrupt = abortOnSignals(o.log);
  try {
    const modelSha256 = await sha256File(path.join(o.modelDir, 'model.json'));
    const lines = await d.countLines(o.manifest);
    const total = /\.(csv|tsv)$/i.test(o.manifest) ? Math.max(0, lines - 1) : lines;
    const workers = await executor.workerCount();
    const window = Math.min(64, Math.max(8, 4 * workers));
    o.log(`predicting on workers through ${executor.description} (${workers} connected now), ${window} chunks in flight`);
    const progress = new d.FanOutProgress({ unit: 'samples', total, log: o.log });
    let n = 0;
    let failed = 0;
    let failedJobs = 0;
    await d.runOrdered(manifestChunks(o.model, o.manifest), {
      window,
      signal: interrupt.signal,
      run: (chunk: ManifestEntry[], i: number) => {
        const data: PredictChunkJob = { model: o.modelDir, modelSha256, manifest: o.manifest, plugins: o.plugins, entries: chunk.map((e) => entryToWire(e, d.fieldsToWire)) };
        return executor.run<PredictChunkResult>({ kind: 'predict-chunk', key: `chunk-${i}`, data });
      },
      deliver: async (outcome: Outcome<PredictChunkResult>, chunk: ManifestEntry[], i: number) => {
        if (outcome.ok) {
          o.io.stdout(outcome.value.text);
          for (const line of outcome.value.logs) o.log(line);
          n += outcome.value.n;
          failed += outcome.value.failed;
        } else {
          failedJobs++;
          o.log(`chunk ${i} (manifest lines ${firstLine(chunk)}-${lastLine(chunk)}) failed on the workers: [${outcome.error.code}] ${outcome.error.message}`);
          // Every sample of the chunk gets its error line, as a local run's bad sample does.
          const error = outcome.error;
          const failing = { predictBatch: async (_inputs: unknown[], options?: { sampleIds?: readonly (string | number)[] }) => (options?.sampleIds ?? []).map((id) => ({ ok: false as const, error: d.errorFromJson({ ...error.toJSON(), sample: id }) as MmfuseError })) };
          const r = await predictEntries(failing as unknown as Parameters<typeof predictEntries>[0], chunk, o.manifest, o.io, o.log);
          n += r.n;
          failed += r.failed;
        }
        progress.add(chunk.length);
      },
    });
    progress.finish();
    const s = executor.stats();
    o.log(`predicted ${n - failed} of ${n} samples${failed > 0 ? `; ${failed} failed` : ''} (${s.completed} chunk jobs on workers${s.stalled > 0 ? `, ${s.stalled} taken over from a worker that stopped` : ''}${s.retried > 0 ? `, ${s.retried} attempts retried` : ''}${s.resubmitted > 0 ? `, ${s.resubmitted} submitted again after Redis lost them` : ''})`);
    const json: Record<string, unknown> = { n, predicted: n - failed, failed };
    if (failedJobs > 0) {
      json.failedJobs = failedJobs;
      o.log(`${failedJobs} chunk job(s) failed after their retries; each of their samples has an error line`);
      return { json, human: '', exitCode: 1 };
    }
    return { json, human: '' };
  } catch (err) {
    if (interrupt.signal.aborted) throw new StateError(`interrupted; the output stops after the last complete chunk`, { cause: err });
    throw err;
  } finally {
    interrupt.dispose();
    await executor.close();
  }
}

function firstLine(chunk: ManifestEntry[]): number {
  const e = chunk[0];
  return e === undefined ? 0 : 'bad' in e ? e.bad.line : e.sample.line;
}

function lastLine(chunk: ManifestEntry[]): number {
  const e = chunk[chunk.length - 1];
  return e === undefined ? 0 : 'bad' in e ? e.bad.line : e.sample.line;
}
