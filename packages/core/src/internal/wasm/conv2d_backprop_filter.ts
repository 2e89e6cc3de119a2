/**
 * Conv2DBackpropFilter, the weight gradient of conv2d (and of conv1d, which tfjs runs as a conv2d):
 *   dW[fh, fw, c, o] = Σ_{b, oh, ow} x[b, oh·sh − padTop + fh, ow·sw − padLeft + fw, c] · dy[b, oh, ow, o].
 * Computed as im2col + one matrix product on the wasm backend's XNNPACK path. The patches are laid out
 * already transposed, cols [K = fH·fW·inC, N = batch·outH·outW], so that dW [K, outC] = cols · dy[N, outC]
 * needs no transposed operand (the slow path of the stock BatchMatMul); for stride 1 across the width and
 * more than one channel they are read from channel planes of x made in one pass first. Large batches are
 * processed in chunks of whole samples so the patch matrix stays under `MMFUSE_IM2COL_MAX_FLOATS` (a chunk's
 * planes, the size of its x, come on top), accumulating into dW.
 */
import * as tf from '@tensorflow/tfjs';
import { type Conv2DInfo, convInfo, type PadAttr, toChannelsLast } from './conv_info.js';
import { f32, type Info, type KernelArgs, type WasmBackend, withShape } from './heap.js';
import { plainMatMul } from './plain_matmul.js';

/**
 * Largest patch matrix built at once, in floats (default 16 Mi floats = 64 MiB of wasm heap). A tfjs
 * environment flag so that tests can force the chunked path on small tensors.
 */
export const IM2COL_FLAG = 'MMFUSE_IM2COL_MAX_FLOATS';

/** Register the flag (re-registering only replaces the default, so this is safe to repeat). */
export function registerIm2colFlag(): void {
  tf.env().registerFlag(IM2COL_FLAG, () => 1 << 24);
}

/** Whole samples per chunk, so that a chunk's patch matrix stays under the flag (at least one sample). */
export function samplesPerChunk(batch: number, floatsPerSample: number): number {
  return Math.max(1, Math.min(batch, Math.floor(tf.env().getNumber(IM2COL_FLAG) / Math.max(1, floatsPerSample))));
}

interface Attrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/**
 * Channel planes of the P pixels of NHWC `xv` from pixel `pixel0` on (a chunk's samples):
 * planes[c·P + p] = x[pixel0 + p, c]. One strided pass over x, so that building the patch rows reads each
 * plane with unit stride (from cache, for the fH·fW rows of its channel) instead of gathering every row from
 * all of x at a stride of inC floats.
 */
function toPlanes(xv: Float32Array, planes: Float32Array, C: number, pixel0: number, P: number): void {
  for (let c = 0; c < C; c++) {
    const out = c * P;
    let i = pixel0 * C + c;
    for (let p = 0; p < P; p++, i += C) planes[out + p] = xv[i]!;
  }
}

/**
 * Where im2col reads x: value (b, ih, iw, c) of the chunk is src[offset + c·channelStride + ((b·H + ih)·W + iw)·pixelStride].
 * NHWC x itself: pixelStride inC, channelStride 1; channel planes: pixelStride 1, channelStride P.
 */
interface Source { src: Float32Array; offset: number; pixelStride: number; channelStride: number }

/**
 * Fill cols [K, samples·outH·outW] (row k = (fh·fW + fw)·inC + c, the filter's own layout; column
 * n = (b·outH + oh)·outW + ow). Rows are built channel by channel, so the fH·fW rows of a channel read the
 * same values (from cache, when they are a plane).
 */
function im2colTransposed(x: Source, cols: Float32Array, info: Conv2DInfo, samples: number): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw,
    dilationHeight: dh, dilationWidth: dw, filterHeight: FH, filterWidth: FW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const n = samples * OH * OW;
  const { src, pixelStride } = x;
  const step = sw * pixelStride;
  for (let c = 0; c < C; c++) {
    const channel = x.offset + c * x.channelStride;
    for (let fh = 0; fh < FH; fh++) {
      for (let fw = 0; fw < FW; fw++) {
        // The range of ow whose input column is inside the image, so the inner loop has no branch.
        const owLo = Math.max(0, Math.ceil((left - fw * dw) / sw));
        const owHi = Math.min(OW, Math.floor((W - 1 + left - fw * dw) / sw) + 1);
        let col = ((fh * FW + fw) * C + c) * n;
        for (let b = 0; b < samples; b++) {
          for (let oh = 0; oh < OH; oh++, col += OW) {
            const ih = oh * sh - top + fh * dh;
            if (ih < 0 || ih >= H || owHi <= owLo) {
              for (let k = col; k < col + OW; k++) cols[k] = 0;
              continue;
            }
            for (let k = col; k < col + owLo; k++) cols[k] = 0;
            let at = channel + ((b * H + ih) * W + owLo * sw - left + fw * dw) * pixelStride;
            for (let ow = owLo; ow < owHi; ow++, at += step) cols[col + ow] = src[at]!;
            for (let k = col + owHi; k < col + OW; k++) cols[k] = 0;
          }
        }
      }
    }
  }
}

function backpropFilterNhwc(backend: WasmBackend, x: Info, dy: Info, info: Conv2DInfo): Info {
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, outChannels: O, inChannels: C, filterHeight: FH, filterWidth: FW } = info;
  const K = FH * FW * C;
  const perSample = OH * OW;
  const chunk = samplesPerChunk(B, K * perSample);
  let total: Info | undefined;
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const b1 = Math.min(B, b0 + chunk);
    const n = (b1 - b0) * perSample;
    const cols = backend.makeOutput([K, n], 'float32');
    const pixels = (b1 - b0) * H * W;
    // Planes pay when rows read runs of neighbouring pixels (stride 1 across the width) of several channels;
    // with one channel x is its own plane, and with a wider stride the extra pass costs more than it saves.
    const planes = C > 1 && info.strideWidth === 1 ? backend.makeOutput([C, pixels], 'float32') : undefined;
    let dyChunk: Info = withShape(dy, [n, O]);
    let ownDy = false;
    if (b1 - b0 !== B) {
      dyChunk = backend.makeOutput([n, O], 'float32');
      ownDy = true;
    }
    // Views only after every allocation of this round.
    const xv = f32(backend, x);
    let source: Source = { src: xv, offset: b0 * H * W * C, pixelStride: C, channelStride: 1 };
    if (planes !== undefined) {
      const planeView = f32(backend, planes);
      toPlanes(xv, planeView, C, b0 * H * W, pixels);
      source = { src: planeView, offset: 0, pixelStride: 1, channelStride: pixels };
    }
    im2colTransposed(source, f32(backend, cols), info, b1 - b0);
    if (planes !== undefined) backend.disposeData(planes.dataId);
    if (ownDy) f32(backend, dyChunk).set(f32(backend, dy).subarray(b0 * perSample * O, b1 * perSample * O));
    const part = plainMatMul(backend, cols, dyChunk); // [K, O]
    backend.disposeData(cols.dataId);
    if (ownDy) backend.disposeData(dyChunk.dataId);
    if (total === undefined) {
      total = part;
    } else {
      const acc = f32(backend, total);
      const add = f32(backend, part);
      for (let i = 0; i < acc.length; i++) acc[i]! += add[i]!;
      backend.disposeData(part.dataId);
    }
  }
  if (total === undefined) {
    // Empty batch: the gradient is zero.
    total = backend.makeOutput([K, O], 'float32');
    f32(backend, total).fill(0);
  }
  return total;
}

export function conv2DBackpropFilter(args: KernelArgs<Attrs>): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error('Conv2DBackpropFilter: inputs x and dy are required');
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`Conv2DBackpropFilter: float32 inputs required, got ${x.dtype} and ${dy.dtype}`);
  const info = convInfo({
    xShape: x.shape, filterShape: attrs.filterShape, strides: attrs.strides, dilations: 1, pad: attrs.pad,
    dimRoundingMode: attrs.dimRoundingMode, depthwise: false, dataFormat: attrs.dataFormat,
  });
  const out = info.dataFormat === 'channelsFirst'
    ? (() => {
      const xl = toChannelsLast(backend, x);
      const dyl = toChannelsLast(backend, dy);
      try {
        return backpropFilterNhwc(backend, xl, dyl, info);
      } finally {
        backend.disposeData(xl.dataId);
        backend.disposeData(dyl.dataId);
      }
    })()
    : backpropFilterNhwc(backend, x, dy, info);
  return withShape(out, [...attrs.filterShape]);
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
