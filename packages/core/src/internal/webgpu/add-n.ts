/**
 * `AddN` on the WebGPU engine for any number of inputs. tfjs-backend-webgpu 4.22 sums all inputs in one shader,
 * which binds each input and the output as a storage buffer; WebGPU's default limit is 8 per shader stage
 * (the backend asks for no more), so an `addN` of 8 or more tensors (e.g. the squared norms of a model's
 * 30+ gradients, for clipping) makes an invalid pipeline: Dawn prints a validation error and the result is
 * garbage, with no exception. The backend's own `concat` splits its inputs the same way.
 *
 * This kernel runs the stock one on at most `limit - 1` inputs at a time, as a left fold
 * ((x0 + … + x6) + x7 + … + x12) + …, the order the stock shader sums in.
 */
import * as tf from '@tensorflow/tfjs';

interface WebGpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): boolean | void;
}

const WRAPPED = Symbol.for('mmfuse.webgpu.addN');

/** Replace the WebGPU backend's `AddN` with the folding one (idempotent). True when this call replaced it. */
export function registerWebGpuAddN(): boolean {
  const stock = tf.getKernel(tf.AddN, 'webgpu');
  if (stock === undefined || (stock.kernelFunc as { [WRAPPED]?: boolean })[WRAPPED] === true) return false;
  const stockFunc = stock.kernelFunc;
  const kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const backend = args.backend as unknown as WebGpuBackendLike;
    const most = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
    if (inputs.length <= most) return stockFunc(args);
    const run = (xs: tf.TensorInfo[]): tf.TensorInfo => stockFunc({ ...args, inputs: xs as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
    let acc = run(inputs.slice(0, most));
    for (let i = most; i < inputs.length; i += most - 1) {
      const next = run([acc, ...inputs.slice(i, i + most - 1)]);
      backend.disposeData(acc.dataId);
      acc = next;
    }
    return acc;
  }) as tf.KernelFunc;
  (kernelFunc as { [WRAPPED]?: boolean })[WRAPPED] = true;
  tf.unregisterKernel(tf.AddN, 'webgpu');
  tf.registerKernel({ ...stock, kernelFunc });
  return true;
}
