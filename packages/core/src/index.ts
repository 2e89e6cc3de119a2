/**
 * @mmfuse/core: plugin contracts, registry, engine selection, data manifests, errors and seeding.
 * Everything that does not need TensorFlow.js is in `./base.ts` (the `@mmfuse/core/base` entry).
 */
export * from './base.js';
export { ENGINE_ENV_VAR, ENGINE_ORDER, THREADS_ENV_VAR, WASM_PACKAGE, getEngineInfo, initEngine } from './engine.js';
export type { EngineInfo, EngineName, InitEngineOptions, SkippedEngine } from './engine.js';
export { dropout, dropoutMask } from './dropout.js';
export { ctcLoss } from './ops/ctc-loss.js';
export type { CtcLossOptions, CtcReduction, CtcTarget } from './ops/ctc-loss.js';
export { ctcGreedyDecode } from './ops/ctc-greedy-decode.js';
export type { CtcGreedyDecodeOptions } from './ops/ctc-greedy-decode.js';
export { editDistance, errorRate } from './ops/edit-distance.js';
export type { ErrorRate } from './ops/edit-distance.js';
export { RecurrentLayer } from './layers/recurrent-layer.js';
export { seededVariable } from './layers/seeded-variable.js';
export type { SeededInit } from './layers/seeded-variable.js';
export type { RecurrentApplyOptions, RecurrentCell, RecurrentLayerArgs, RecurrentOutput } from './layers/recurrent-layer.js';
export { lstmCell } from './internal/wasm/lstm_cell.js';
export { attention, MASKED_SCORE } from './internal/wasm/attention.js';
export type { AttentionArgs, AttentionLayout } from './internal/wasm/attention.js';
export { DropoutStream } from './internal/wasm/dropout_mask.js';
export { gelu } from './internal/wasm/gelu.js';
export { layerNorm } from './internal/wasm/layer_norm.js';
export { adamwUpdate } from './internal/wasm/adamw.js';
export type { AdamWUpdateOptions } from './internal/wasm/adamw.js';
export { registerWasmKernels, unregisterWasmKernels } from './internal/wasm/register.js';
export type { WasmKernelReport } from './internal/wasm/register.js';
export { formatClock } from './format-clock.js';
