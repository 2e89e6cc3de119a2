/**
 * @mmfuse/core: plugin contracts, registry, engine selection, data manifests, errors and seeding.
 * Everything that does not need TensorFlow.js is in `./base.ts` (the `@mmfuse/core/base` entry).
 */
export * from './base.js';
export { ENGINE_ENV_VAR, ENGINE_ORDER, getEngineInfo, initEngine } from './engine.js';
export type { EngineInfo, EngineName, InitEngineOptions, SkippedEngine } from './engine.js';
export { dropout, dropoutMask } from './dropout.js';
export { lstmCell } from './internal/wasm/lstm_cell.js';
export { registerWasmKernels, unregisterWasmKernels } from './internal/wasm/register.js';
export type { WasmKernelReport } from './internal/wasm/register.js';
