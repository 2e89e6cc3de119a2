/**
 * The fusion layers as ONNX subgraphs: the same arithmetic as their `apply` in inference mode (dropout off).
 * Shapes: B batch, T / Tq / Tk time, d model width.
 */
import type { OnnxGraphBuilder, OnnxValue } from '@mmfuse/core';
import * as tf from '@tensorflow/tfjs';
import type { FeedForward } from '../layers/feed-forward.js';
import type { LayerNorm } from '../layers/layer-norm.js';
import type { Linear } from '../layers/linear.js';
import { MASKED_SCORE } from '../layers/multi-head-attention.js';
import type { MultiHeadAttention } from '../layers/multi-head-attention.js';
import type { TransformerBlock } from '../layers/transformer-block.js';

export function linearOnnx(g: OnnxGraphBuilder, layer: Linear, x: OnnxValue): OnnxValue {
  return g.linear(x, layer.kernel, layer.bias);
}

export function layerNormOnnx(g: OnnxGraphBuilder, ln: LayerNorm, x: OnnxValue): OnnxValue {
  return g.op('LayerNormalization', [x, g.constant(ln.gamma, 'gamma'), g.constant(ln.beta, 'beta')], { axis: -1, epsilon: { float: ln.epsilon } });
}

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
export function geluOnnx(g: OnnxGraphBuilder, x: OnnxValue): OnnxValue {
  const erf = g.op('Erf', [g.op('Mul', [x, g.floats(Math.SQRT1_2, [])])]);
  return g.op('Mul', [g.op('Mul', [x, g.floats(0.5, [])]), g.op('Add', [erf, g.floats(1, [])])]);
}

export function feedForwardOnnx(g: OnnxGraphBuilder, ff: FeedForward, x: OnnxValue): OnnxValue {
  return linearOnnx(g, ff.linear2, geluOnnx(g, linearOnnx(g, ff.linear1, x)));
}

/** Masked mean over time: x [B, T, d], mask [B, T] -> [B, d]; a row without a real step gives zeros. */
export function maskedMeanOnnx(g: OnnxGraphBuilder, x: OnnxValue, mask: OnnxValue): OnnxValue {
  const sum = g.op('ReduceSum', [g.op('Mul', [x, g.op('Unsqueeze', [mask, g.ints([2])])]), g.ints([1])], { keepdims: 0 }); // [B, d]
  const count = g.op('ReduceSum', [mask, g.ints([1])], { keepdims: 1 }); // [B, 1]
  return g.op('Div', [sum, g.op('Max', [count, g.floats(1, [])])]);
}

/** [B, T, d] -> [B, H, T, hd]. */
function splitHeads(g: OnnxGraphBuilder, x: OnnxValue, heads: number, headDim: number): OnnxValue {
  return g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
}

/**
 * Multi-head attention: query [B, Tq, d]; keyValue [B, Tk, d] (the same value for self-attention, which
 * uses the packed projection); keyMask [B, Tk] (1 = real key). Returns [B, Tq, d].
 */
export function attentionOnnx(g: OnnxGraphBuilder, mha: MultiHeadAttention, query: OnnxValue, keyValue: OnnxValue, keyMask: OnnxValue): OnnxValue {
  // The width of q, k and v: heads x headDim (dModel unless heads were pruned by `mmfuse compress`).
  const d = mha.inner;
  // The 1/sqrt(headDim) score scale folded into the query columns, computed in float32 as `apply` does.
  const [kernel, bias] = tf.tidy(() => {
    const scale = tf.concat([tf.fill([d], 1 / Math.sqrt(mha.headDim)), tf.ones([2 * d])]);
    return [mha.inKernel.mul(scale), mha.inBias.mul(scale)] as [tf.Tensor2D, tf.Tensor1D];
  });
  let q: OnnxValue; let k: OnnxValue; let v: OnnxValue;
  try {
    if (query === keyValue) {
      [q, k, v] = g.ops('Split', [g.linear(query, kernel, bias), g.ints([d, d, d])], 3, { axis: -1 }) as [OnnxValue, OnnxValue, OnnxValue];
    } else {
      const [wq, wkv] = tf.split(kernel, [d, 2 * d], 1) as [tf.Tensor2D, tf.Tensor2D];
      const [bq, bkv] = tf.split(bias, [d, 2 * d], 0) as [tf.Tensor1D, tf.Tensor1D];
      q = g.linear(query, wq, bq);
      [k, v] = g.ops('Split', [g.linear(keyValue, wkv, bkv), g.ints([d, d])], 2, { axis: -1 }) as [OnnxValue, OnnxValue];
      tf.dispose([wq, wkv, bq, bkv]);
    }
  } finally {
    tf.dispose([kernel, bias]);
  }
  const qh = splitHeads(g, q, mha.heads, mha.headDim); // [B, H, Tq, hd]
  const kt = g.op('Transpose', [g.op('Reshape', [k, g.ints([0, 0, mha.heads, mha.headDim])])], { perm: [0, 2, 3, 1] }); // [B, H, hd, Tk]
  const vh = splitHeads(g, v, mha.heads, mha.headDim); // [B, H, Tk, hd]
  const maskBias = g.op('Mul', [g.op('Sub', [g.floats(1, []), keyMask]), g.floats(MASKED_SCORE, [])]); // [B, Tk]
  const scores = g.op('Add', [g.op('MatMul', [qh, kt]), g.op('Unsqueeze', [maskBias, g.ints([1, 2])])]); // [B, H, Tq, Tk]
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] }), g.ints([0, 0, d])]); // [B, Tq, d]
  return linearOnnx(g, mha.out, ctx);
}

/** Pre-LN block: x + attn(ln1(x)), then + ff(ln2(.)); with `context`, cross-attention to lnContext(context). */
export function blockOnnx(g: OnnxGraphBuilder, block: TransformerBlock, x: OnnxValue, keyMask: OnnxValue, context?: OnnxValue): OnnxValue {
  const h = layerNormOnnx(g, block.ln1, x);
  const kv = context === undefined || block.lnContext === undefined ? h : layerNormOnnx(g, block.lnContext, context);
  const x1 = g.op('Add', [x, attentionOnnx(g, block.attn, h, kv, keyMask)]);
  return g.op('Add', [x1, feedForwardOnnx(g, block.ff, layerNormOnnx(g, block.ln2, x1))]);
}
