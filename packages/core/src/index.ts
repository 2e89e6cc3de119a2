/**
 * @mmfuse/core: plugin contracts, registry, engine selection, data manifests, errors and seeding.
 */
export type {
  EncodeOptions,
  EncoderFactory,
  EncoderOutput,
  EncoderRegistration,
  JsonObject,
  JsonValue,
  ModalityEncoder,
  Outcome,
  PrepareContext,
  RawInputKind,
  RawInputSpec,
  TensorMap,
} from './types.js';
export { DEFAULT_RAW_INPUT, rawInputOf } from './types.js';
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
export { EncoderRegistry, encoders, registerEncoder, registerEncoderOnce } from './registry.js';
export { ENGINE_ENV_VAR, ENGINE_ORDER, THREADS_ENV_VAR, WASM_PACKAGE, getEngineInfo, initEngine } from './engine.js';
export type { EngineInfo, EngineName, InitEngineOptions, SkippedEngine } from './engine.js';
export { loadManifest, readManifest, skippedFromError } from './manifest.js';
export type { FieldKind, ManifestOptions, ManifestSample, SkippedSample } from './manifest.js';
export { resolveDataPath } from './paths.js';
export type { ResolvePathOptions } from './paths.js';
export { Rng, createRng, hashString } from './random.js';
export { lstmCell } from './internal/wasm/lstm_cell.js';
export { attention, MASKED_SCORE } from './internal/wasm/attention.js';
export type { AttentionArgs, AttentionLayout } from './internal/wasm/attention.js';
export { DropoutStream, dropoutMask } from './internal/wasm/dropout_mask.js';
export { dropout } from './internal/wasm/dropout.js';
export { gelu } from './internal/wasm/gelu.js';
export { layerNorm } from './internal/wasm/layer_norm.js';
export { adamwUpdate } from './internal/wasm/adamw.js';
export type { AdamWUpdateOptions } from './internal/wasm/adamw.js';
export { registerWasmKernels, unregisterWasmKernels } from './internal/wasm/register.js';
export type { WasmKernelReport } from './internal/wasm/register.js';
