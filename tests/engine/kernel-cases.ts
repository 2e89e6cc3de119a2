// One seeded call of every kernel mmfuse registers on (or wraps in) the wasm engine, on awkward shapes large
// enough that XNNPACK splits the work between threads. Used by threads-child.ts to compare 1 and 2 threads.
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate, layerNorm, lstmCell } from '@mmfuse/core';
import { dropout } from '../../packages/core/src/internal/wasm/dropout.js';
import { attentionFused } from '../../packages/core/src/internal/wasm/attention.js';
import { geluFused } from '../../packages/core/src/internal/wasm/gelu.js';
import { randn } from './helpers.js';

export interface KernelCase {
  id: string;
  run: () => tf.Tensor | tf.Tensor[];
}

const conv = (extra: Record<string, unknown>): tf.NamedAttrMap => ({ strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, ...extra }) as unknown as tf.NamedAttrMap;
const kernel = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown> = {}): tf.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

export const kernelCases: KernelCase[] = [
  { id: 'BatchMatMul plain', run: () => tf.matMul(randn('mm a', [301, 67]), randn('mm b', [67, 129])) },
  { id: 'BatchMatMul transposeA', run: () => tf.matMul(randn('mmT a', [257, 45]), randn('mmT b', [257, 77]), true, false) },
  { id: 'BatchMatMul transposeB', run: () => tf.matMul(randn('mmB a', [203, 96]), randn('mmB b', [81, 96]), false, true) },
  { id: 'BatchMatMul batched q·kᵀ', run: () => tf.matMul(randn('q', [3, 4, 37, 16]), randn('k', [3, 4, 41, 16]), false, true) },
  { id: 'BatchMatMul shared right operand', run: () => tf.matMul(randn('sa', [5, 33, 24]), randn('sb', [24, 50])) },
  { id: '_FusedMatMul bias relu batched', run: () => tf.fused.matMul({ a: randn('fa', [3, 29, 40]), b: randn('fb', [3, 40, 23]), bias: randn('fbias', [23]), activation: 'relu' }) },
  { id: '_FusedMatMul bias transposed', run: () => tf.fused.matMul({ a: randn('ga', [64, 130]), b: randn('gb', [70, 64]), transposeA: true, transposeB: true, bias: randn('gbias', [70]) }) },
  { id: 'Transpose rank 5', run: () => tf.transpose(randn('t5', [3, 7, 3, 4, 5]), [2, 0, 3, 1, 4]) },
  { id: 'Conv2D same strided', run: () => tf.conv2d(randn('cx', [2, 17, 13, 5]) as tf.Tensor4D, randn('cf', [3, 2, 5, 7]) as tf.Tensor4D, [3, 3], 'same') },
  { id: 'FusedConv2D same relu', run: () => tf.fused.conv2d({ x: randn('fcx', [3, 20, 18, 4]) as tf.Tensor4D, filter: randn('fcf', [3, 3, 4, 12]) as tf.Tensor4D, strides: 1, pad: 'same', bias: randn('fcb', [12]), activation: 'relu' }) },
  { id: 'Conv2DBackpropInput', run: () => kernel('Conv2DBackpropInput', { dy: randn('bdy', [3, 19, 14, 9]), filter: randn('bf', [3, 3, 6, 9]) }, conv({ inputShape: [3, 19, 14, 6] })) },
  { id: 'Conv2DBackpropFilter', run: () => kernel('Conv2DBackpropFilter', { x: randn('bfx', [3, 21, 15, 5]), dy: randn('bfdy', [3, 21, 15, 11]) }, conv({ filterShape: [3, 3, 5, 11] })) },
  { id: 'DepthwiseConv2dNativeBackpropFilter', run: () => kernel('DepthwiseConv2dNativeBackpropFilter', { x: randn('dx', [2, 11, 9, 4]), dy: randn('ddy', [2, 11, 9, 8]) }, conv({ filterShape: [3, 3, 4, 2], dilations: 1 })) },
  { id: 'DepthwiseConv2dNativeBackpropInput', run: () => kernel('DepthwiseConv2dNativeBackpropInput', { dy: randn('didy', [2, 11, 9, 8]), filter: randn('dif', [3, 3, 4, 2]) }, conv({ inputShape: [2, 11, 9, 4], dilations: 1 })) },
  { id: 'MaxPoolGrad', run: () => {
    const x = randn('mpx', [2, 14, 10, 6]) as tf.Tensor4D;
    return tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid').mul(randn('mpw', [2, 7, 5, 6])).sum())(x);
  } },
  { id: 'UnsortedSegmentSum (gather gradient)', run: () => {
    const ids = tf.tensor1d(Array.from({ length: 97 }, (_, i) => (i * 37) % 61), 'int32');
    return tf.grad((table: tf.Tensor) => tf.gather(table, ids).mul(randn('gw', [97, 13])).sum())(randn('table', [61, 13]));
  } },
  { id: 'Slice, Unpack, SplitV', run: () => {
    const x = randn('slx', [5, 33, 7, 9]);
    return [tf.slice(x, [1, 3, 2, 0], [3, 20, 4, 9]), ...tf.unstack(x, 2), ...tf.split(x, [3, 6], 3)];
  } },
  { id: 'MmfuseLayerNorm and its gradient', run: () => {
    const [x, g, b] = [randn('lnx', [5, 29, 67]), randn('lng', [67]), randn('lnb', [67])];
    return [layerNorm(x!, g as tf.Tensor1D, b as tf.Tensor1D), ...tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => layerNorm(a, c as tf.Tensor1D, e as tf.Tensor1D).mul(randn('lnw', [5, 29, 67])).sum())([x!, g!, b!])];
  } },
  { id: 'MmfuseGelu and its gradient', run: () => {
    const x = randn('gx', [7, 301]).mul(2);
    return [geluFused(x), tf.grad((a: tf.Tensor) => geluFused(a).mul(randn('gw', [7, 301])).sum())(x)];
  } },
  { id: 'MmfuseDropout and its gradient', run: () => {
    const x = randn('dx', [9, 211]);
    return [dropout(x, 0.3, 5), tf.grad((a: tf.Tensor) => dropout(a, 0.3, 5).mul(randn('dw', [9, 211])).sum())(x)];
  } },
  { id: 'MmfuseAttention and its gradient', run: () => {
    const qkv = randn('aqkv', [3, 37, 3 * 64]);
    const mask = tf.tensor2d(Array.from({ length: 3 * 37 }, (_, i) => (i % 37 > 30 ? 0 : 1)), [3, 37]);
    const f = (x: tf.Tensor): tf.Tensor => attentionFused({ q: x, k: x, v: x, mask, heads: 4, dropout: { rate: 0.1, seed: 9 } });
    return [f(qkv), tf.grad((x: tf.Tensor) => f(x).mul(randn('aw', [3, 37, 64])).sum())(qkv)];
  } },
  { id: 'MmfuseAdamW', run: () => {
    const p = [tf.variable(randn('ap0', [33, 17])), tf.variable(randn('ap1', [17]))];
    const m = p.map((x) => tf.variable(tf.zerosLike(x)));
    const v = p.map((x) => tf.variable(tf.zerosLike(x)));
    for (let step = 1; step <= 2; step++) adamwUpdate(p, [randn(`ag0${step}`, [33, 17]), randn(`ag1${step}`, [17])], m, v, { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step });
    const out = [...p, ...m, ...v].map((x) => x.clone());
    tf.dispose([...p, ...m, ...v]);
    return out;
  } },
  { id: 'MmfuseLstmCell and its gradient', run: () => {
    const gates = randn('lg', [9, 4 * 11]) as tf.Tensor2D;
    const c = randn('lc', [9, 11]) as tf.Tensor2D;
    const { h, c: cNew } = lstmCell(gates, c);
    const grads = tf.grads((g: tf.Tensor, cc: tf.Tensor) => {
      const r = lstmCell(g as tf.Tensor2D, cc as tf.Tensor2D);
      return r.h.mul(randn('lwh', [9, 11])).sum().add(r.c.mul(randn('lwc', [9, 11])).sum());
    })([gates, c]);
    return [h, cNew, ...grads];
  } },
];
