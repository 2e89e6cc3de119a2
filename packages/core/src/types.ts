/**
 * The contracts every mmfuse modality plugin implements. Field docs here are the reference; the README
 * shows a complete third-party plugin.
 */
import type * as tf from '@tensorflow/tfjs';
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
  /** Size of the last axis of `encode().features`. Known after `build` (or earlier). */
  readonly outputDim: number;

  /** Turn one raw field value into a prepared value. Throws `InvalidInputError` (naming ctx.sample and ctx.field) on bad input. */
  prepare(raw: TRaw, ctx: PrepareContext): Promise<TPrepared>;
  /** Fit state on the prepared training values. Optional. */
  fit?(values: readonly TPrepared[]): void | Promise<void>;
  /** Create weights; calling it twice has no effect. */
  build(rng: Rng): void;
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
  /** Fitted state (vocabulary, statistics), JSON. */
  getState(): JsonObject;
  /** Restore fitted state saved by `getState`. */
  setState(state: JsonObject): void;
  /** Free weights and other resources. */
  dispose(): void;
}

/** Builds a plugin from its config. */
export type EncoderFactory = (config: JsonObject) => ModalityEncoder;

/** Registry entry. */
export interface EncoderRegistration {
  /** Registry name, e.g. `audio/cnn`. */
  kind: string;
  /** Modality type the plugin handles. */
  modality: string;
  factory: EncoderFactory;
  /** One line for `--help` and `inspect`. */
  description?: string;
}
