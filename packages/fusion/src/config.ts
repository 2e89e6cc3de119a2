/**
 * The model config: its input type (what a user writes, defaults optional), its normalized type (every
 * default filled in), the schema that checks it and the JSON Schema editors autocomplete YAML/JSON configs
 * with. Encoder options are checked against the options schema each plugin declared at registration, so a
 * typo is refused with "did you mean". Every error is a `ConfigError` naming the key path, e.g.
 * `fusion.heads: must divide dModel 128, got 5` or
 * `inputs.text.encoder.hiddenSise: unknown key; did you mean "hiddenSize"?`.
 */
import { ConfigError, createRecord, encoders as globalRegistry, optionsJsonSchema, parseOptions, unknownKeyReason, z } from '@mmfuse/core';
import type { EncoderOptionsByKind, EncoderRegistry, JsonObject, JsonValue, OptionsSchema } from '@mmfuse/core';
import { SCOPE_SCORES } from './outputs/scope.js';
import type { ScopeScoreName } from './outputs/scope.js';

export type FusionStrategyName = 'transformer' | 'late' | 'cross-attention';
export type OutputType = 'category' | 'multi-label' | 'regression';

// ---------------------------------------------------------------------------------------------------------
// Types as written

/** The fields every input has, whatever its encoder. */
interface InputCommon {
  /**
   * The sample field (manifest column, request field) this input reads. Default: the input's own name. Two
   * inputs may read one field, each with its own encoder, e.g. `text` through `text/ngram` and `textRnn` with
   * `field: 'text'` through `text/rnn`: their tokens sit side by side in the fusion.
   */
  field?: string;
  /** Cap on the tokens this input contributes: a sample with L > maxTokens steps is mean-pooled over windows of ceil(L / maxTokens) of its own steps (the same alone or in a batch). Default: no cap. */
  maxTokens?: number | null;
  /** Project the encoder's features to dModel. `false` needs an encoder whose outputDim equals dModel. Default true. */
  project?: boolean;
}

/** An input as written, its encoder options not type-checked (any JSON). */
export interface UntypedInputConfig extends InputCommon {
  /** Modality, e.g. `text`, `audio`, `image`, `tabular`. */
  type: string;
  /**
   * Encoder: `kind` `rnn` means registry kind `${type}/rnn`; a kind containing `/` is used as written.
   * Every other key is an option of the encoder (checked at run time against its declared schema).
   */
  encoder: { kind: string; [k: string]: unknown };
  /** Merged into the encoder options (kept apart so the CLI can show preprocessing on its own). */
  preprocessing?: { [k: string]: unknown };
}

type KnownKind = keyof EncoderOptionsByKind & string;
type ModalityOf<K extends string> = K extends `${infer M}/${string}` ? M : never;
type NameOf<K extends string> = K extends `${string}/${infer N}` ? N : never;

/** An input of the registered encoder kind `K`: `type` is its modality, `encoder` its options. */
export type TypedInputConfig<K extends KnownKind> = InputCommon & {
  type: ModalityOf<K>;
  encoder: { kind: K | NameOf<K> } & EncoderOptionsByKind[K];
  preprocessing?: Partial<EncoderOptionsByKind[K]>;
};

/**
 * An input whose encoder options are type-checked: a union by `type` and `encoder.kind` over the encoders
 * whose packages are imported (each package adds its options to `EncoderOptionsByKind`, keyed
 * `modality/name`), so a misspelt option is a type error. Untyped when no package declares any.
 */
export type InputConfig = [KnownKind] extends [never] ? UntypedInputConfig : { [K in KnownKind]: TypedInputConfig<K> }[KnownKind];

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
  /**
   * Probability, per sample and per present modality in training, of hiding that modality (one always stays). A
   * modality is a sample field: inputs that read one field are hidden together. Default 0.1.
   */
  modalityDropout?: number;
  /**
   * Per-block sizes that differ from `heads` / `ffDim`, as structured pruning (`mmfuse compress --prune`)
   * writes them: block path (`block0`, `stream1.block0`, or `hidden` for late fusion) → `{ heads, ffDim }`.
   * A block's head width stays dModel / heads. Default: none (every block as configured).
   */
  blockShapes?: Record<string, BlockShape>;
}

/** The sizes of one fusion block (`fusion.blockShapes`). */
export interface BlockShape {
  /** Attention heads kept (each dModel / fusion.heads wide). */
  heads?: number;
  /** Feed-forward (or late-fusion hidden) width. */
  ffDim?: number;
}

/** Out-of-scope answers of a category output (config `output.outOfScope`). */
export interface OutOfScopeConfig {
  /**
   * `auto` (default): chosen on the validation data after training, the highest threshold on the calibrated
   * top probability that calls at most `maxRejectedCorrect` of the correctly answered validation samples out
   * of scope; a number in [0, 1]: that threshold; null: predictions are never out of scope.
   */
  threshold?: 'auto' | number | null;
  /** `auto` only: that fraction. Default 0.01 (in-scope accuracy drops by at most 1 point on validation data). */
  maxRejectedCorrect?: number;
  /**
   * Labels whose training examples are out-of-scope requests (e.g. an `out_of_scope` intent of off-topic
   * messages, as CLINC150 and most bot frameworks have): a prediction of one of them is out of scope
   * whatever its probability. Default none.
   */
  labels?: string[];
  /**
   * What the threshold applies to. `probability` (default): the calibrated top probability.
   * `energy+nearest`: how typical the request is of the in-scope data, in [0, 1]: the mean of two
   * percentiles among the validation requests, the logits' energy (T · logsumexp(logits / T)) and the
   * cosine similarity of the request's fused vector to the nearest in-scope training sample's. It detects
   * off-topic requests better (Banking77-OOS, BENCHMARKS.md); the model keeps the training samples' fused
   * vectors (float16, samples × dModel × 2 bytes) and needs validation data.
   */
  score?: ScopeScoreName;
}

/** The output as written. */
export interface OutputConfigInput {
  /** Manifest field holding the target. */
  field: string;
  /** `category`: one label; `multi-label`: a list of labels; `regression`: a number or a fixed-length list of numbers. Default `category`. */
  type?: OutputType;
  /**
   * Category only: `temperature` (default) fits one temperature dividing the logits on the validation data
   * after training, so probabilities match how often the model is right; `none` keeps the raw softmax.
   */
  calibration?: 'temperature' | 'none';
  /** Category only: when a prediction is out of scope (`Prediction.outOfScope`). Default `{ threshold: 'auto', maxRejectedCorrect: 0.01 }`. */
  outOfScope?: OutOfScopeConfig;
}

/** The output, normalized (`calibration` and `outOfScope` as written; `calibrationSettings` fills their defaults). */
export interface OutputConfig {
  field: string;
  type: OutputType;
  calibration?: 'temperature' | 'none';
  outOfScope?: Required<Omit<OutOfScopeConfig, 'labels' | 'score'>> & Pick<OutOfScopeConfig, 'labels' | 'score'>;
}

/** The calibration settings of a category output, defaults filled in: temperature scaling, threshold `auto` at 0.01. */
export function calibrationSettings(output: OutputConfig): { calibration: 'temperature' | 'none'; threshold: 'auto' | number | null; maxRejectedCorrect: number; labels: string[]; score: ScopeScoreName } {
  const o = output.outOfScope;
  // `threshold: null` (off) must survive: no `??` on it.
  return { calibration: output.calibration ?? 'temperature', threshold: o === undefined ? 'auto' : o.threshold, maxRejectedCorrect: o?.maxRejectedCorrect ?? 0.01, labels: [...(o?.labels ?? [])], score: o?.score ?? 'probability' };
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
  /**
   * Average the weights of the last N epochs (stochastic weight averaging, Izmailov et al. 2018): the epochs
   * ending at the best validation epoch, or the last N without validation data. With validation data the
   * average is kept only when its validation loss is lower than the best epoch's. 1: off. Default 1.
   */
  averageEpochs?: number;
  /**
   * Train N models, member k with seed `seed + k` (its own initial weights, batch order and dropout), one after
   * another on the same prepared data, and answer with the mean of their logits (a deep ensemble,
   * Lakshminarayanan et al. 2017). Member 0 is the model `ensemble: 1` trains. Calibration and the out-of-scope
   * threshold are fitted on the ensemble. N times the training time, parameters and inference cost. 1: off.
   * Default 1.
   */
  ensemble?: number;
  /** Fraction of the training data held out for validation when no validation set is given (only with >= 10 samples). Default 0.1. */
  validationSplit?: number;
  /**
   * Prepare the training inputs again each epoch, so augmentation in an encoder's `prepare` (`audio/cnn` and
   * `audio/phonetic`'s `augment`) is drawn fresh every epoch: true for every input, or the input fields.
   * `fit`'s `augmentEachEpoch` option, when given, wins. Default absent: inputs prepared once, clean.
   */
  augmentEachEpoch?: boolean | string[];
}

/**
 * A model config as a user writes it (JSON, YAML or TypeScript), encoder options type-checked: every
 * section but `inputs` and `output.field` has defaults. Write configs with `defineConfig({...})` (or
 * `satisfies TypedModelConfig`) so that `hiddenSise` is a type error, as it is a `ConfigError` at run time.
 */
export interface TypedModelConfig {
  inputs: Record<string, InputConfig>;
  fusion?: FusionConfig;
  output: OutputConfigInput;
  training?: TrainingConfig;
}

/**
 * What `normalizeConfig` and `FusionModel.create` accept: a config as written (defaults optional; encoder
 * options are checked at run time against the plugins' declared schemas), which includes an already
 * normalized `ResolvedConfig`.
 */
export interface FusionModelConfig {
  inputs: Record<string, UntypedInputConfig | InputConfig>;
  fusion?: FusionConfig;
  output: OutputConfigInput;
  training?: TrainingConfig;
}

/**
 * Returns `config` unchanged, typed: a misspelt or mistyped encoder option is a compile error. (Not
 * generic on purpose: a type parameter would turn off the excess-property check that catches typos.)
 */
export function defineConfig(config: TypedModelConfig): TypedModelConfig {
  return config;
}

// ---------------------------------------------------------------------------------------------------------
// Normalized types

/** An input after normalization: the encoder options as written (checked), plain JSON. */
export interface ResolvedInputConfig {
  type: string;
  /** The sample field read, when it is not the input's name. */
  field?: string;
  encoder: { kind: string; [k: string]: JsonValue };
  preprocessing?: JsonObject;
  maxTokens?: number;
  project?: boolean;
}

/** A config with every default filled in. */
export interface ResolvedConfig {
  inputs: Record<string, ResolvedInputConfig>;
  fusion: Required<Omit<FusionConfig, 'blockShapes'>> & { blockShapes?: Record<string, BlockShape> };
  output: OutputConfig;
  training: Required<Omit<TrainingConfig, 'warmupSteps' | 'clipNorm' | 'earlyStoppingPatience' | 'classWeights' | 'augmentEachEpoch' | 'averageEpochs' | 'ensemble'>> & {
    /** Absent when off, so configs and saved models written before it existed stay byte-identical. */
    augmentEachEpoch?: boolean | string[];
    /** Absent when off (1), for the same reason. */
    averageEpochs?: number;
    /** Absent when off (1), for the same reason. */
    ensemble?: number;
    warmupSteps: number | null;
    clipNorm: number | null;
    earlyStoppingPatience: number | null;
    classWeights: 'balanced' | Record<string, number> | null;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Schemas

const int = (min: number) => z.int().min(min);
const jsonValue: z.ZodType<JsonValue> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]));

/** The top-level sections of a model config. */
export const MODEL_KEYS = ['inputs', 'fusion', 'output', 'training'] as const;

const MODALITY = /^[a-z][a-z0-9-]*$/;

/** An input's generic shape (the encoder options are checked against the plugin's own schema). */
const inputSchema = z.strictObject({
  type: z.string().regex(MODALITY, 'a lowercase modality name such as "text"').describe('Modality: text, audio, image, or a third-party type such as tabular.'),
  field: z.string().min(1).optional().describe("The sample field this input reads. Default: the input's name (two inputs may read one field)."),
  encoder: z.looseObject({ kind: z.string().min(1).describe('Encoder kind: a short name (rnn → text/rnn) or a full registry kind.') }).describe('The encoder and its options.'),
  preprocessing: z.record(z.string(), jsonValue).optional().describe('Merged into the encoder options.'),
  maxTokens: int(1).nullable().optional().describe('Cap on the tokens this input contributes (longer sequences are mean-pooled). Default: no cap.'),
  project: z.boolean().optional().describe('Project the encoder features to dModel. Default true.'),
});

/**
 * Upper bounds of the fusion sizes (far above any model this SDK trains on a CPU): a config, or a saved
 * model whose config was edited, beyond them is refused before anything is built.
 */
export const FUSION_LIMITS = { dModel: 4096, layers: 64, heads: 64, ffDim: 16384 } as const;

export const fusionSchema = z.strictObject({
  strategy: z.enum(['transformer', 'late', 'cross-attention']).default('transformer').describe('transformer: early fusion over all tokens; late: pool, concatenate, MLP; cross-attention: MulT. Default transformer.'),
  dModel: int(2).max(FUSION_LIMITS.dModel).default(128).describe(`Token width (even, at most ${FUSION_LIMITS.dModel}). Default 128.`),
  layers: int(1).max(FUSION_LIMITS.layers).default(2).describe(`Transformer blocks (at most ${FUSION_LIMITS.layers}). Default 2.`),
  heads: int(1).max(FUSION_LIMITS.heads).default(4).describe(`Attention heads; must divide dModel (at most ${FUSION_LIMITS.heads}). Default 4.`),
  ffDim: int(1).max(FUSION_LIMITS.ffDim).optional().describe(`Feed-forward width (at most ${FUSION_LIMITS.ffDim}). Default 2 x dModel.`),
  dropout: z.number().min(0).lt(1).default(0.1).describe('Dropout in the fusion layers. Default 0.1.'),
  modalityDropout: z.number().min(0).lt(1).default(0.1).describe('Probability of hiding a present modality (a sample field: inputs reading one field together) of a sample in training (one always stays). Default 0.1.'),
  blockShapes: z.record(z.string().regex(/^(block\d+|stream\d+\.block\d+|hidden)$/, 'a block path: blockN, streamM.blockN or hidden'), z.strictObject({
    heads: int(1).optional().describe('Attention heads kept, each dModel / heads wide.'),
    ffDim: int(1).optional().describe('Feed-forward (or late-fusion hidden) width.'),
  })).optional().describe('Per-block sizes written by structured pruning (mmfuse compress --prune). Default none.'),
});

export const outOfScopeSchema = z.strictObject({
  threshold: z.union([z.literal('auto'), z.number().min(0).max(1), z.null()]).default('auto').describe('auto: chosen on validation data; a calibrated top probability in [0, 1] below which a prediction is out of scope; null: never. Default auto.'),
  maxRejectedCorrect: z.number().min(0).lt(1).default(0.01).describe('auto only: the largest fraction of correctly answered validation samples called out of scope. Default 0.01.'),
  labels: z.array(z.string().min(1)).min(1).refine((l) => new Set(l).size === l.length, 'each label once').optional().describe('Labels whose training examples are out-of-scope requests (e.g. an out_of_scope intent): a prediction of one is out of scope whatever its probability. Default none.'),
  score: z.enum(SCOPE_SCORES).optional().describe('What the threshold applies to: probability (the calibrated top probability) or energy+nearest (the mean percentile, among the validation requests, of the logits\' energy and of the similarity to the nearest in-scope training sample; keeps the training samples\' fused vectors in the model). Default: probability (absent, so configs and models written before it stay byte-identical).'),
});

export const outputSchema = z.strictObject({
  field: z.string().min(1).describe('Manifest field holding the target.'),
  type: z.enum(['category', 'multi-label', 'regression']).default('category').describe('category, multi-label or regression. Default category.'),
  calibration: z.enum(['temperature', 'none']).optional().describe('Category only: temperature (fitted on validation data after training) or none. Default temperature.'),
  outOfScope: outOfScopeSchema.optional().describe('Category only: when a prediction is out of scope. Default { threshold: auto, maxRejectedCorrect: 0.01 }.'),
});

export const trainingSchema = z.strictObject({
  epochs: int(1).default(10).describe('Default 10.'),
  batchSize: int(1).default(32).describe('Default 32.'),
  learningRate: z.number().gt(0).max(10).default(1e-3).describe('Peak learning rate. Default 0.001.'),
  weightDecay: z.number().min(0).max(1).default(0.01).describe('AdamW decoupled weight decay. Default 0.01.'),
  warmupSteps: int(0).nullable().default(null).describe('Linear warmup steps; null: warmupRatio of all steps. Default null.'),
  warmupRatio: z.number().min(0).lt(1).default(0.1).describe('Fraction of all steps used for warmup when warmupSteps is null. Default 0.1.'),
  schedule: z.enum(['cosine', 'constant']).default('cosine').describe('cosine: warmup then cosine decay; constant: warmup then flat. Default cosine.'),
  minLearningRate: z.number().min(0).default(0).describe('Floor of the cosine decay (<= learningRate). Default 0.'),
  clipNorm: z.number().gt(0).nullable().default(1).describe('Clip gradients to this global norm; null: off. Default 1.'),
  labelSmoothing: z.number().min(0).lt(1).default(0).describe('Label smoothing for category and multi-label heads. Default 0.'),
  classWeights: z.union([z.literal('balanced'), z.record(z.string(), z.number().min(0)), z.null()]).default(null).describe('balanced, { label: weight }, or null. Default null.'),
  earlyStoppingPatience: int(1).nullable().default(3).describe('Epochs without a better validation loss before stopping; null: off. Default 3.'),
  seed: int(0).default(42).describe('Seed of every random choice. Default 42.'),
  averageEpochs: int(1).optional().describe('Average the weights of the last N epochs ending at the best validation epoch (kept only when its validation loss is lower); 1: off. Default: off (absent).'),
  ensemble: int(1).max(16).optional().describe('Train N members (seeds seed..seed+N-1) and answer with the mean of their logits; 1: off. Default: off (absent).'),
  validationSplit: z.number().min(0).lt(1).default(0.1).describe('Fraction held out for validation when no validation set is given. Default 0.1.'),
  augmentEachEpoch: z.union([z.boolean(), z.array(z.string().min(1))]).optional().describe('Prepare the training inputs again each epoch (fresh augmentation in prepare): true, or the input fields. Default: off (absent).'),
});

// ---------------------------------------------------------------------------------------------------------
// Normalization

/** The sample field an input reads: its `field`, else its name. */
export function inputField(name: string, input: { field?: string | undefined }): string {
  return input.field ?? name;
}

/** The registry kind of an input's encoder. */
export function encoderKind(input: { type: string; encoder: { kind: string } }): string {
  return input.encoder.kind.includes('/') ? input.encoder.kind : `${input.type}/${input.encoder.kind}`;
}

/** The config handed to the registry: the encoder keys without `kind`, then `preprocessing` merged in. */
export function encoderConfig(input: { encoder: { kind: string }; preprocessing?: JsonObject }): JsonObject {
  const { kind: _kind, ...rest } = input.encoder as { kind: string; [k: string]: JsonValue };
  return { ...rest, ...(input.preprocessing ?? {}) } as JsonObject;
}

/** Options of `normalizeConfig`. */
export interface NormalizeOptions {
  /** Registry whose declared option schemas check the encoder options. Default: the process-wide one. */
  registry?: EncoderRegistry;
  /** The config file, for error messages. */
  file?: string;
}

function describeType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * Check an input's encoder options against the schema its plugin declared (when the kind is registered;
 * an unregistered kind is left to `registry.create`, which names the plugin to import). Options found in
 * `preprocessing` are reported under that key.
 */
function checkEncoderOptions(field: string, input: ResolvedInputConfig, registry: EncoderRegistry, file: string | undefined): void {
  const kind = encoderKind(input);
  if (!registry.has(kind)) return;
  const entry = registry.get(kind);
  if (entry.modality !== input.type) {
    throw new ConfigError(`encoder ${kind} reads "${entry.modality}", but the input's type is "${input.type}"`, { path: `inputs.${field}.type`, ...(file !== undefined ? { file } : {}) });
  }
  const merged = encoderConfig(input);
  try {
    registry.parseConfig(kind, merged);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const key = err.path?.split(/[.[]/)[0];
    const section = key !== undefined && input.preprocessing !== undefined && Object.hasOwn(input.preprocessing, key) ? 'preprocessing' : 'encoder';
    const reason = err.path === undefined ? err.reason : err.reason.slice(err.path.length + 2);
    throw new ConfigError(reason, { path: `inputs.${field}.${section}${err.path === undefined ? '' : `.${err.path}`}`, cause: err, ...(file !== undefined ? { file } : {}) });
  }
}

/**
 * Check a config as written (parsed JSON/YAML or a TypeScript object) and fill in the documented
 * defaults. Throws `ConfigError` naming the key path; the result is plain JSON.
 */
export function normalizeConfig(raw: unknown, options: NormalizeOptions = {}): ResolvedConfig {
  const registry = options.registry ?? globalRegistry;
  const file = options.file;
  const loc = (path: string) => ({ path, ...(file !== undefined ? { file } : {}) });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`must be an object, got ${describeType(raw)}`, loc('(config)'));
  const root = raw as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!(MODEL_KEYS as readonly string[]).includes(key)) throw new ConfigError(unknownKeyReason(key, MODEL_KEYS), loc(key));
  }

  const inputsRaw = root.inputs;
  if (typeof inputsRaw !== 'object' || inputsRaw === null || Array.isArray(inputsRaw) || Object.keys(inputsRaw).length === 0) {
    throw new ConfigError('must be an object with at least one input field, e.g. { "text": { "type": "text", "encoder": { "kind": "rnn" } } }', loc('inputs'));
  }
  // Field names are the user's (`constructor`, `__proto__` are fields like any other).
  const inputs = createRecord<ResolvedInputConfig>();
  for (const [field, value] of Object.entries(inputsRaw)) {
    const path = `inputs.${field}`;
    if (field === '') throw new ConfigError('field name must not be empty', loc(path));
    const parsed = parseOptions(inputSchema, value, loc(path));
    // Plain JSON copies: the result never aliases the caller's objects.
    const input: ResolvedInputConfig = { type: parsed.type, encoder: JSON.parse(JSON.stringify(parsed.encoder)) as ResolvedInputConfig['encoder'] };
    if (parsed.field !== undefined && parsed.field !== field) input.field = parsed.field;
    if (parsed.preprocessing !== undefined) input.preprocessing = JSON.parse(JSON.stringify(parsed.preprocessing)) as JsonObject;
    if (parsed.maxTokens !== undefined && parsed.maxTokens !== null) input.maxTokens = parsed.maxTokens;
    if (parsed.project !== undefined) input.project = parsed.project;
    checkEncoderOptions(field, input, registry, file);
    inputs[field] = input;
  }

  const f = parseOptions(fusionSchema, root.fusion ?? {}, loc('fusion'));
  if (f.dModel % 2 !== 0) throw new ConfigError(`must be even (sinusoidal positions pair sin and cos), got ${f.dModel}`, loc('fusion.dModel'));
  if (f.dModel % f.heads !== 0) throw new ConfigError(`must divide dModel ${f.dModel}, got ${f.heads}`, loc('fusion.heads'));
  const fusion: ResolvedConfig['fusion'] = { ...f, ffDim: f.ffDim ?? 2 * f.dModel };
  if (f.blockShapes === undefined) delete fusion.blockShapes;
  else fusion.blockShapes = JSON.parse(JSON.stringify(f.blockShapes)) as Record<string, BlockShape>;

  if (typeof root.output !== 'object' || root.output === null || Array.isArray(root.output)) {
    throw new ConfigError(`must be an object such as { "field": "label", "type": "category" }, got ${describeType(root.output)}`, loc('output'));
  }
  const parsedOutput = parseOptions(outputSchema, root.output, loc('output'));
  // calibration and outOfScope stay as written (their defaults come from `calibrationSettings`), so a model
  // saved before they existed keeps its config byte for byte when it is loaded and saved again.
  const output: OutputConfig = { field: parsedOutput.field, type: parsedOutput.type };
  for (const key of ['calibration', 'outOfScope'] as const) {
    if (parsedOutput[key] === undefined) continue;
    if (parsedOutput.type !== 'category') throw new ConfigError(`applies to category outputs only, not ${parsedOutput.type}`, loc(`output.${key}`));
  }
  if (parsedOutput.calibration !== undefined) output.calibration = parsedOutput.calibration;
  if (parsedOutput.outOfScope !== undefined) output.outOfScope = parsedOutput.outOfScope;
  if (Object.hasOwn(inputs, output.field)) throw new ConfigError(`"${output.field}" is also an input; the target cannot be an input`, loc('output.field'));
  for (const [name, input] of Object.entries(inputs)) {
    if (input.field === output.field) throw new ConfigError(`"${output.field}" is the target field; an input cannot read it`, loc(`inputs.${name}.field`));
  }

  const training: ResolvedConfig['training'] = parseOptions(trainingSchema, root.training ?? {}, loc('training'));
  if (training.minLearningRate > training.learningRate) {
    throw new ConfigError(`must be <= learningRate ${training.learningRate}, got ${training.minLearningRate}`, loc('training.minLearningRate'));
  }
  if (training.classWeights !== null && output.type === 'regression') throw new ConfigError('has no meaning for a regression output', loc('training.classWeights'));
  const classWeights = training.classWeights === null || training.classWeights === 'balanced' ? training.classWeights : labelWeightsOf((root.training as Record<string, unknown>).classWeights as Record<string, unknown>, loc);
  return { inputs, fusion, output, training: { ...training, classWeights } };
}

/**
 * `training.classWeights` keyed by label, from the config as written: the schema's record drops a label
 * named `__proto__` (it never assigns that key), so the weights are copied from the own keys of the input
 * into a null-prototype record, each checked as the schema checks the others (a number >= 0).
 */
function labelWeightsOf(raw: Record<string, unknown>, loc: (path: string) => { path: string; file?: string }): Record<string, number> {
  const out = createRecord<number>();
  for (const [label, weight] of Object.entries(raw)) {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new ConfigError(`must be a number >= 0, got ${typeof weight === 'number' ? weight : describeType(weight)}`, loc(`training.classWeights.${label}`));
    out[label] = weight;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// JSON Schema

/** Keys of a config file that the CLI (and `readConfigFile`) read besides the model sections. */
export const FILE_KEYS = ['data', 'plugins', 'description'] as const;
/** Keys of `data`. */
export const DATA_KEYS = ['train', 'validation', 'test'] as const;

function isObjectSchema(schema: OptionsSchema | undefined): schema is z.ZodObject {
  return schema !== undefined && (schema as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'object';
}

/** The schema of one registered encoder kind's input: `type` fixed to its modality, its options beside `kind`. */
function pluginInputSchema(kind: string, modality: string, options: OptionsSchema | undefined): z.ZodType {
  const slash = kind.indexOf('/');
  const names = kind.slice(0, slash) === modality ? [kind.slice(slash + 1), kind] : [kind];
  const kindSchema = z.enum(names as [string, ...string[]]).describe(`${kind}${names.length > 1 ? ` (or "${names[0]}" for type ${modality})` : ''}`);
  const encoder = isObjectSchema(options) ? options.extend({ kind: kindSchema }) : z.looseObject({ kind: kindSchema });
  const preprocessing = isObjectSchema(options) ? options.partial() : z.record(z.string(), jsonValue);
  return z.strictObject({
    type: z.literal(modality),
    field: inputSchema.shape.field,
    encoder,
    preprocessing: preprocessing.optional().describe('Merged into the encoder options.'),
    maxTokens: inputSchema.shape.maxTokens,
    project: inputSchema.shape.project,
  });
}

/**
 * The JSON Schema (draft 2020-12) of a config file as written: the model sections, with each input a
 * union over the registered encoders (their declared options, "additionalProperties": false), plus
 * `data`, `plugins` and `description`. `mmfuse schema > mmfuse.schema.json` writes it for editors.
 */
export function configJsonSchema(options: { registry?: EncoderRegistry } = {}): Record<string, unknown> {
  const registry = options.registry ?? globalRegistry;
  const members = registry.list().map((r) => pluginInputSchema(r.kind, r.modality, r.options as OptionsSchema | undefined));
  const input = members.length === 0 ? inputSchema : members.length === 1 ? members[0] as z.ZodType : z.union(members as [z.ZodType, z.ZodType, ...z.ZodType[]]);
  const schema = z.strictObject({
    description: z.string().optional().describe('Free text for humans.'),
    inputs: z.record(z.string(), input).describe('Input fields (manifest columns) and their encoders.'),
    fusion: fusionSchema.optional().describe('How the modalities are fused.'),
    output: outputSchema.describe('The target.'),
    training: trainingSchema.optional().describe('Optimization.'),
    data: z.strictObject({
      train: z.string().min(1).optional().describe('Training manifest (JSONL or CSV), relative to the config file.'),
      validation: z.string().min(1).optional().describe('Validation manifest. Default: training.validationSplit of the training data.'),
      test: z.string().min(1).optional().describe('Test manifest, evaluated after training.'),
    }).nullable().optional().describe('Manifest paths, relative to the config file.'),
    plugins: z.array(z.string().min(1)).nullable().optional().describe('Modules that register encoders, imported before the model is built.'),
  });
  return {
    ...optionsJsonSchema(schema),
    title: 'mmfuse config',
    description: `An mmfuse model config (JSON or YAML). Encoders: ${registry.kinds().join(', ') || '(none registered)'}.`,
  };
}
