/**
 * Everything the CLI needs from the model stack, in one place: starting the engine, registering the
 * encoders, `@mmfuse/fusion`'s config normalization, training, evaluation, prediction and save/load, and
 * reading manifests with the field kinds a config implies.
 */
import * as path from 'node:path';
import { ConfigError, initEngine, isMmfuseError, loadManifest } from '@mmfuse/core';
import type { EngineInfo, FieldKind, JsonObject, ManifestSample, SkippedSample } from '@mmfuse/core';

/** The parts of a normalized fusion config the CLI reads. */
export interface ModelConfig {
  inputs: Record<string, { type: string; encoder: { kind: string; [k: string]: unknown }; [k: string]: unknown }>;
  fusion: Record<string, unknown>;
  output: { field: string; type: 'category' | 'multi-label' | 'regression' };
  training: Record<string, unknown> & { epochs: number; batchSize: number; seed: number };
}

/** A sample as fusion takes it. */
export interface SampleInput {
  id?: string;
  line?: number;
  fields: Record<string, unknown>;
}

export interface Prediction {
  label: unknown;
  probabilities?: Record<string, number> | number[];
  contributions?: Record<string, number>;
  modalitiesUsed?: string[];
  [key: string]: unknown;
}

export interface PerClass { precision: number; recall: number; f1: number; support: number }

export interface Evaluation {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: Record<string, PerClass>;
  confusion: { labels: string[]; matrix: number[][] };
  skipped: SkippedSample[];
  [key: string]: unknown;
}

/** A refused sample of `predictBatch`: the error as JSON. */
export interface BatchError { error: { code: string; message: string; reason: string; sample?: string | number; field?: string } }

/** The model API of `@mmfuse/fusion` that the CLI uses (structural, so the CLI states what it relies on). */
export interface FusionModelApi {
  readonly config: ModelConfig;
  readonly labels: string[];
  fit(samples: SampleInput[], options: Record<string, unknown>): Promise<unknown>;
  /** One sample from any subset of the input fields. */
  predict(fields: Record<string, unknown>, options?: { baseDir?: string; contributions?: boolean }): Promise<Prediction>;
  /** Many; a bad one gives `{ error }` in its place. */
  predictBatch(inputs: Record<string, unknown>[], options?: { baseDir?: string; contributions?: boolean }): Promise<Array<Prediction | BatchError>>;
  evaluate(samples: SampleInput[], options?: { baseDir?: string; ablation?: boolean; onSkip?: (s: SkippedSample) => void }): Promise<Evaluation>;
  save(dir: string): Promise<unknown>;
  summary(): Record<string, unknown>;
  dispose(): void;
}

interface FusionModule {
  normalizeConfig(raw: unknown): unknown;
  FusionModel: {
    create(config: unknown): FusionModelApi | Promise<FusionModelApi>;
    load(dir: string): Promise<FusionModelApi>;
  };
}

let fusionModule: FusionModule | undefined;

/** Import fusion and the three built-in encoder packages (which register `text/rnn`, `audio/cnn`, `image/cnn`). */
export async function loadStack(): Promise<FusionModule> {
  if (fusionModule !== undefined) return fusionModule;
  await Promise.all([import('@mmfuse/text-rnn'), import('@mmfuse/audio'), import('@mmfuse/vision-cnn')]);
  const mod = (await import('@mmfuse/fusion')) as unknown as Partial<FusionModule>;
  if (typeof mod.normalizeConfig !== 'function' || typeof mod.FusionModel?.create !== 'function' || typeof mod.FusionModel.load !== 'function') {
    throw new ConfigError('this build of @mmfuse/fusion has no FusionModel / normalizeConfig; update @mmfuse/fusion to the version of this CLI');
  }
  fusionModule = mod as FusionModule;
  return fusionModule;
}

/** Start the engine (automatic choice, or `MMFUSE_ENGINE`) and say which on stderr. */
export async function startEngine(log: (line: string) => void): Promise<EngineInfo> {
  const info = await initEngine();
  log(info.summary);
  return info;
}

/** Normalize the model part of a config with fusion's rules; errors keep their key path and gain the file. */
export async function normalizeModelConfig(raw: JsonObject, file: string): Promise<ModelConfig> {
  const { normalizeConfig } = await loadStack();
  try {
    return normalizeConfig(raw) as ModelConfig;
  } catch (err) {
    if (isMmfuseError(err)) throw err.locate({ file });
    throw err;
  }
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
export function toInputs(samples: ManifestSample[]): SampleInput[] {
  return samples.map((s) => ({ id: s.id, line: s.line, fields: s.fields }));
}

export async function createModel(config: ModelConfig): Promise<FusionModelApi> {
  const { FusionModel } = await loadStack();
  return FusionModel.create(config);
}

export async function loadModel(dir: string): Promise<FusionModelApi> {
  const { FusionModel } = await loadStack();
  return FusionModel.load(path.resolve(dir));
}

/** True for a refused sample in a `predictBatch` answer. */
export function isBatchError(p: Prediction | BatchError): p is BatchError {
  return typeof (p as BatchError).error === 'object' && (p as BatchError).error !== null && typeof (p as BatchError).error.reason === 'string';
}
