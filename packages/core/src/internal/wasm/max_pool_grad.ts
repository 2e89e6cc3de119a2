/**
 * MaxPoolGrad on wasm. The stock wasm kernel of tfjs-backend-wasm 4.22 returns wrong input gradients (about
 * half the values differ from the cpu backend's on random data, 2×2 pools included), so conv encoders with
 * max pooling trained on wasm followed a wrong gradient. This one routes each output gradient to the
 * position of its window's maximum, the first one in row-major window order on ties (as the cpu backend):
 *   dx[b, argmax_window(oh, ow, c), c] += dy[b, oh, ow, c]
 * One pass over the windows on the wasm heap, channels innermost (unit stride).
 */
import * as tf from '@tensorflow/tfjs';
import { f32, type Info, type KernelArgs } from './heap.js';

interface Attrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function maxPoolGrad(args: KernelArgs<Attrs>): Info {
  const { inputs, backend, attrs } = args;
  const dy = inputs['dy'];
  const x = inputs['input'];
  if (dy === undefined || x === undefined) throw new Error('MaxPoolGrad: inputs dy and input are required');
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`MaxPoolGrad: float32 inputs required, got ${x.dtype} and ${dy.dtype}`);
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1,
    attrs.pad, attrs.dimRoundingMode);
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw,
    filterHeight: FH, filterWidth: FW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const out = backend.makeOutput([...x.shape], 'float32');
  const dx = f32(backend, out);
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  dx.fill(0);
  if (FH === 2 && FW === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && 2 * OH <= H && 2 * OW <= W) {
    pool2x2Grad(xv, dyv, dx, B, H, W, C, OH, OW);
    return out;
  }
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(0, oh * sh - top);
      const h1 = Math.min(H, oh * sh - top + FH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(0, ow * sw - left);
        const w1 = Math.min(W, ow * sw - left + FW);
        const yBase = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let ih = h0; ih < h1; ih++) {
            let i = ((b * H + ih) * W + w0) * C + c;
            for (let iw = w0; iw < w1; iw++, i += C) {
              const v = xv[i]!;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at]! += dyv[yBase + c]!;
        }
      }
    }
  }
  return out;
}

/**
 * The common 2×2 pool of stride 2 with every window inside the image, unrolled: the same choice as the
 * general loop (the first of the four values, in row-major order, greater than all before it and than −∞;
 * none when all are −∞ or NaN). Windows do not overlap, so each input position gets at most one gradient.
 */
function pool2x2Grad(xv: Float32Array, dyv: Float32Array, dx: Float32Array, B: number, H: number, W: number, C: number, OH: number, OW: number): void {
  const rowStep = W * C;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const i00 = ((b * H + 2 * oh) * W + 2 * ow) * C;
        const i01 = i00 + C;
        const i10 = i00 + rowStep;
        const i11 = i10 + C;
        const y = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          const v00 = xv[i00 + c]!;
          if (v00 > best) { best = v00; at = i00 + c; }
          const v01 = xv[i01 + c]!;
          if (v01 > best) { best = v01; at = i01 + c; }
          const v10 = xv[i10 + c]!;
          if (v10 > best) { best = v10; at = i10 + c; }
          if (xv[i11 + c]! > best) at = i11 + c;
          if (at >= 0) dx[at] = dyv[y + c]!;
        }
      }
    }
  }
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
