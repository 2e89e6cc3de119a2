/**
 * Everything the CLI needs from the model stack, in one place: starting the engine, registering the
 * built-in encoders, `@mmfuse/fusion`'s model, and reading manifests with the field kinds the model's
 * inputs declare (their encoders' raw-input kinds) and its output kind implies.
 */
import { availableParallelism, cpus } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, THREADS_ENV_VAR, initEngine, loadManifest } from '@mmfuse/core';
import type { EngineInfo, FieldKind, ManifestSample, SkippedSample } from '@mmfuse/core';
import { FusionModel, manifestFields as fusionManifestFields } from '@mmfuse/fusion';
export { calibrationLine } from '@mmfuse/fusion';
import type { EvaluationReport, Prediction, ResolvedConfig, Sample } from '@mmfuse/fusion';
// Importing the encoder packages registers `text/rnn`, `audio/cnn` and `image/cnn`.
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';

export type ModelConfig = ResolvedConfig;
/** What the commands use of a loaded model; `FusionModel` (tfjs) and `OnnxFusionModel` (onnx) both have it. */
export type FusionModelApi = Pick<FusionModel, 'config' | 'inputs' | 'labels' | 'calibration' | 'predict' | 'predictBatch' | 'evaluate' | 'dispose'>;
export type Evaluation = EvaluationReport;
export type { Prediction };

/**
 * The wasm threads `serve` asks for when `MMFUSE_THREADS` is not set: every core but one. The server's own
 * work (HTTP, decoding, features, JSON) runs on the main thread beside the model's batches, and its batches
 * are small. Load benchmark on 2 cores, quiet machine (single runs, noisy): server on 2 threads 489 requests/s,
 * p99 43 ms; on 1 thread 504 and 615 requests/s, p99 26.7 and 20.3 ms (round 1, single-threaded engine: 657,
 * p99 19 ms).
 */
export function servingThreads(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[THREADS_ENV_VAR]?.trim();
  if (raw !== undefined && raw !== '' && raw !== 'auto') return undefined; // the user's choice, read by initEngine
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return Math.max(1, cores - 1);
}

/**
 * Start the engine (automatic choice, or `MMFUSE_ENGINE`) and say which on stderr. `serving`: leave a core
 * to the server's main thread (`servingThreads`). `syncReads`: the command reads weights or gradients
 * synchronously (ONNX export, quantization, pruning), which the WebGPU engine cannot do in Node; when the
 * automatic choice lands on WebGPU it moves to the wasm engine and says why (a forced `MMFUSE_ENGINE=webgpu`
 * stays, and stops with the engine's error at the first such read).
 */
export async function startEngine(log: (line: string) => void, options: { serving?: boolean; syncReads?: string; env?: NodeJS.ProcessEnv; init?: typeof initEngine } = {}): Promise<EngineInfo> {
  const env = options.env ?? process.env;
  const init = options.init ?? initEngine;
  const threads = options.serving === true ? servingThreads(env) : undefined;
  let info = await init(threads === undefined ? { env } : { threads, env });
  const forced = (env.MMFUSE_ENGINE ?? '').trim();
  if (info.engine === 'webgpu' && options.syncReads !== undefined && (forced === '' || forced === 'auto')) {
    log(`${info.summary}; ${options.syncReads} reads weights synchronously, which the WebGPU engine cannot do in Node: using wasm`);
    info = await init({ engine: 'wasm', env });
  }
  log(info.summary);
  return info;
}

/**
 * How each manifest column is read: by the raw-input kind of its encoder (a file as a path relative to the
 * manifest, kept inside its folder; text as a string; bytes as base64; JSON as written), and the target by
 * the output kind. One definition, fusion's `manifestFields`.
 */
export function manifestFields(model: Pick<FusionModel, 'config' | 'inputs'>, withTarget: boolean): Record<string, FieldKind> {
  return fusionManifestFields(model.config, { withTarget, inputs: model.inputs });
}

/**
 * Read a manifest for a model. Bad lines are skipped and returned (never thrown), so one bad sample costs
 * only itself. `withTarget` requires the output field on every line.
 */
export async function readSamples(file: string, model: Pick<FusionModel, 'config' | 'inputs'>, withTarget: boolean): Promise<{ samples: ManifestSample[]; skipped: SkippedSample[] }> {
  return loadManifest(path.resolve(file), {
    fields: manifestFields(model, withTarget),
    ...(withTarget ? { required: [model.config.output.field] } : {}),
    onError: 'skip',
  });
}

/** Samples as fusion takes them (with their manifest's folder, where relative paths stay). */
export function toInputs(samples: ManifestSample[]): Sample[] {
  return samples.map((s) => ({ id: s.id, line: s.line, fields: s.fields, baseDir: s.baseDir, ...(s.allowOutsideBaseDir === true ? { allowOutsideBaseDir: true } : {}) }));
}

export function createModel(config: ModelConfig): FusionModel {
  return FusionModel.create(config);
}

export function loadModel(dir: string): Promise<FusionModel> {
  return FusionModel.load(path.resolve(dir));
}

/**
 * Import plugin modules (each registers its encoders on import). Paths must be absolute already (the
 * config resolves its own; the command line resolves against the working folder); other names are packages.
 */
export async function loadPlugins(specs: readonly string[], log: (line: string) => void): Promise<void> {
  for (const spec of specs) {
    try {
      await import(path.isAbsolute(spec) ? pathToFileURL(spec).href : spec);
    } catch (err) {
      throw new ConfigError(`cannot load plugin ${JSON.stringify(spec)}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, { path: 'plugins', cause: err });
    }
    log(`loaded plugin ${spec}`);
  }
}
