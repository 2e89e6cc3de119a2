/**
 * `@mmfuse/core/base`: everything of @mmfuse/core that does not load TensorFlow.js — the plugin contract
 * types, errors, option checks and schemas, the encoder registry, manifests, paths and seeded randomness.
 * Side-effect-free entries of the plugin packages (e.g. `@mmfuse/audio/dsp`) import from here, so using
 * them never starts an engine. `@mmfuse/core` re-exports all of it.
 */
export type {
  BuildOptions,
  EncodeOptions,
  EncoderFactory,
  EncoderOptionsByKind,
  EncoderOutput,
  EncoderRegistration,
  JsonObject,
  JsonValue,
  ModalityEncoder,
  Outcome,
  PrepareContext,
  PruningGroup,
  RawInputKind,
  RawInputSpec,
  TensorMap,
  WeightDescription,
} from './types.js';
export { DEFAULT_RAW_INPUT, RAW_INPUT_KINDS, rawInputOf } from './types.js';
export type { OnnxAttribute, OnnxDim, OnnxElementType, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OnnxTensorData, OnnxValue } from './onnx-graph.js';
export { onnxAxisLength, onnxLengthMask } from './onnx-helpers.js';
export {
  CheckpointError,
  ConfigError,
  EngineError,
  InternalError,
  IoError,
  InvalidInputError,
  LimitExceededError,
  MmfuseError,
  ModelFormatError,
  StateError,
  UnsupportedFormatError,
  UsageError,
  describeValue,
  isMmfuseError,
} from './errors.js';
export type { ErrorLocation, MmfuseErrorCode, MmfuseErrorOptions } from './errors.js';
export { EncoderRegistry, checkRawInputSpec, encoders, registerEncoder, registerEncoderOnce } from './registry.js';
export {
  checkBoolean,
  checkInteger,
  checkNumber,
  checkObject,
  checkOneOf,
  joinPath,
  maxBytesOption,
  optionsError,
  optionsJsonSchema,
  parseOptions,
  suggestKey,
  unknownKeyReason,
  z,
} from './options.js';
export type { ExpectTrue, OptionsLocation, OptionsMatch, OptionsSchema } from './options.js';
export { DEFAULT_MANIFEST_MAX_BYTES, loadManifest, readManifest, skippedFromError } from './manifest.js';
export type { FieldKind, ManifestOptions, ManifestSample, SkippedSample } from './manifest.js';
export { checkRawInput } from './raw-input.js';
export { resolveDataPath } from './paths.js';
export { createRecord, ownValue } from './records.js';
export { checkOutputTarget, checkWritable, processAlive } from './output-target.js';
export type { OutputRule, OutputState } from './output-target.js';
export type { ResolvePathOptions } from './paths.js';
export { Rng, createRng, hashString } from './random.js';
export { WASM_HEADER, sleb128, uleb128, wasmName, wasmSection } from './wasm-binary.js';
export { loadPretrainedModel, withTransformersEnv } from './pretrained.js';
export type { LoadPretrainedOptions, TransformersModule } from './pretrained.js';
