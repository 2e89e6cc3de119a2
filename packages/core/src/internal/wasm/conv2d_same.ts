/**
 * Conv2D / FusedConv2D with 'same' padding and a stride larger than the filter in some dimension (e.g. a
 * conv1d with kernel 2 and stride 3): the stock wasm kernel hands 'same' to XNNPACK, whose padding then
 * disagrees with the output shape tfjs allocated, and the values come out wrong (relative error ~1 against
 * the cpu backend). In that regime the padding tfjs computed is passed explicitly instead, which XNNPACK
 * applies as given. Every other case goes to the stock kernel unchanged.
 */
import type * as tf from '@tensorflow/tfjs';
import { MMFUSE_WRAPPED } from './batch_matmul.js';
import { convInfo, type PadAttr } from './conv_info.js';
import type { Info, KernelArgs } from './heap.js';

interface Attrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  [key: string]: unknown;
}
type Original = (args: KernelArgs<Attrs>) => Info;

export function sameAsExplicitPadding(original: Original): tf.KernelFunc {
  const wrapped = (args: KernelArgs<Attrs>): Info => {
    const { inputs, attrs } = args;
    const x = inputs['x'];
    const filter = inputs['filter'];
    if (attrs.pad !== 'same' || x === undefined || filter === undefined || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return original(args);
    const info = convInfo({ xShape: x.shape, filterShape: filter.shape, strides: attrs.strides, dilations: attrs.dilations ?? 1,
      pad: 'same', dimRoundingMode: attrs.dimRoundingMode, depthwise: false, dataFormat: 'NHWC' });
    const wide = info.strideHeight > info.effectiveFilterHeight || info.strideWidth > info.effectiveFilterWidth;
    if (!wide) return original(args);
    const { top, bottom, left, right } = info.padInfo;
    return original({ ...args, attrs: { ...attrs, pad: [[0, 0], [top, bottom], [left, right], [0, 0]] } });
  };
  Object.defineProperty(wrapped, MMFUSE_WRAPPED, { value: true });
  return wrapped as unknown as tf.KernelFunc;
}
