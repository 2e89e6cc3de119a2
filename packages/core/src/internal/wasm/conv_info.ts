/** Shared handling of conv attributes for the gradient kernels. */
import * as tf from '@tensorflow/tfjs';
import { type Info, type WasmBackend, transpose } from './heap.js';

export type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Shape4 = [number, number, number, number];
export type PadAttr = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

export function convInfo(options: {
  xShape: readonly number[];
  filterShape: readonly number[];
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: PadAttr;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  depthwise: boolean;
  dataFormat: 'NHWC' | 'NCHW' | undefined;
}): Conv2DInfo {
  const format = tf.backend_util.convertConv2DDataFormat(options.dataFormat ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    options.xShape as Shape4, options.filterShape as Shape4, options.strides, options.dilations,
    options.pad, options.dimRoundingMode, options.depthwise, format);
}

/** NCHW → NHWC with the wasm Transpose kernel (a new tensor the caller disposes). */
export function toChannelsLast(backend: WasmBackend, x: Info): Info {
  return transpose(backend, x, [0, 2, 3, 1]);
}

/** NHWC → NCHW with the wasm Transpose kernel (a new tensor the caller disposes). */
export function toChannelsFirst(backend: WasmBackend, x: Info): Info {
  return transpose(backend, x, [0, 3, 1, 2]);
}
