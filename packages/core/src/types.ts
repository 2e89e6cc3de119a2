/**
 * The contracts every mmfuse modality plugin implements. Field docs here are the reference; the README
 * shows a complete third-party plugin.
 */
import type * as tf from '@tensorflow/tfjs';
import type { MmfuseError } from './errors.js';
import type { OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder } from './onnx-graph.js';
import type { OptionsSchema } from './options.js';
import type { Rng } from './random.js';

/** Any JSON value. Fitted state and configs are JSON so they save as plain files. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Named tensors produced by `collate` (e.g. `{ ids }` or `{ features, lengths }`). */
export type TensorMap = Record<string, tf.Tensor>;

/** What `prepare` knows about the sample it works on, for error messages, paths and augmentation. */
export interface PrepareContext {
  /** Sample identifier used in error messages (manifest `id`, `file:line`, or request index). */
  sample: string | number;
  /** The sample's field being prepared (manifest column / config input name), e.g. `"audio"`. */
  field: string;
  /**
   * Folder that relative paths resolve against (the manifest's folder). Default: none, so a string
   * path must be absolute or already resolved by the manifest reader.
   */
  baseDir?: string;
  /** Allow paths outside `baseDir` (and absolute paths). Default `false`. */
  allowOutsideBaseDir?: boolean;
  /** True while preparing training data: enables augmentation. Default `false`. */
  training?: boolean;
  /** Random stream for augmentation; required by plugins when `training` and augmentation is on. */
  rng?: Rng;
}

/**
 * What a plugin's raw value is, so core, fusion, the CLI and the server handle it without naming a
 * modality:
 * - `file`: a file. Manifests and the command line give a path (resolved against the manifest's folder,
 *   contained in it unless allowed); requests send the bytes (base64 in JSON, a file part in multipart);
 *   the library also accepts a `Uint8Array`. `prepare` receives an absolute path or a `Uint8Array`.
 * - `bytes`: bytes that are not a file: base64 in manifests and JSON requests, a part in multipart;
 *   `prepare` receives a `Uint8Array`.
 * - `text`: a string.
 * - `json`: any JSON value, as written in the manifest or the request.
 */
export type RawInputKind = 'file' | 'bytes' | 'text' | 'json';

/** Every raw-input kind, for checks and docs. */
export const RAW_INPUT_KINDS: readonly RawInputKind[] = Object.freeze(['file', 'bytes', 'text', 'json'] as const);

/** The raw-input declaration of a plugin (`ModalityEncoder.input`). */
export interface RawInputSpec {
  kind: RawInputKind;
  /**
   * Largest raw value accepted, in bytes: the file size (checked with `stat` before anything is read),
   * the decoded byte length, the UTF-8 length of a text, or the length of a JSON value's text. Callers
   * refuse larger values with `LimitExceededError` before calling `prepare`.
   */
  maxBytes: number;
  /** Media types accepted (e.g. `audio/wav`), for upload forms and content checks. Default: any. */
  mediaTypes?: readonly string[];
}

/** Options of `ModalityEncoder.build`. */
export interface BuildOptions {
  /**
   * The caller assigns every weight right after `build` (loading a saved model): the initial values are never
   * read, so an encoder may skip drawing them (zeros instead of random normals). It must still create every weight
   * with its shape, in the same order, and draw from `rng` as it otherwise would. Default false.
   */
  weightsFollow?: boolean;
}

/** Options of `ModalityEncoder.encode`. */
export interface EncodeOptions {
  /** True in a training step: enables dropout and other train-only behaviour. */
  training: boolean;
  /** Random stream for dropout masks (one seed drives every random choice). */
  rng?: Rng;
}

/**
 * The output of every encoder: a feature sequence and the mask of its real steps.
 * - `features`: `[batch, time, dim]`, float32.
 * - `mask`: `[batch, time]`, float32, 1 = a real step, 0 = padding.
 */
// A type alias (not an interface) so it is a TensorContainer and can be returned from tf.tidy.
export type EncoderOutput = {
  features: tf.Tensor3D;
  mask: tf.Tensor2D;
  /**
   * Optional extra outputs for auxiliary losses, e.g. `{ ctcLogits: [batch, frames, symbols] }` of a
   * speech encoder; the fusion trainer hands them to loss terms and ignores them otherwise.
   */
  aux?: Record<string, tf.Tensor>;
};

/**
 * A modality plugin. Lifecycle:
 * 1. `prepare(raw, ctx)` per sample field, off the tensor path (decode, tokenize, extract features); async,
 *    may run ahead of training and be cached, so its result must be plain data (typed arrays, arrays,
 *    strings, numbers) that structured-clone and JSON (typed arrays as arrays) can carry.
 * 2. `fit(prepared)` once on the training set, before `build` (vocabulary, normalization statistics).
 * 3. `build(rng)` creates the weights (idempotent).
 * 4. `collate(prepared[])` stacks a batch into tensors; `encode(batch, opts)` returns features + mask.
 *    `encode` runs inside the caller's `tf.tidy`/gradient scope, so it must be synchronous and must not
 *    dispose its inputs.
 * 5. `getState()` / `setState()` carry the fitted state; `getConfig()` rebuilds the plugin through the
 *    registry; `weights` are saved in their listed order.
 */
export interface ModalityEncoder<TRaw = unknown, TPrepared = unknown> {
  /** Registry name, e.g. `text/rnn`. Static, never derived from `constructor.name`. */
  readonly kind: string;
  /** Modality type, e.g. `text`, `audio`, `image`, or a third-party type such as `tabular`. */
  readonly modality: string;
  /**
   * What the raw value is (file, bytes, text, JSON) and its byte limit. Optional for compatibility;
   * default `{ kind: 'json', maxBytes: 1 MiB }` (see `rawInputOf`).
   */
  readonly input?: RawInputSpec;
  /** Size of the last axis of `encode().features`. Known after `build` (or earlier). */
  readonly outputDim: number;

  /** Turn one raw field value into a prepared value. Throws `InvalidInputError` (naming ctx.sample and ctx.field) on bad input. */
  prepare(raw: TRaw, ctx: PrepareContext): Promise<TPrepared>;
  /** Fit state on the prepared training values. Optional. */
  fit?(values: readonly TPrepared[]): void | Promise<void>;
  /** Create weights; calling it twice has no effect. `options.weightsFollow`: the values are assigned next (a load). */
  build(rng: Rng, options?: BuildOptions): void;
  /** Stack prepared values into tensors. The caller disposes the returned tensors. */
  collate(values: readonly TPrepared[]): TensorMap;
  /** Encode a collated batch into a feature sequence and mask. */
  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput;

  /** Weights that the optimizer updates. */
  readonly trainableWeights: readonly tf.Variable[];
  /** Every weight (trainable first, then running statistics etc.) in a stable order, for save/load. */
  readonly weights: readonly tf.Variable[];

  /** Constructor config; `registry.create(kind, getConfig())` rebuilds an equivalent plugin. */
  getConfig(): JsonObject;
  /**
   * The options a saved model folder records for this encoder instead of the options as written, when
   * those name files the model folder does not need (e.g. `audio/phonetic` with `pretrained: DIR` records
   * its full architecture: the saved weights replace the folder's). Optional; undefined = as written.
   */
  savedConfig?(): JsonObject | undefined;
  /**
   * What `prepare`'s output depends on beyond the config (e.g. a hash of weights that `prepare` runs), so
   * the prepared-value cache never answers from values computed with other weights. Optional.
   */
  preparedKey?(): string | undefined;
  /**
   * What the encoder recognised in each row of an `encode` output, as symbols (e.g. a speech encoder's
   * phoneme transcript), for display ("heard: ..."). Optional; `undefined` when this instance cannot
   * transcribe (e.g. a speech encoder built without a CTC head), so callers show nothing.
   */
  transcribe?(output: EncoderOutput): string[][] | undefined;
  /** Fitted state (vocabulary, statistics), JSON. */
  getState(): JsonObject;
  /** Restore fitted state saved by `getState`. */
  setState(state: JsonObject): void;
  /** Free weights and other resources. */
  dispose(): void;

  /**
   * Optional: add the encoder's tensor part to an ONNX graph (`mmfuse export --format onnx`). Declare one
   * graph input per `collate` tensor (same key, dtype and layout) with `graph.input`, and return what
   * `encode` returns in inference mode; see `OnnxGraphBuilder`. Without it a model using the encoder
   * cannot be exported (a `ConfigError` says which input).
   */
  exportOnnx?(graph: OnnxGraphBuilder, context: OnnxExportContext): OnnxEncoderGraph;
  /**
   * Optional, for compression (`mmfuse compress`): what each of `weights` is, in the same order. Without it,
   * a weight of rank >= 2 is taken to be a TensorFlow.js-layout kernel (`[in, out]`, `[k, in, out]`,
   * `[k, k, in, out]`) with its output channels on the last axis, and smaller ranks stay float32.
   */
  describeWeights?(): WeightDescription[];
  /**
   * Optional, for structured pruning: the encoder's groups of units that can be removed (conv channels,
   * recurrent hidden units). Without it the encoder is kept whole while the fusion layers are pruned.
   */
  pruningGroups?(): PruningGroup[];
  /**
   * Optional, with `pruningGroups`: the options that change when group `name` keeps `kept[name]` units
   * (e.g. `{ channels: [8, 16] }`), merged into the encoder's config. Building the encoder from the merged
   * config must give weights whose shapes are those of `weights` with the pruned units' slices removed.
   */
  prunedOptions?(kept: Readonly<Record<string, number>>): JsonObject;
}

/** One weight of an encoder, for compression (`ModalityEncoder.describeWeights`). */
export interface WeightDescription {
  /** Readable name for reports, e.g. `conv0.kernel`. */
  name: string;
  /**
   * The axis of the weight's output channels, along which int8 quantization takes one scale per slice:
   * the last axis of a TensorFlow.js kernel `[in, out]` or filter `[k, k, in, out]`, axis 0 of a
   * PyTorch-layout recurrent matrix `[gates × hidden, in]`, axis 0 of an embedding table `[vocab, dim]`
   * (one scale per token row). `null`: always stored as float32 (biases, normalization parameters,
   * running statistics).
   */
  outputAxis: number | null;
}

/**
 * A group of interchangeable units of an encoder (the output channels of a conv layer, the hidden units of
 * a recurrent layer and direction) for structured pruning. Zeroing every slice a unit owns must remove the
 * unit exactly (the encoder then computes what the encoder built without the unit computes), which is
 * what makes the pruned encoder's outputs checkable against a masked computation.
 */
export interface PruningGroup {
  /** Unique within the encoder, e.g. `conv1.channels`; the key of `prunedOptions`. */
  name: string;
  /** Units in the group. */
  size: number;
  /** The slices unit u owns: indices `indices(u)` along `axis` of `weights[weight]`. */
  slices: { weight: number; axis: number; indices(unit: number): number[] }[];
  /** Indices of the encoder's output features (last axis of `encode().features`) that unit u feeds, when it feeds the output. */
  outputFeatures?(unit: number): number[];
  /** Groups with the same `tie` must keep the same number of units (e.g. both directions of a recurrent layer). */
  tie?: string;
}

/** Builds a plugin from its (parsed) options. */
export type EncoderFactory<TOptions = JsonObject> = (options: TOptions) => ModalityEncoder;

/**
 * A plugin's registration: `registerEncoder({ kind, modality, options, input, factory, description })`.
 *
 * ```ts
 * import { registerEncoder, z, maxBytesOption } from '@mmfuse/core';
 * const options = z.strictObject({
 *   columns: z.int().min(1).describe('Numeric columns per sample.'),
 *   dim: z.int().min(1).default(16).describe('Feature size of each column token. Default 16.'),
 *   maxBytes: maxBytesOption(64 * 1024),
 * });
 * registerEncoder({
 *   kind: 'tabular/linear', modality: 'tabular', options,
 *   input: { kind: 'json', maxBytes: 64 * 1024 },
 *   factory: (o) => new TabularEncoder(o),          // o: z.output<typeof options>, defaults filled in
 *   description: 'numeric columns, one token each',
 * });
 * ```
 */
export interface EncoderRegistration<TOptions = JsonObject> {
  /** Registry name, `modality/name` in lowercase, e.g. `audio/cnn`. */
  kind: string;
  /** Modality type the plugin handles (a config input's `type`), e.g. `audio`. */
  modality: string;
  /**
   * The plugin's options, as a zod schema (use `z` from @mmfuse/core; `z.strictObject` so unknown keys are
   * refused with "did you mean"). The registry checks every config against it and hands the factory the
   * parsed value (defaults filled in); `@mmfuse/fusion` turns it into the config's JSON Schema. Optional:
   * without it the factory receives the config as written and must check it itself.
   */
  options?: OptionsSchema<TOptions>;
  /**
   * What the raw value is (file, bytes, text, JSON) and its default byte limit, known without building
   * the plugin. The built plugin's `input` (which may reflect a `maxBytes` option) takes precedence.
   */
  input?: RawInputSpec;
  factory: EncoderFactory<TOptions>;
  /** One line for `--help` and `inspect`. */
  description?: string;
}

/**
 * The options type of each registered encoder kind, for type-checked configs. Plugins add themselves by
 * module augmentation, beside their `registerEncoder` call:
 *
 * ```ts
 * declare module '@mmfuse/core' {
 *   interface EncoderOptionsByKind { 'tabular/linear': TabularEncoderConfig }
 * }
 * ```
 *
 * `@mmfuse/fusion`'s config input type is then a union by `type` and `encoder.kind` over these entries.
 */
export interface EncoderOptionsByKind {}

/** Default raw-input declaration of a plugin that declares none. */
export const DEFAULT_RAW_INPUT: RawInputSpec = Object.freeze({ kind: 'json', maxBytes: 1024 * 1024 });

/** The raw-input declaration of a plugin (its own, or the default for plugins that declare none). */
export function rawInputOf(encoder: Pick<ModalityEncoder, 'input'>): RawInputSpec {
  return encoder.input ?? DEFAULT_RAW_INPUT;
}

/**
 * The result of one item of a batch operation (a prediction, a prepared sample): a value, or the typed
 * error that refused this item alone. The error keeps its class; serialize it with its own `toJSON()`.
 */
export type Outcome<T, E = MmfuseError> = { ok: true; value: T } | { ok: false; error: E };
