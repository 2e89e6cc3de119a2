/**
 * Train from manifest files (or from a config file's `data` section), the way `mmfuse train` reads them:
 * each input field is read as its encoder's declared raw input says (a file path resolved against the
 * manifest's folder, a string, base64 bytes or any JSON), never by modality name.
 */
import * as path from 'node:path';
import { DEFAULT_RAW_INPUT, ConfigError, InvalidInputError, checkOutputTarget, createRecord, encoders as globalRegistry, readManifest } from '@mmfuse/core';
import type { EncoderRegistry, FieldKind, RawInputKind, RawInputSpec, SkippedSample } from '@mmfuse/core';
import { encoderKind, inputField } from '../config.js';
import type { FusionModelConfig, ResolvedConfig } from '../config.js';
import { loadConfigFile } from '../config-file.js';
import type { ConfigOverrides } from '../config-file.js';
import { modelFolderRule } from '../io/folder.js';
import { FusionModel } from '../model.js';
import type { FitOptions, TrainingHistory } from './loop.js';

const FIELD_KIND: Record<RawInputKind, FieldKind> = { file: 'path', text: 'string', bytes: 'bytes', json: 'any' };

/**
 * How each manifest column of a config is read, from the raw-input kind of its encoder (`file` → `path`,
 * `text` → `string`, `bytes` → `bytes`, `json` → `any`); with `withTarget`, the output field too (`label`,
 * or `any` for regression). Pass a built model's `inputs` to use the kinds its encoders declare (exact,
 * also for plugins registered without a declaration); otherwise the registrations are read.
 */
export function manifestFields(config: Pick<ResolvedConfig, 'inputs' | 'output'>, options: { withTarget?: boolean; registry?: EncoderRegistry; inputs?: readonly { field: string; input: RawInputSpec }[] } = {}): Record<string, FieldKind> {
  const registry = options.registry ?? globalRegistry;
  const built = new Map((options.inputs ?? []).map((i) => [i.field, i.input] as const));
  const fields = createRecord<FieldKind>();
  for (const [name, input] of Object.entries(config.inputs)) {
    const kind = encoderKind(input);
    const field = inputField(name, input);
    const raw = built.get(field) ?? (registry.has(kind) ? registry.rawInput(kind) : undefined) ?? DEFAULT_RAW_INPUT;
    fields[field] = FIELD_KIND[raw.kind];
  }
  if (options.withTarget === true) fields[config.output.field] = config.output.type === 'regression' ? 'any' : 'label';
  return fields;
}

export interface TrainFromManifestOptions extends Omit<FitOptions, 'validation' | 'baseDir' | 'validationBaseDir'> {
  config: FusionModelConfig;
  /** Training manifest (JSONL or CSV); relative paths in it resolve against its folder. */
  train: string;
  /** Validation manifest. Default: `training.validationSplit` of the training data. */
  validation?: string;
  /** Save the trained model folder here (atomically). */
  out?: string;
  registry?: EncoderRegistry;
}

/** Train from manifests; bad lines are skipped and reported (`onSkip` and the result's `skipped`). */
export async function trainFromManifest(options: TrainFromManifestOptions): Promise<{ model: FusionModel; history: TrainingHistory; skipped: SkippedSample[] }> {
  const { config, train, validation, out, registry, ...fit } = options;
  // The model folder is checked before training: a folder that is not mmfuse's is refused untouched.
  if (out !== undefined) await checkOutputTarget(out, modelFolderRule('out'));
  const model = FusionModel.create(config, registry === undefined ? {} : { registry });
  const skipped: SkippedSample[] = [];
  const onSkip = (s: SkippedSample): void => { skipped.push(s); fit.onSkip?.(s); };
  const fields = manifestFields(model.config, { withTarget: true, inputs: model.inputs, ...(registry !== undefined ? { registry } : {}) });
  const manifest = (file: string) => readManifest(file, { onError: 'skip', onSkip, fields, required: [model.config.output.field] });
  // File fields are resolved (and kept inside the manifest's folder) by the manifest reader, so the
  // samples reach fit with absolute paths, as they do from `mmfuse train`.
  const fitOptions: FitOptions = { ...fit, onSkip };
  if (validation !== undefined) fitOptions.validation = manifest(validation);
  try {
    const history = await model.fit(manifest(train), fitOptions);
    if (history.trainSamples === 0) throw new InvalidInputError('the training manifest has no usable samples', { file: path.resolve(train) });
    if (out !== undefined) await model.save(out);
    return { model, history, skipped };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

export interface TrainFromConfigFileOptions extends Omit<TrainFromManifestOptions, 'config' | 'train' | 'validation'> {
  /** `seed` / `epochs` over the file's `training` section. */
  overrides?: ConfigOverrides;
}

/**
 * Read a config file (as `mmfuse train` does: `readConfigFile` + `normalizeConfig`) and train on its
 * `data.train` (and `data.validation`) manifests. Import the plugin packages the config uses first.
 */
export async function trainFromConfigFile(file: string, options: TrainFromConfigFileOptions = {}): Promise<{ model: FusionModel; history: TrainingHistory; skipped: SkippedSample[] }> {
  const { overrides, ...rest } = options;
  const loaded = await loadConfigFile(file, { ...(overrides !== undefined ? { overrides } : {}), ...(rest.registry !== undefined ? { registry: rest.registry } : {}) });
  if (loaded.data.train === undefined) throw new ConfigError('is required to train: the training manifest, relative to the config file', { file: loaded.file, path: 'data.train' });
  return trainFromManifest({ ...rest, config: loaded.config, train: loaded.data.train, ...(loaded.data.validation !== undefined ? { validation: loaded.data.validation } : {}) });
}
