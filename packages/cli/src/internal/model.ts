/**
 * Everything the CLI needs from the model stack, in one place: starting the engine, registering the
 * built-in encoders, `@mmfuse/fusion`'s config normalization and model, and reading manifests with the
 * field kinds a config implies.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, initEngine, loadManifest } from '@mmfuse/core';
import type { EngineInfo, FieldKind, ManifestSample, SkippedSample } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import type { EvaluationReport, Prediction, PredictionError, ResolvedConfig, Sample } from '@mmfuse/fusion';
// Importing the encoder packages registers `text/rnn`, `audio/cnn` and `image/cnn`.
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';

export type ModelConfig = ResolvedConfig;
export type FusionModelApi = FusionModel;
export type Evaluation = EvaluationReport;
export type { Prediction };
export type BatchError = { error: PredictionError };

/** Start the engine (automatic choice, or `MMFUSE_ENGINE`) and say which on stderr. */
export async function startEngine(log: (line: string) => void): Promise<EngineInfo> {
  const info = await initEngine();
  log(info.summary);
  return info;
}

/** How each manifest column is read, from the config: text as strings, other modalities as paths. */
export function manifestFields(config: ModelConfig, withTarget: boolean): Record<string, FieldKind> {
  const fields: Record<string, FieldKind> = {};
  for (const [name, input] of Object.entries(config.inputs)) {
    fields[name] = input.type === 'text' ? 'string' : input.type === 'audio' || input.type === 'image' ? 'path' : 'any';
  }
  if (withTarget) fields[config.output.field] = config.output.type === 'regression' ? 'any' : 'label';
  return fields;
}

/**
 * Read a manifest for a config. Bad lines are skipped and returned (never thrown), so one bad sample costs
 * only itself. `withTarget` requires the output field on every line.
 */
export async function readSamples(file: string, config: ModelConfig, withTarget: boolean): Promise<{ samples: ManifestSample[]; skipped: SkippedSample[] }> {
  return loadManifest(path.resolve(file), {
    fields: manifestFields(config, withTarget),
    ...(withTarget ? { required: [config.output.field] } : {}),
    onError: 'skip',
  });
}

/** Samples as fusion takes them. */
export function toInputs(samples: ManifestSample[]): Sample[] {
  return samples.map((s) => ({ id: s.id, line: s.line, fields: s.fields }));
}

export function createModel(config: ModelConfig): FusionModel {
  return FusionModel.create(config);
}

export function loadModel(dir: string): Promise<FusionModel> {
  return FusionModel.load(path.resolve(dir));
}

/** True for a refused sample in a `predictBatch` answer. */
export function isBatchError(p: Prediction | BatchError): p is BatchError {
  return typeof (p as BatchError).error === 'object' && (p as BatchError).error !== null && typeof (p as BatchError).error.reason === 'string';
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
