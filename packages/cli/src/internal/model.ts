/**
 * Everything the CLI needs from the model stack, in one place: starting the engine, registering the
 * built-in encoders, `@mmfuse/fusion`'s model, and reading manifests with the field kinds the model's
 * inputs declare (their encoders' raw-input kinds) and its output kind implies.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, initEngine, loadManifest } from '@mmfuse/core';
import type { EngineInfo, FieldKind, ManifestSample, RawInputKind, SkippedSample } from '@mmfuse/core';
import { FusionModel, outputKind } from '@mmfuse/fusion';
import type { EvaluationReport, Prediction, ResolvedConfig, Sample } from '@mmfuse/fusion';
// Importing the encoder packages registers `text/rnn`, `audio/cnn` and `image/cnn`.
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';

export type ModelConfig = ResolvedConfig;
export type FusionModelApi = FusionModel;
export type Evaluation = EvaluationReport;
export type { Prediction };

/** Start the engine (automatic choice, or `MMFUSE_ENGINE`) and say which on stderr. */
export async function startEngine(log: (line: string) => void): Promise<EngineInfo> {
  const info = await initEngine();
  log(info.summary);
  return info;
}

/**
 * How a manifest cell of each raw-input kind is read: a file as a path relative to the manifest (resolved,
 * kept inside its folder), text as a string, JSON as written; bytes as base64 text (decoded by fusion).
 */
const MANIFEST_FIELD: Readonly<Record<RawInputKind, FieldKind>> = { file: 'path', text: 'string', json: 'any', bytes: 'string' };

/** How each manifest column is read, from the model's inputs (and its output kind for the target). */
export function manifestFields(model: Pick<FusionModel, 'inputs' | 'config'>, withTarget: boolean): Record<string, FieldKind> {
  const fields: Record<string, FieldKind> = {};
  for (const input of model.inputs) fields[input.field] = MANIFEST_FIELD[input.input.kind];
  if (withTarget) fields[model.config.output.field] = outputKind(model.config.output.type).manifestField;
  return fields;
}

/**
 * Read a manifest for a model. Bad lines are skipped and returned (never thrown), so one bad sample costs
 * only itself. `withTarget` requires the output field on every line.
 */
export async function readSamples(file: string, model: Pick<FusionModel, 'inputs' | 'config'>, withTarget: boolean): Promise<{ samples: ManifestSample[]; skipped: SkippedSample[] }> {
  return loadManifest(path.resolve(file), {
    fields: manifestFields(model, withTarget),
    ...(withTarget ? { required: [model.config.output.field] } : {}),
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
