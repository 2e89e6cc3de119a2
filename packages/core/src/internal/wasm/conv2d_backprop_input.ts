/**
 * Conv2DBackpropInput (the input gradient of conv2d) on wasm. The stock kernel is a direct loop (~120 ms
 * for one [32, 50, 32, 32] → [32, 50, 32, 16] gradient of the reference model). With stride 1 the input
 * gradient is itself a convolution,
 *   dx = conv2d_valid(pad(dy, [fH − 1 − padTop, fH − 1 − padBottom], [fW − 1 − padLeft, fW − 1 − padRight]), W′)
 *   W′[fh, fw, o, c] = W[fH − 1 − fh, fW − 1 − fw, c, o]   (rotated 180°, in/out channels swapped)
 * which the stock Conv2D kernel runs on XNNPACK. Strided convolutions, NCHW and padding wider than the
 * filter keep the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { convInfo, type PadAttr } from './conv_info.js';
import { MMFUSE_WRAPPED } from './batch_matmul.js';
import { callKernel, f32, type Info, type KernelArgs } from './heap.js';

interface Attrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}
type Original = (args: KernelArgs<Attrs>) => Info;

export function conv2DBackpropInput(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<Attrs>): Info => {
    const { inputs, backend, attrs } = args;
    const dy = inputs['dy'];
    const filter = inputs['filter'];
    if (dy === undefined || filter === undefined || dy.dtype !== 'float32' || filter.dtype !== 'float32') return original(args);
    const info = convInfo({ xShape: attrs.inputShape, filterShape: filter.shape, strides: attrs.strides, dilations: 1,
      pad: attrs.pad, dimRoundingMode: attrs.dimRoundingMode, depthwise: false, dataFormat: attrs.dataFormat });
    const { filterHeight: FH, filterWidth: FW, inChannels: C, outChannels: O } = info;
    const padTop = FH - 1 - info.padInfo.top;
    const padBottom = FH - 1 - info.padInfo.bottom;
    const padLeft = FW - 1 - info.padInfo.left;
    const padRight = FW - 1 - info.padInfo.right;
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dataFormat !== 'channelsLast' || Math.min(padTop, padBottom, padLeft, padRight) < 0) {
      return original(args);
    }
    const rotated = backend.makeOutput([FH, FW, O, C], 'float32');
    const w = f32(backend, filter);
    const r = f32(backend, rotated);
    for (let fh = 0; fh < FH; fh++) {
      for (let fw = 0; fw < FW; fw++) {
        const src = ((FH - 1 - fh) * FW + (FW - 1 - fw)) * C * O;
        const dst = (fh * FW + fw) * O * C;
        for (let c = 0; c < C; c++) for (let o = 0; o < O; o++) r[dst + o * C + c] = w[src + c * O + o]!;
      }
    }
    const padded = padTop + padBottom + padLeft + padRight > 0
      ? callKernel('PadV2', backend, { x: dy }, { paddings: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]], constantValue: 0 })
      : dy;
    try {
      const dx = callKernel('Conv2D', backend, { x: padded, filter: rotated },
        { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined });
      if (dx.shape.some((d, i) => d !== attrs.inputShape[i])) {
        backend.disposeData(dx.dataId);
        return original(args);
      }
      return dx;
    } finally {
      backend.disposeData(rotated.dataId);
      if (padded !== dy) backend.disposeData(padded.dataId);
    }
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
