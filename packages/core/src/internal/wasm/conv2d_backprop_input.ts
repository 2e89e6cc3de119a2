/**
 * Conv2DBackpropInput (the input gradient of conv2d) on wasm. The stock kernel is a direct loop (~120 ms
 * for one [32, 50, 32, 32] → [32, 50, 32, 16] gradient of the reference model). With stride 1 the input
 * gradient is itself a convolution,
 *   dx = conv2d_valid(pad(dy, [fH − 1 − padTop, fH − 1 − padBottom], [fW − 1 − padLeft, fW − 1 − padRight]), W′)
 *   W′[fh, fw, o, c] = W[fH − 1 − fh, fW − 1 − fw, c, o]   (rotated 180°, in/out channels swapped)
 * which the stock Conv2D kernel runs on XNNPACK. Any other NHWC case (a stride wider than 1, as the audio
 * encoders' downsampling convs use, or padding wider than the filter) is one matrix product and a col2im:
 *   cols[(b, oh, ow), (fh, fw, c)] = Σ_o dy[b, oh, ow, o] · W[fh, fw, c, o]      (dy [n, O] · Wᵀ [O, K])
 *   dx[b, oh·sh − padTop + fh, ow·sw − padLeft + fw, c] += cols[(b, oh, ow), (fh, fw, c)]
 * where the stock kernel loops over every (dx, filter, output channel) triple directly. Large batches go in
 * chunks of whole samples so cols stays under `MMFUSE_IM2COL_MAX_FLOATS`. NCHW keeps the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { type Conv2DInfo, convInfo, type PadAttr } from './conv_info.js';
import { samplesPerChunk } from './conv2d_backprop_filter.js';
import { MMFUSE_WRAPPED } from './batch_matmul.js';
import { callKernel, f32, type Info, type KernelArgs, transpose, type WasmBackend, withShape } from './heap.js';
import { plainMatMul } from './plain_matmul.js';

interface Attrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}
type Original = (args: KernelArgs<Attrs>) => Info;

/** dx of an NHWC conv of any stride and padding, as dy · Wᵀ and a col2im (see the file comment). */
function backpropInputCol2im(backend: WasmBackend, dy: Info, filter: Info, info: Conv2DInfo): Info {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O,
    filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const K = FH * FW * C;
  const perSample = OH * OW;
  const wt = transpose(backend, withShape(filter, [K, O]), [1, 0]); // Wᵀ [O, K]
  const dx = backend.makeOutput([B, H, W, C], 'float32');
  f32(backend, dx).fill(0);
  const chunk = samplesPerChunk(B, K * perSample);
  try {
    for (let b0 = 0; b0 < B; b0 += chunk) {
      const b1 = Math.min(B, b0 + chunk);
      const n = (b1 - b0) * perSample;
      if (n === 0) continue;
      let part: Info;
      if (b0 === 0 && b1 === B) {
        part = plainMatMul(backend, withShape(dy, [n, O]), wt);
      } else {
        const own = backend.makeOutput([n, O], 'float32');
        f32(backend, own).set(f32(backend, dy).subarray(b0 * perSample * O, b1 * perSample * O));
        part = plainMatMul(backend, own, wt);
        backend.disposeData(own.dataId);
      }
      // Views only after this round's allocations.
      const cols = f32(backend, part);
      const out = f32(backend, dx);
      let row = 0;
      for (let b = b0; b < b1; b++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++, row += K) {
            for (let fh = 0; fh < FH; fh++) {
              const ih = oh * sh - top + fh;
              if (ih < 0 || ih >= H) continue;
              for (let fw = 0; fw < FW; fw++) {
                const iw = ow * sw - left + fw;
                if (iw < 0 || iw >= W) continue;
                const dst = ((b * H + ih) * W + iw) * C;
                const src = row + (fh * FW + fw) * C;
                for (let c = 0; c < C; c++) out[dst + c]! += cols[src + c]!;
              }
            }
          }
        }
      }
      backend.disposeData(part.dataId);
    }
  } catch (err) {
    backend.disposeData(dx.dataId);
    throw err;
  } finally {
    backend.disposeData(wt.dataId);
  }
  return dx;
}

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
    if (info.dataFormat !== 'channelsLast') return original(args);
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || Math.min(padTop, padBottom, padLeft, padRight) < 0) {
      const expected = [info.batchSize, info.outHeight, info.outWidth, O];
      if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) return original(args);
      return backpropInputCol2im(backend, dy, filter, info);
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
