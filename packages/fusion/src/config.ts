/**
 * The one model config (JSON, so the CLI's declarative config maps 1:1 onto it), its documented defaults
 * and its validation. Every error names the key path, e.g. `fusion.heads: must divide dModel 128, got 5`.
 */
import { ConfigError } from '@mmfuse/core';
import type { JsonObject, JsonValue } from '@mmfuse/core';

export type FusionStrategyName = 'transformer' | 'late' | 'cross-attention';
export type OutputType = 'category' | 'multi-label' | 'regression';

/** One input field of the data (a manifest column) and the encoder that reads it. */
export interface InputConfig {
  /** Modality, e.g. `text`, `audio`, `image`, `tabular`. */
  type: string;
  /**
   * Encoder: `kind` `rnn` means registry kind `${type}/rnn`; a kind containing `/` is used as written.
   * Every other key is passed to the encoder's constructor.
   */
  encoder: { kind: string; [k: string]: JsonValue };
  /** Merged into the encoder config (kept apart so the CLI can show preprocessing on its own). */
  preprocessing?: JsonObject;
  /** Cap on the tokens this input contributes: longer sequences are mean-pooled with stride ceil(T / maxTokens). Default: no cap. */
  maxTokens?: number;
  /** Project the encoder's features to dModel. `false` needs an encoder whose outputDim equals dModel. Default true. */
  project?: boolean;
}

export interface FusionConfig {
  /** `transformer` (default): early fusion over all tokens; `late`: pool each modality, concatenate, MLP; `cross-attention`: each modality attends to the others (MulT). */
  strategy?: FusionStrategyName;
  /** Token width. Default 128. */
  dModel?: number;
  /** Transformer blocks (per stream for cross-attention; unused by late). Default 2. */
  layers?: number;
  /** Attention heads; must divide dModel. Default 4. */
  heads?: number;
  /** Feed-forward width. Default 2 x dModel. */
  ffDim?: number;
  /** Dropout in the fusion layers. Default 0.1. */
  dropout?: number;
  /** Probability, per sample and per present modality in training, of hiding that modality (one always stays). Default 0.1. */
  modalityDropout?: number;
}

export interface OutputConfig {
  /** Manifest field holding the target. */
  field: string;
  /** `category`: one label; `multi-label`: a list of labels; `regression`: a number or a fixed-length list of numbers. */
  type: OutputType;
}

export interface TrainingConfig {
  /** Default 10. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Peak learning rate. Default 1e-3. */
  learningRate?: number;
  /** AdamW decoupled weight decay, applied to every weight. Default 0.01. */
  weightDecay?: number;
  /** Linear warmup steps; when absent, `warmupRatio` of all steps. */
  warmupSteps?: number | null;
  /** Fraction of all steps used for warmup when `warmupSteps` is absent. Default 0.1. */
  warmupRatio?: number;
  /** `cosine` (default): warmup then cosine decay to `minLearningRate`; `constant`: warmup then flat. */
  schedule?: 'cosine' | 'constant';
  /** Floor of the cosine decay. Default 0. */
  minLearningRate?: number;
  /** Clip gradients to this global norm; null turns clipping off. Default 1. */
  clipNorm?: number | null;
  /** Label smoothing for category and multi-label heads. Default 0. */
  labelSmoothing?: number;
  /** `balanced` (n / (classes x count)), explicit weights per label, or null (default) for none. */
  classWeights?: 'balanced' | Record<string, number> | null;
  /** Stop after this many epochs without a better validation loss (best weights are restored); null = off. Default 3. */
  earlyStoppingPatience?: number | null;
  /** Seed of every random choice. Default 42. */
  seed?: number;
  /** Fraction of the training data held out for validation when no validation set is given (only with >= 10 samples). Default 0.1. */
  validationSplit?: number;
}

export interface FusionModelConfig {
  inputs: Record<string, InputConfig>;
  fusion?: FusionConfig;
  output: OutputConfig;
  training?: TrainingConfig;
}

/** A config with every default filled in. */
export interface ResolvedConfig {
  inputs: Record<string, InputConfig>;
  fusion: Required<FusionConfig>;
  output: OutputConfig;
  training: Required<Omit<TrainingConfig, 'warmupSteps'>> & { warmupSteps: number | null };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, reason: string): never {
  throw new ConfigError(reason, { path });
}

function checkKeys(obj: Obj, allowed: string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(path === '' ? k : `${path}.${k}`, `unknown key; expected one of ${allowed.join(', ')}`);
  }
}

function int(obj: Obj, key: string, path: string, def: number, min: number): number {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${path}.${key}`, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function num(obj: Obj, key: string, path: string, def: number, lo: number, hi: number, hiOpen = false): number {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    fail(`${path}.${key}`, `must be a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The registry kind of an input's encoder. */
export function encoderKind(input: InputConfig): string {
  return input.encoder.kind.includes('/') ? input.encoder.kind : `${input.type}/${input.encoder.kind}`;
}

/** The config handed to the registry: the encoder keys without `kind`, then `preprocessing` merged in. */
export function encoderConfig(input: InputConfig): JsonObject {
  const { kind: _kind, ...rest } = input.encoder;
  return { ...rest, ...(input.preprocessing ?? {}) } as JsonObject;
}

/**
 * Check a raw config (parsed JSON/YAML) and fill in the documented defaults. Throws `ConfigError` naming
 * the key path. The result is plain JSON.
 */
export function normalizeConfig(raw: unknown): ResolvedConfig {
  if (!isObj(raw)) fail('(config)', `must be an object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  checkKeys(raw, ['inputs', 'fusion', 'output', 'training'], '');

  const inputsRaw = raw.inputs;
  if (!isObj(inputsRaw) || Object.keys(inputsRaw).length === 0) fail('inputs', 'must be an object with at least one input field, e.g. { "text": { "type": "text", "encoder": { "kind": "rnn" } } }');
  const inputs: Record<string, InputConfig> = {};
  for (const [field, v] of Object.entries(inputsRaw)) {
    const p = `inputs.${field}`;
    if (field === '') fail(p, 'field name must not be empty');
    if (!isObj(v)) fail(p, 'must be an object with "type" and "encoder"');
    checkKeys(v, ['type', 'encoder', 'preprocessing', 'maxTokens', 'project'], p);
    if (typeof v.type !== 'string' || !/^[a-z][a-z0-9-]*$/.test(v.type)) fail(`${p}.type`, `must be a lowercase modality name such as "text", got ${JSON.stringify(v.type)}`);
    if (!isObj(v.encoder) || typeof v.encoder.kind !== 'string' || v.encoder.kind === '') fail(`${p}.encoder.kind`, `must be a non-empty string such as "rnn", got ${JSON.stringify(isObj(v.encoder) ? v.encoder.kind : v.encoder)}`);
    const input: InputConfig = { type: v.type, encoder: JSON.parse(JSON.stringify(v.encoder)) as InputConfig['encoder'] };
    if (v.preprocessing !== undefined) {
      if (!isObj(v.preprocessing)) fail(`${p}.preprocessing`, 'must be an object');
      input.preprocessing = JSON.parse(JSON.stringify(v.preprocessing)) as JsonObject;
    }
    if (v.maxTokens !== undefined && v.maxTokens !== null) input.maxTokens = int(v, 'maxTokens', p, 0, 1);
    if (v.project !== undefined) {
      if (typeof v.project !== 'boolean') fail(`${p}.project`, `must be true or false, got ${JSON.stringify(v.project)}`);
      input.project = v.project;
    }
    inputs[field] = input;
  }

  const fusionRaw = raw.fusion ?? {};
  if (!isObj(fusionRaw)) fail('fusion', 'must be an object');
  checkKeys(fusionRaw, ['strategy', 'dModel', 'layers', 'heads', 'ffDim', 'dropout', 'modalityDropout'], 'fusion');
  const strategy = fusionRaw.strategy ?? 'transformer';
  if (strategy !== 'transformer' && strategy !== 'late' && strategy !== 'cross-attention') fail('fusion.strategy', `must be "transformer", "late" or "cross-attention", got ${JSON.stringify(strategy)}`);
  const dModel = int(fusionRaw, 'dModel', 'fusion', 128, 2);
  if (dModel % 2 !== 0) fail('fusion.dModel', `must be even (sinusoidal positions pair sin and cos), got ${dModel}`);
  const heads = int(fusionRaw, 'heads', 'fusion', 4, 1);
  if (dModel % heads !== 0) fail('fusion.heads', `must divide dModel ${dModel}, got ${heads}`);
  const fusion: Required<FusionConfig> = {
    strategy,
    dModel,
    layers: int(fusionRaw, 'layers', 'fusion', 2, 1),
    heads,
    ffDim: int(fusionRaw, 'ffDim', 'fusion', 2 * dModel, 1),
    dropout: num(fusionRaw, 'dropout', 'fusion', 0.1, 0, 1, true),
    modalityDropout: num(fusionRaw, 'modalityDropout', 'fusion', 0.1, 0, 1, true),
  };

  const outRaw = raw.output;
  if (!isObj(outRaw)) fail('output', 'must be an object such as { "field": "label", "type": "category" }');
  checkKeys(outRaw, ['field', 'type'], 'output');
  if (typeof outRaw.field !== 'string' || outRaw.field === '') fail('output.field', `must be a non-empty string, got ${JSON.stringify(outRaw.field)}`);
  if (outRaw.field in inputs) fail('output.field', `"${outRaw.field}" is also an input; the target cannot be an input`);
  const type = outRaw.type ?? 'category';
  if (type !== 'category' && type !== 'multi-label' && type !== 'regression') fail('output.type', `must be "category", "multi-label" or "regression", got ${JSON.stringify(type)}`);
  const output: OutputConfig = { field: outRaw.field, type };

  const tr = raw.training ?? {};
  if (!isObj(tr)) fail('training', 'must be an object');
  checkKeys(tr, ['epochs', 'batchSize', 'learningRate', 'weightDecay', 'warmupSteps', 'warmupRatio', 'schedule', 'minLearningRate', 'clipNorm', 'labelSmoothing', 'classWeights', 'earlyStoppingPatience', 'seed', 'validationSplit'], 'training');
  const learningRate = num(tr, 'learningRate', 'training', 1e-3, 0, 10);
  if (learningRate <= 0) fail('training.learningRate', `must be > 0, got ${learningRate}`);
  const schedule = tr.schedule ?? 'cosine';
  if (schedule !== 'cosine' && schedule !== 'constant') fail('training.schedule', `must be "cosine" or "constant", got ${JSON.stringify(schedule)}`);
  let clipNorm: number | null = 1;
  if (tr.clipNorm === null) clipNorm = null;
  else if (tr.clipNorm !== undefined) {
    clipNorm = num(tr, 'clipNorm', 'training', 1, 0, Number.MAX_VALUE);
    if (clipNorm <= 0) fail('training.clipNorm', `must be > 0 or null, got ${clipNorm}`);
  }
  let classWeights: 'balanced' | Record<string, number> | null = null;
  if (tr.classWeights === 'balanced') classWeights = 'balanced';
  else if (isObj(tr.classWeights)) {
    classWeights = {};
    for (const [label, w] of Object.entries(tr.classWeights)) {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) fail(`training.classWeights.${label}`, `must be a number >= 0, got ${JSON.stringify(w)}`);
      classWeights[label] = w;
    }
  } else if (tr.classWeights !== undefined && tr.classWeights !== null) fail('training.classWeights', `must be "balanced", an object of label -> weight, or null, got ${JSON.stringify(tr.classWeights)}`);
  if (classWeights !== null && output.type === 'regression') fail('training.classWeights', 'has no meaning for a regression output');
  const training: ResolvedConfig['training'] = {
    epochs: int(tr, 'epochs', 'training', 10, 1),
    batchSize: int(tr, 'batchSize', 'training', 32, 1),
    learningRate,
    weightDecay: num(tr, 'weightDecay', 'training', 0.01, 0, 1),
    warmupSteps: tr.warmupSteps === undefined || tr.warmupSteps === null ? null : int(tr, 'warmupSteps', 'training', 0, 0),
    warmupRatio: num(tr, 'warmupRatio', 'training', 0.1, 0, 1, true),
    schedule,
    minLearningRate: num(tr, 'minLearningRate', 'training', 0, 0, learningRate),
    clipNorm,
    labelSmoothing: num(tr, 'labelSmoothing', 'training', 0, 0, 1, true),
    classWeights,
    earlyStoppingPatience: tr.earlyStoppingPatience === null ? null : int(tr, 'earlyStoppingPatience', 'training', 3, 1),
    seed: int(tr, 'seed', 'training', 42, 0),
    validationSplit: num(tr, 'validationSplit', 'training', 0.1, 0, 1, true),
  };
  return { inputs, fusion, output, training };
}
