/**
 * `@mmfuse/text-rnn/use-model`: the Universal Sentence Encoder lite's forward pass written with TensorFlow.js ops
 * on the weights of its graph model, shared by the `text/use` encoder (Node) and the browser page. A text is
 * embedded without the graph executor, whose `executeAsync` (the graph has a dynamic `Where`) and shape
 * bookkeeping cost about as much as the model's arithmetic on a short text. Imports TensorFlow.js only (no
 * engine, no encoder registered, nothing of Node).
 *
 * What the graph computes (read from its 317 nodes: tensor2tensor's KonaTransformer, 2 layers, then a tanh
 * layer), for one text of n SentencePiece ids (no padding: texts run together only at one token count):
 *
 *   ids beyond the first 128 are dropped (`ClipToMaxLength`);
 *   x      = 2·E[id] + timing(position)        (the embedding is added twice: once scattered on its own, once
 *                                                inside `AddTimingSignal`; timing = [sin(p·w), cos(p·w)], w the
 *                                                graph's 128 inverse timescales)
 *   layer 0 (256 → 512): h = MHA₀(LN(x)) + x·D + d     (4 heads of 64; the residual is projected to 512)
 *                        h = h + FFN₀(LN(h))
 *   layer 1 (512):       h = h + MHA₁(LN(h))          (4 heads of 128)
 *                        h = h + FFN₁(LN(h))
 *   v = l2normalize(tanh(mean_t(h)·T + t))
 *
 * with pre-norm layer norms (ε 1e-6), q scaled by 1/√(head width), FFN = relu(x·W₁ + b₁)·W₂ + b₂ (1536 wide).
 * Checked against the graph model on texts of many lengths (tests/text/text-use-encoder.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { USE_GRAPH_MAX_TOKENS } from './use-input.js';

/** Layer normalization over the last axis: x, gamma, beta, epsilon. */
export type LayerNormFn = (x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number) => tf.Tensor;

/**
 * Layer normalization from tf ops (any backend): the same composition as `@mmfuse/core`'s `layerNorm` falls back to,
 * kept here because this entry must not import `@mmfuse/core` (it is bundled into the browser page); Node's encoder
 * passes core's `layerNorm` (the fused wasm kernel) instead.
 */
function composedLayerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(epsilon))).mul(gamma).add(beta);
}

/** The weights are not those of the Universal Sentence Encoder lite (a missing or misshapen weight, named). */
export class UseWeightsError extends Error {
  override readonly name = 'UseWeightsError';
}

/** How much of the model `embed` runs, in sublayers: 0 the input layer ... 4 the whole model. */
export type UseDepth = 0 | 1 | 2 | 3 | 4;
export const USE_DEPTHS: readonly UseDepth[] = [0, 1, 2, 3, 4];

/** Width of the model's piece embeddings (its input layer; `embed(..., 0)`). */
export const USE_EMBEDDING_DIM = 256;

export { USE_GRAPH_MAX_TOKENS } from './use-input.js';

/** Width of `embed`'s vectors at a depth: the piece embeddings' 256 at depth 0, the model's 512 above. */
export function useOutputDim(depth: UseDepth): number {
  return depth === 0 ? USE_EMBEDDING_DIM : 512;
}

const K = 'module_apply_default/Encoder_en/KonaTransformer/Encode/';
const KS = `${K}TransformerStack/`;
const TIMESCALES = `${KS}Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`;
const LN_EPSILON = 1e-6;
const HEADS = 4;

interface LayerWeights {
  lnA: [tf.Tensor1D, tf.Tensor1D];
  qkv: tf.Tensor2D;
  qkvBias: tf.Tensor1D;
  out: tf.Tensor2D;
  outBias: tf.Tensor1D;
  /** Layer 0 only: the residual's projection 256 → 512. */
  residual?: [tf.Tensor2D, tf.Tensor1D];
  lnF: [tf.Tensor1D, tf.Tensor1D];
  ff1: tf.Tensor2D;
  ff1Bias: tf.Tensor1D;
  ff2: tf.Tensor2D;
  ff2Bias: tf.Tensor1D;
}

/** The encoder's weights, copied out of the graph model (which may then be disposed). */
export class UseForward {
  private readonly embeddings: tf.Tensor2D;
  /** The timing signal of positions 0..127 [128, 256]: sin of the first 128 channels, cos of the rest. */
  private readonly timing: tf.Tensor2D;
  private readonly layers: LayerWeights[];
  private readonly tanh: [tf.Tensor2D, tf.Tensor1D];
  /** Every tensor this object holds (copies sharing the graph's data), disposed together. */
  private readonly all: tf.Tensor[];

  private readonly layerNorm: LayerNormFn;

  /**
   * The forward pass on a loaded graph model's weights (`GraphModel.weights`; copied, so the graph model may be
   * disposed after). Read asynchronously: on WebGPU the weights live on the GPU. `layerNorm` replaces the tf-ops
   * layer normalization (e.g. mmfuse's fused wasm kernel). Throws UseWeightsError for other weights.
   */
  static async fromGraphWeights(weights: Readonly<Record<string, readonly tf.Tensor[]>>, options: { layerNorm?: LayerNormFn } = {}): Promise<UseForward> {
    const ts = weights[TIMESCALES]?.[0];
    if (ts === undefined || ts.size !== 128) throw new UseWeightsError(`expected the weight ${TIMESCALES} of 128 values; not the Universal Sentence Encoder lite`);
    return UseForward.build(weights, (await ts.data()) as Float32Array, options.layerNorm ?? composedLayerNorm);
  }

  /** Build on `weights`; the tensors taken so far are released when one is missing or misshapen. */
  private static build(weights: Readonly<Record<string, readonly tf.Tensor[]>>, invTimescales: Float32Array, layerNorm: LayerNormFn): UseForward {
    const taken: tf.Tensor[] = [];
    try {
      return new UseForward(weights, invTimescales, layerNorm, taken);
    } catch (err) {
      tf.dispose(taken);
      throw err;
    }
  }

  private constructor(weights: Readonly<Record<string, readonly tf.Tensor[]>>, invTimescales: Float32Array, layerNorm: LayerNormFn, all: tf.Tensor[]) {
    this.layerNorm = layerNorm;
    this.all = all;
    const take = (name: string, shape: readonly number[]): tf.Tensor => {
      const t = weights[name]?.[0];
      if (t === undefined || t.shape.join(',') !== shape.join(',')) {
        throw new UseWeightsError(`expected the weight ${name} of shape [${shape.join(', ')}]${t === undefined ? '' : `, got [${t.shape.join(', ')}]`}; not the Universal Sentence Encoder lite`);
      }
      const copy = tf.keep(t.reshape(shape.filter((d, i) => !(d === 1 && shape.length === 4 && i < 2)))); // 1×1 conv kernels as matrices
      this.all.push(copy);
      return copy;
    };
    const vec = (name: string, n: number): tf.Tensor1D => take(name, [n]) as tf.Tensor1D;
    const mat = (name: string, r: number, c: number): tf.Tensor2D => take(name, [r, c]) as tf.Tensor2D;
    const conv = (name: string, r: number, c: number): tf.Tensor2D => take(name, [1, 1, r, c]) as tf.Tensor2D;
    this.embeddings = mat('module/Embeddings_en', 8002, 256);
    const timing = new Float32Array(USE_GRAPH_MAX_TOKENS * 256);
    for (let p = 0; p < USE_GRAPH_MAX_TOKENS; p++) {
      for (let i = 0; i < 128; i++) {
        const a = Math.fround(p * (invTimescales[i] as number)); // float32 product, as the graph's Mul computes it
        timing[p * 256 + i] = Math.sin(a);
        timing[p * 256 + 128 + i] = Math.cos(a);
      }
    }
    this.timing = tf.keep(tf.tensor2d(timing, [USE_GRAPH_MAX_TOKENS, 256]));
    this.all.push(this.timing);
    this.layers = [0, 1].map((l): LayerWeights => {
      const dIn = l === 0 ? 256 : 512;
      const p = `${K}Layer_${l}/TransformerLayer/`;
      const s = `${KS}Layer_${l}/TransformerLayer/`;
      const m = `module/Encoder_en/KonaTransformer/Encode/Layer_${l}/TransformerLayer/MultiheadAttention/`;
      return {
        lnA: [vec(`${p}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, dIn), vec(`${p}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, dIn)],
        qkv: conv(`${m}qkv_transform_single/kernel/part_0`, dIn, 3 * dIn),
        qkvBias: vec(`${p}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, 3 * dIn),
        out: conv(`${m}output_transform_single/kernel/part_0`, dIn, 512),
        outBias: vec(`${p}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, 512),
        ...(l === 0 ? { residual: [mat(`${p}dense/kernel/ConcatPartitions/concat`, 256, 512), vec(`${p}dense/bias/ConcatPartitions/concat`, 512)] as [tf.Tensor2D, tf.Tensor1D] } : {}),
        lnF: [vec(`${p}FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, 512), vec(`${p}FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, 512)],
        ff1: mat(`${s}FFN/conv1/Tensordot/Reshape_1`, 512, 1536),
        ff1Bias: vec(`${p}FFN/conv1/bias/ConcatPartitions/concat`, 1536),
        ff2: mat(`${s}FFN/conv2/Tensordot/Reshape_1`, 1536, 512),
        ff2Bias: vec(`${p}FFN/conv2/bias/ConcatPartitions/concat`, 512),
      };
    });
    this.tanh = [mat('module/Encoder_en/hidden_layers/tanh_layer_0/weights', 512, 512), vec('module/Encoder_en/hidden_layers/tanh_layer_0/bias', 512)];
  }

  /**
   * Embeddings of B id lists of one length n (1..), unit length; ids past the 128th are dropped. `depth` counts
   * the sublayers that run: 4 (the default) is the whole model, its output [B × 512]; below that the text's mean
   * hidden state where it stops, l2-normalized: 3 after layer 1's attention, 2 after layer 0 (attention and
   * feed-forward), 1 after layer 0's attention [B × 512 each], 0 the input layer, 2·E[id] + timing [B × 256]
   * (no matrix product). Less of the model costs less: layer 0's feed-forward alone is three quarters of its
   * multiply-adds.
   */
  embed(lists: readonly (readonly number[])[], depth: UseDepth = 4): tf.Tensor2D {
    const b = lists.length;
    const n = b === 0 ? 0 : Math.min((lists[0] as readonly number[]).length, USE_GRAPH_MAX_TOKENS);
    if (n === 0 || lists.some((l) => Math.min(l.length, USE_GRAPH_MAX_TOKENS) !== n)) throw new RangeError('UseForward.embed takes a non-empty batch of non-empty id lists of one length');
    if (!USE_DEPTHS.includes(depth)) throw new RangeError(`UseForward.embed: depth is one of ${USE_DEPTHS.join(', ')}, got ${String(depth)}`);
    const vocab = this.embeddings.shape[0];
    const ids = new Int32Array(b * n);
    lists.forEach((l, r) => {
      for (let t = 0; t < n; t++) {
        const id = l[t] as number;
        if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`UseForward.embed: list ${r}, position ${t}: ${String(id)} is not a piece id (0..${vocab - 1})`);
        ids[r * n + t] = id;
      }
    });
    return tf.tidy(() => {
      const rows = b * n;
      const emb = tf.gather(this.embeddings, tf.tensor1d(ids, 'int32')); // [B·n, 256]
      const x0 = emb.mul(2).reshape([b, n, 256]).add(this.timing.slice([0, 0], [n, 256])).reshape([rows, 256]) as tf.Tensor2D;
      const unit = (v: tf.Tensor): tf.Tensor2D => v.mul(tf.rsqrt(v.square().sum(1, true).maximum(1e-12))) as tf.Tensor2D;
      const meanOf = (h: tf.Tensor2D): tf.Tensor2D => h.reshape([b, n, h.shape[1]]).mean(1) as tf.Tensor2D;
      if (depth === 0) return unit(meanOf(x0));
      let h = x0;
      let done = 0; // sublayers run (the whole model goes on to its tanh layer)
      for (const [l, w] of this.layers.entries()) {
        const dIn = l === 0 ? 256 : 512;
        const dh = dIn / HEADS;
        const a = this.layerNorm(h, w.lnA[0], w.lnA[1], LN_EPSILON) as tf.Tensor2D;
        const qkv = tf.fused.matMul({ a, b: w.qkv, bias: w.qkvBias }); // [rows, 3·dIn]
        const heads = qkv.reshape([b, n, 3, HEADS, dh]).transpose([2, 0, 3, 1, 4]); // [3, B, H, n, dh]
        const [q, k, v] = tf.unstack(heads, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const scores = tf.matMul(q.mul(1 / Math.sqrt(dh)), k, false, true); // [B, H, n, n]
        const ctx = tf.matMul(tf.softmax(scores, -1), v).transpose([0, 2, 1, 3]).reshape([rows, dIn]) as tf.Tensor2D; // [rows, dIn]
        const att = tf.fused.matMul({ a: ctx, b: w.out, bias: w.outBias });
        const res = w.residual === undefined ? h : tf.fused.matMul({ a: h, b: w.residual[0], bias: w.residual[1] });
        h = att.add(res) as tf.Tensor2D;
        if (++done === depth && depth < 4) return unit(meanOf(h));
        const f = this.layerNorm(h, w.lnF[0], w.lnF[1], LN_EPSILON) as tf.Tensor2D;
        const ff = tf.fused.matMul({ a: tf.fused.matMul({ a: f, b: w.ff1, bias: w.ff1Bias, activation: 'relu' }), b: w.ff2, bias: w.ff2Bias });
        h = h.add(ff) as tf.Tensor2D;
        if (++done === depth && depth < 4) return unit(meanOf(h));
      }
      return unit(tf.tanh(tf.fused.matMul({ a: meanOf(h), b: this.tanh[0], bias: this.tanh[1] })));
    });
  }

  dispose(): void {
    tf.dispose(this.all);
  }
}
