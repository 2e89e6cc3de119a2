/**
 * Kernels that the wasm backend lacks or runs slowly, registered when mmfuse starts the wasm engine:
 * - missing gradients: Conv2DBackpropFilter (conv1d/conv2d weights), DepthwiseConv2dNativeBackpropFilter/Input,
 *   UnsortedSegmentSum (the gradient of gather, i.e. of embeddings), and its own gradient without the stock
 *   gradient's broadcast logicalAnd (slow on wasm);
 * - BatchMatMul and _FusedMatMul with a transposed operand, rerouted to the fast untransposed path, and
 *   batches of small products split into single products (4x faster on wasm);
 * - Transpose above rank 4 (a generic slow path in the stock kernel);
 * - GatherV2 (every embedding lookup), whose stock kernel takes about 55 ns per gathered element;
 * - Slice, Unpack and SplitV, whose stock kernels copy the whole input through JavaScript for every slice,
 *   and Identity, which copied what it can share;
 * - Conv2DBackpropInput: with stride 1 a Conv2D (XNNPACK) of the padded output gradient, with a wider stride one
 *   product dy·Wᵀ and a col2im (the stock kernel is a direct loop);
 * - Conv2D / FusedConv2D with 'same' padding and a stride wider than the filter, which the stock kernel
 *   gets wrong;
 * - _FusedMatMul with a bias on a batch of matrices, which the stock kernel gets wrong;
 * - MaxPoolGrad, whose stock kernel gives wrong gradients;
 * - mmfuse's own fused ops and their gradients: the LSTM step (`lstmCell`), multi-head attention
 *   (`attention`), layer normalization (`layerNorm`), GELU (`gelu`), dropout (`dropout`) and the AdamW
 *   update of every variable at once (`adamwUpdate`).
 * Every kernel works on the wasm heap and calls the backend's own wasm kernels; none goes through the cpu
 * backend.
 */
import * as tf from '@tensorflow/tfjs';
import { adamwConfig, registerAdamwFlag } from './adamw.js';
import { attentionConfigs, attentionGradConfig, registerAttentionFlag, registerAttentionGradients } from './attention.js';
import { fastBatchMatMul, MMFUSE_WRAPPED } from './batch_matmul.js';
import { conv2DBackpropInput } from './conv2d_backprop_input.js';
import { sameAsExplicitPadding } from './conv2d_same.js';
import { conv2DBackpropFilterConfig, registerIm2colFlag } from './conv2d_backprop_filter.js';
import { fusedMatMul } from './fused_matmul.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise_conv2d_backprop.js';
import { dropoutConfig, registerDropoutGradient } from './dropout.js';
import { geluConfig, geluGradConfig, registerGeluFlag, registerGeluGradient } from './gelu.js';
import { layerNormConfig, layerNormGradConfig, registerLayerNormGradient } from './layer_norm.js';
import { lstmCellConfig, lstmCellGradConfig, registerLstmCellGradient } from './lstm_cell.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { fastGather } from './gather.js';
import { fastSlice, fastSplitV, fastUnpack, sharedIdentity } from './slice.js';
import { fastTranspose } from './transpose.js';
import { registerUnsortedSegmentSumGradient, unregisterUnsortedSegmentSumGradient, unsortedSegmentSumConfig } from './unsorted_segment_sum.js';

/** Kernels added where the wasm backend has none. */
export const ADDED_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
  lstmCellConfig,
  lstmCellGradConfig,
  ...attentionConfigs,
  attentionGradConfig,
  layerNormConfig,
  layerNormGradConfig,
  geluConfig,
  geluGradConfig,
  dropoutConfig,
  adamwConfig,
];

/** Stock kernels that give wrong results, replaced outright. */
export const REPLACED_KERNELS: readonly tf.KernelConfig[] = [maxPoolGradConfig];

/**
 * Stock kernels wrapped: the wrapper takes over the cases the stock kernel runs slowly or gets wrong and
 * passes every other call to it.
 */
export const WRAPPED_KERNELS = ['BatchMatMul', '_FusedMatMul', 'Transpose', 'Conv2DBackpropInput', 'Conv2D', 'FusedConv2D', 'Slice', 'Unpack', 'SplitV', 'Identity', 'GatherV2'] as const;

const WRAPPERS: Record<(typeof WRAPPED_KERNELS)[number], (stock: never) => tf.KernelFunc> = {
  BatchMatMul: fastBatchMatMul,
  _FusedMatMul: fusedMatMul,
  Transpose: fastTranspose,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2D: sameAsExplicitPadding,
  FusedConv2D: sameAsExplicitPadding,
  Slice: fastSlice,
  Unpack: fastUnpack,
  SplitV: fastSplitV,
  Identity: sharedIdentity,
  GatherV2: fastGather,
};

/** What `registerWasmKernels` did, for logs and tests. */
export interface WasmKernelReport {
  /** Kernels mmfuse registered in this call. */
  added: string[];
  /** Kernels left alone because the wasm backend (a newer version, or an earlier call) already has them. */
  present: string[];
}

/** Stock kernels mmfuse replaced or wrapped, kept so that `unregisterWasmKernels` can put them back. */
const stockConfigs = new Map<string, tf.KernelConfig>();

function wrapStock(name: (typeof WRAPPED_KERNELS)[number], report: WasmKernelReport): void {
  const stock = tf.getKernel(name, 'wasm');
  if (stock === undefined) return; // Nothing to speed up (a wasm backend without this kernel).
  if ((stock.kernelFunc as unknown as Record<symbol, unknown>)[MMFUSE_WRAPPED] === true) {
    report.present.push(name);
    return;
  }
  stockConfigs.set(name, stock);
  tf.unregisterKernel(name, 'wasm');
  const config: tf.KernelConfig = {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: WRAPPERS[name](stock.kernelFunc as never),
  };
  if ((config.kernelFunc as unknown as Record<symbol, unknown>)[MMFUSE_WRAPPED] !== true) Object.defineProperty(config.kernelFunc, MMFUSE_WRAPPED, { value: true });
  // Keep the stock setup (it binds the wasm function) so that a later setBackend('wasm') still runs it.
  if (stock.setupFunc !== undefined) config.setupFunc = stock.setupFunc;
  if (stock.disposeFunc !== undefined) config.disposeFunc = stock.disposeFunc;
  tf.registerKernel(config);
  report.added.push(name);
}

/**
 * Register mmfuse's wasm kernels. Idempotent: kernels already registered (by an earlier call or by the wasm
 * backend itself) are left alone, so calling it again, or after switching backends, changes nothing.
 * Needs `@tensorflow/tfjs-backend-wasm` to have been imported (it registers the stock kernels).
 */
export function registerWasmKernels(): WasmKernelReport {
  const report: WasmKernelReport = { added: [], present: [] };
  registerIm2colFlag();
  registerAdamwFlag();
  registerAttentionFlag();
  registerGeluFlag();
  registerLstmCellGradient();
  registerAttentionGradients();
  registerLayerNormGradient();
  registerGeluGradient();
  registerDropoutGradient();
  registerUnsortedSegmentSumGradient();
  for (const config of ADDED_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') !== undefined) {
      report.present.push(config.kernelName);
      continue;
    }
    tf.registerKernel(config);
    report.added.push(config.kernelName);
  }
  for (const config of REPLACED_KERNELS) {
    const stock = tf.getKernel(config.kernelName, 'wasm');
    if (stock?.kernelFunc === config.kernelFunc) {
      report.present.push(config.kernelName);
      continue;
    }
    if (stock !== undefined) {
      stockConfigs.set(config.kernelName, stock);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
    report.added.push(config.kernelName);
  }
  for (const name of WRAPPED_KERNELS) wrapStock(name, report);
  return report;
}

/**
 * Undo `registerWasmKernels`: remove the added kernels and put the stock wasm kernels back. For benchmarks
 * (before/after) and tests; an application has no reason to call it. Returns the kernels it touched.
 */
export function unregisterWasmKernels(): string[] {
  const touched: string[] = [];
  for (const config of ADDED_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm')?.kernelFunc === config.kernelFunc) {
      tf.unregisterKernel(config.kernelName, 'wasm');
      touched.push(config.kernelName);
    }
  }
  for (const [name, stock] of stockConfigs) {
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(stock);
    touched.push(name);
  }
  stockConfigs.clear();
  if (unregisterUnsortedSegmentSumGradient()) touched.push('UnsortedSegmentSum (gradient)');
  return touched;
}
