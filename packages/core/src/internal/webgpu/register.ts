/**
 * Kernels mmfuse registers on the WebGPU engine. tfjs-backend-webgpu 4.22 has every stock kernel mmfuse's
 * models use (conv weight gradients, MaxPoolGrad, UnsortedSegmentSum included), so only mmfuse's own ops
 * need WebGPU versions: the LSTM step (a shader pair each way instead of ~35 dispatches). One stock kernel is
 * replaced: `AddN`, which fails silently on more inputs than a shader may bind (add-n.ts). mmfuse's other
 * fused ops (layerNorm, dropout, attention, GELU, the AdamW update) run as compositions of the backend's
 * kernels there, with the same values and gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { registerLstmCellGradient } from '../wasm/lstm_cell.js';
import { registerWebGpuAddN } from './add-n.js';
import { lstmCellWebGpuConfigs } from './lstm-cell.js';

/** Register mmfuse's WebGPU kernels (idempotent). Returns the kernels added by this call. */
export function registerWebGpuKernels(): string[] {
  registerLstmCellGradient();
  const added: string[] = [];
  for (const config of lstmCellWebGpuConfigs) {
    if (tf.getKernel(config.kernelName, 'webgpu') !== undefined) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  if (registerWebGpuAddN()) added.push(tf.AddN);
  return added;
}
