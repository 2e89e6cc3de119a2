/**
 * DepthwiseConv2dNativeBackpropFilter / ...BackpropInput, missing from the wasm backend. A depthwise conv does
 * fH·fW·chMul multiply-adds per input value, too little arithmetic for a matrix product to pay, so both are
 * direct loops over the tensors on the wasm heap (no copies), written so that the innermost loop runs over
 * the channel multiplier / channels with unit stride.
 *   output channel of (c, m) = c·chMul + m
 *   dW[fh, fw, c, m] = Σ_{b, oh, ow} x[b, ih, iw, c] · dy[b, oh, ow, c·chMul + m]
 *   dx[b, ih, iw, c] = Σ_{oh, ow, fh, fw, m} dy[b, oh, ow, c·chMul + m] · W[fh, fw, c, m]
 * with ih = oh·sh − padTop + fh·dh, iw = ow·sw − padLeft + fw·dw.
 */
import type * as tf from '@tensorflow/tfjs';
import { type Conv2DInfo, convInfo, type PadAttr, toChannelsFirst, toChannelsLast } from './conv_info.js';
import { f32, type Info, type KernelArgs, type WasmBackend } from './heap.js';

interface Attrs {
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Visit every (b, oh, ow, fh, fw) whose input position is inside the image. */
function forEachTap(info: Conv2DInfo, visit: (yBase: number, xBase: number, tap: number) => void): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O,
    strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: FH, filterWidth: FW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const yBase = ((b * OH + oh) * OW + ow) * O;
        for (let fh = 0; fh < FH; fh++) {
          const ih = oh * sh - top + fh * dh;
          if (ih < 0 || ih >= H) continue;
          for (let fw = 0; fw < FW; fw++) {
            const iw = ow * sw - left + fw * dw;
            if (iw < 0 || iw >= W) continue;
            visit(yBase, ((b * H + ih) * W + iw) * C, fh * FW + fw);
          }
        }
      }
    }
  }
}

function inChannelsLast<T>(backend: WasmBackend, info: Conv2DInfo, tensors: Info[], run: (nhwc: Info[]) => T): T {
  if (info.dataFormat !== 'channelsFirst') return run(tensors);
  const moved = tensors.map((t) => (t.shape.length === 4 ? toChannelsLast(backend, t) : t));
  try {
    return run(moved);
  } finally {
    moved.forEach((t, i) => { if (t !== tensors[i]) backend.disposeData(t.dataId); });
  }
}

export function depthwiseBackpropFilter(args: KernelArgs<Attrs & { filterShape: [number, number, number, number] }>): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error('DepthwiseConv2dNativeBackpropFilter: inputs x and dy are required');
  const info = convInfo({ xShape: x.shape, filterShape: attrs.filterShape, strides: attrs.strides, dilations: attrs.dilations,
    pad: attrs.pad, dimRoundingMode: attrs.dimRoundingMode, depthwise: true, dataFormat: attrs.dataFormat });
  const C = info.inChannels;
  const M = attrs.filterShape[3];
  const out = backend.makeOutput([...attrs.filterShape], 'float32');
  inChannelsLast(backend, info, [x, dy], ([xl, dyl]) => {
    const dw = f32(backend, out);
    dw.fill(0);
    const xv = f32(backend, xl!);
    const yv = f32(backend, dyl!);
    forEachTap(info, (yBase, xBase, tap) => {
      const wBase = tap * C * M;
      for (let c = 0; c < C; c++) {
        const xval = xv[xBase + c]!;
        const w = wBase + c * M;
        const y = yBase + c * M;
        for (let m = 0; m < M; m++) dw[w + m]! += xval * yv[y + m]!;
      }
    });
  });
  return out;
}

export function depthwiseBackpropInput(args: KernelArgs<Attrs & { inputShape: [number, number, number, number] }>): Info {
  const { inputs, backend, attrs } = args;
  const dy = inputs['dy'];
  const filter = inputs['filter'];
  if (dy === undefined || filter === undefined) throw new Error('DepthwiseConv2dNativeBackpropInput: inputs dy and filter are required');
  const info = convInfo({ xShape: attrs.inputShape, filterShape: filter.shape, strides: attrs.strides, dilations: attrs.dilations,
    pad: attrs.pad, dimRoundingMode: attrs.dimRoundingMode, depthwise: true, dataFormat: attrs.dataFormat });
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C } = info;
  const M = filter.shape[3]!;
  const dxl = backend.makeOutput([B, H, W, C], 'float32');
  inChannelsLast(backend, info, [dy], ([dyl]) => {
    const dx = f32(backend, dxl);
    dx.fill(0);
    const yv = f32(backend, dyl!);
    const wv = f32(backend, filter);
    forEachTap(info, (yBase, xBase, tap) => {
      const wBase = tap * C * M;
      for (let c = 0; c < C; c++) {
        let s = 0;
        const w = wBase + c * M;
        const y = yBase + c * M;
        for (let m = 0; m < M; m++) s += yv[y + m]! * wv[w + m]!;
        dx[xBase + c]! += s;
      }
    });
  });
  if (info.dataFormat !== 'channelsFirst') return dxl;
  const dx = toChannelsFirst(backend, dxl);
  backend.disposeData(dxl.dataId);
  return dx;
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
