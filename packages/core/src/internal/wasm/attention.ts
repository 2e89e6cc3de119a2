/**
 * Multi-head scaled dot-product attention as one kernel each way on wasm:
 *   S = scale · Q Kᵀ + (1 − mask) · (−1e9);  P = softmax(S);  P′ = P ⊙ dropout;  O = P′ V      (per batch row, head)
 * Q, K and V are read where the projections left them: heads as column blocks of [B, T, C] rows ("bthd",
 * e.g. one packed [B, T, 3d] q|k|v projection) or already split as [B, H, T, hd] ("bhtd"); O is written in the
 * same layout. Composed from tf ops this is ~25 kernels forward and ~60 backward per layer (split, head
 * transposes, batched products, mask arithmetic, softmax, dropout mask upload, merges) over [B, H, T, T]
 * tensors; fused, the products run on XNNPACK one (batch row, head) at a time with operands gathered in
 * place, and everything elementwise is one pass.
 *
 * The backward kernel recomputes P from Q, K and the mask (as FlashAttention does) instead of keeping the
 * [B, H, Tq, Tk] probabilities alive from forward to backward; the dropout mask is redrawn from its seed.
 * On other backends `attention` composes the same function from tf ops (same values and gradients).
 */
import * as tf from '@tensorflow/tfjs';
import { DropoutStream, dropoutMask } from './dropout_mask.js';
import { callKernel, f32, type Info, type KernelArgs, type WasmBackend } from './heap.js';
import { product } from './products.js';

/** Added to the scores of masked keys (finite, so an all-masked row gives a uniform distribution, not NaN). */
export const MASKED_SCORE = -1e9;

/** Kernel names by input arity: one packed q|k|v tensor, q plus packed k|v, or three tensors. */
export const ATTENTION_KERNELS = { self: 'MmfuseAttentionSelf', cross: 'MmfuseAttentionCross', separate: 'MmfuseAttention' } as const;
export const ATTENTION_GRAD = 'MmfuseAttentionGrad';
type Variant = keyof typeof ATTENTION_KERNELS;

export type AttentionLayout = 'bthd' | 'bhtd';

interface AttentionAttrs {
  variant: Variant;
  heads: number;
  headDim: number;
  scale: number;
  layout: AttentionLayout;
  /** First column of the q (k, v) block in its tensor's rows (layout "bthd"). */
  qCol: number;
  kCol: number;
  vCol: number;
  /** 0 = no dropout. */
  dropoutRate: number;
  dropoutSeed: number;
  [key: string]: unknown;
}

/** Where (batch row b, head h, step t) of q, k, v or the output starts: hd contiguous floats. */
interface Operand { info: Info; steps: number; row: number; col: number }

function operand(info: Info, layout: AttentionLayout, col: number, heads: number, headDim: number): Operand {
  if (layout === 'bhtd') return { info, steps: info.shape[2]!, row: headDim, col: 0 };
  return { info, steps: info.shape[1]!, row: info.shape[2]!, col };
}

function at(o: Operand, layout: AttentionLayout, b: number, h: number, t: number, heads: number, headDim: number): number {
  return layout === 'bhtd' ? ((b * heads + h) * o.steps + t) * headDim : (b * o.steps + t) * o.row + o.col + h * headDim;
}

function resolveInputs(inputs: Record<string, Info>, variant: Variant): { q: Info; k: Info; v: Info } {
  switch (variant) {
    case 'self': return { q: inputs['qkv']!, k: inputs['qkv']!, v: inputs['qkv']! };
    case 'cross': return { q: inputs['q']!, k: inputs['kv']!, v: inputs['kv']! };
    default: return { q: inputs['q']!, k: inputs['k']!, v: inputs['v']! };
  }
}

function check(q: Info, k: Info, v: Info, mask: Info, a: AttentionAttrs): { B: number; Tq: number; Tk: number } {
  const { heads: H, headDim: hd, layout } = a;
  const B = q.shape[0]!;
  const rank = layout === 'bhtd' ? 4 : 3;
  for (const [name, x] of [['q', q], ['k', k], ['v', v]] as const) {
    if (x.shape.length !== rank || x.shape[0] !== B || x.dtype !== 'float32') throw new Error(`attention: ${name} must be a float32 rank-${rank} tensor with batch ${B}, got ${x.dtype} [${x.shape.join(', ')}]`);
    if (layout === 'bhtd' && (x.shape[1] !== H || x.shape[3] !== hd)) throw new Error(`attention: ${name} must be [B, ${H}, T, ${hd}], got [${x.shape.join(', ')}]`);
  }
  const Tq = layout === 'bhtd' ? q.shape[2]! : q.shape[1]!;
  const Tk = layout === 'bhtd' ? k.shape[2]! : k.shape[1]!;
  if ((layout === 'bhtd' ? v.shape[2] : v.shape[1]) !== Tk) throw new Error(`attention: k and v have different lengths (${Tk} and ${layout === 'bhtd' ? v.shape[2] : v.shape[1]})`);
  if (layout === 'bthd') {
    for (const [name, x, col] of [['q', q, a.qCol], ['k', k, a.kCol], ['v', v, a.vCol]] as const) {
      if (col < 0 || col + H * hd > x.shape[2]!) throw new Error(`attention: columns ${col}..${col + H * hd} of ${name} [${x.shape.join(', ')}] are out of range`);
    }
  }
  if (mask.shape.length !== 2 || mask.shape[0] !== B || mask.shape[1] !== Tk) throw new Error(`attention: mask must be [${B}, ${Tk}], got [${mask.shape.join(', ')}]`);
  return { B, Tq, Tk };
}

/** into [steps, hd] = the rows of (b, h) in `view` (no subarray objects: this runs per row). */
function gatherRows(view: Float32Array, o: Operand, layout: AttentionLayout, b: number, h: number, steps: number, H: number, hd: number, into: Float32Array): void {
  let k = 0;
  for (let t = 0; t < steps; t++) {
    const base = at(o, layout, b, h, t, H, hd);
    for (let j = 0; j < hd; j++) into[k++] = view[base + j]!;
  }
}

/** The rows of (b, h) in `view` = c [steps, hd]. */
function scatterRows(c: Float32Array, view: Float32Array, o: Operand, layout: AttentionLayout, b: number, h: number, steps: number, H: number, hd: number): void {
  let k = 0;
  for (let t = 0; t < steps; t++) {
    const base = at(o, layout, b, h, t, H, hd);
    for (let j = 0; j < hd; j++) view[base + j] = c[k++]!;
  }
}

/** The additive key bias of batch row b: (1 − mask) · MASKED_SCORE. */
function keyBias(maskView: Float32Array, b: number, Tk: number, out: Float32Array): void {
  for (let j = 0; j < Tk; j++) out[j] = (1 - maskView[b * Tk + j]!) * MASKED_SCORE;
}

/**
 * P [B·H·Tq, Tk] (pre-dropout): per (b, h) the scores Q Kᵀ on XNNPACK, scaled and masked while copied into
 * one tensor, then the stock (XNNPACK, vectorized exp) Softmax over all rows at once.
 */
function probabilities(backend: WasmBackend, a: AttentionAttrs, qo: Operand, ko: Operand, mask: Info, B: number, Tq: number, Tk: number): Info {
  const { heads: H, headDim: hd, layout, scale } = a;
  const scores = backend.makeOutput([B * H * Tq, Tk], 'float32');
  const bias = new Float32Array(Tk);
  try {
    for (let b = 0; b < B; b++) {
      keyBias(f32(backend, mask), b, Tk, bias);
      for (let h = 0; h < H; h++) {
        product(backend, Tq, hd, Tk, (qa, kt) => {
          const qv = f32(backend, qo.info);
          const kv = f32(backend, ko.info);
          gatherRows(qv, qo, layout, b, h, Tq, H, hd, qa);
          for (let t = 0; t < Tk; t++) {
            const base = at(ko, layout, b, h, t, H, hd);
            for (let j = 0; j < hd; j++) kt[j * Tk + t] = kv[base + j]!;
          }
        }, (c) => {
          const sv = f32(backend, scores);
          let o = (b * H + h) * Tq * Tk;
          for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) sv[o++] = c[i * Tk + j]! * scale + bias[j]!;
        });
      }
    }
    return callKernel('Softmax', backend, { logits: scores }, { dim: 1 });
  } finally {
    backend.disposeData(scores.dataId);
  }
}

function attentionKernel(args: KernelArgs<AttentionAttrs>): Info {
  const { inputs, backend, attrs } = args;
  const { heads: H, headDim: hd, layout, dropoutRate } = attrs;
  const { q, k, v } = resolveInputs(inputs, attrs.variant);
  const mask = inputs['mask']!;
  const { B, Tq, Tk } = check(q, k, v, mask, attrs);
  const probs = probabilities(backend, attrs, operand(q, layout, attrs.qCol, H, hd), operand(k, layout, attrs.kCol, H, hd), mask, B, Tq, Tk);
  const out = backend.makeOutput(layout === 'bhtd' ? [B, H, Tq, hd] : [B, Tq, H * hd], 'float32');
  const vo = operand(v, layout, attrs.vCol, H, hd);
  const oo = operand(out, layout, 0, H, hd);
  const drop = dropoutRate > 0 ? new DropoutStream(dropoutRate, attrs.dropoutSeed) : undefined;
  const pairSize = Tq * Tk;
  try {
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const offset = (b * H + h) * pairSize;
        // O [Tq, hd] = P′ [Tq, Tk] · V [Tk, hd]
        product(backend, Tq, Tk, hd, (pa, va) => {
          pa.set(f32(backend, probs).subarray(offset, offset + pairSize));
          if (drop !== undefined) applyDropout(drop, pa, pairSize);
          gatherRows(f32(backend, v), vo, layout, b, h, Tk, H, hd, va);
        }, (c) => scatterRows(c, f32(backend, out), oo, layout, b, h, Tq, H, hd));
      }
    }
  } finally {
    backend.disposeData(probs.dataId);
  }
  return out;
}

/** x ⊙ the next `count` mask values (drawn into a scratch row so the stream stays in order). */
const dropScratch = { buf: new Float32Array(0) };
function applyDropout(drop: DropoutStream, x: Float32Array, count: number): void {
  if (dropScratch.buf.length < count) dropScratch.buf = new Float32Array(count);
  const m = dropScratch.buf;
  drop.fill(m, 0, count);
  for (let i = 0; i < count; i++) x[i] = x[i]! * m[i]!;
}

/**
 * Gradient kernel: inputs {dy, mask} plus the forward's q/k/v inputs under their names; outputs one
 * gradient per forward input (qkv | q, kv | q, k, v), zero where a column block is unused.
 */
function attentionGradKernel(args: KernelArgs<AttentionAttrs>): Info[] {
  const { inputs, backend, attrs } = args;
  const { heads: H, headDim: hd, layout, scale, dropoutRate, variant } = attrs;
  const { q, k, v } = resolveInputs(inputs, variant);
  const mask = inputs['mask']!;
  const dy = inputs['dy']!;
  const { B, Tq, Tk } = check(q, k, v, mask, attrs);
  const qo = operand(q, layout, attrs.qCol, H, hd);
  const ko = operand(k, layout, attrs.kCol, H, hd);
  const vo = operand(v, layout, attrs.vCol, H, hd);
  const probs = probabilities(backend, attrs, qo, ko, mask, B, Tq, Tk);
  const grads = (variant === 'self' ? [q] : variant === 'cross' ? [q, k] : [q, k, v]).map((x) => backend.makeOutput([...x.shape], 'float32'));
  for (const g of grads) f32(backend, g).fill(0);
  const dq = grads[0]!;
  const dk = variant === 'self' ? grads[0]! : grads[1]!;
  const dv = variant === 'self' ? grads[0]! : variant === 'cross' ? grads[1]! : grads[2]!;
  const dqo = operand(dq, layout, attrs.qCol, H, hd);
  const dko = operand(dk, layout, attrs.kCol, H, hd);
  const dvo = operand(dv, layout, attrs.vCol, H, hd);
  const dyo = operand(dy, layout, 0, H, hd);
  const pairSize = Tq * Tk;
  const p = new Float32Array(pairSize); // P of one (b, h), then dS
  const dmask = dropoutRate > 0 ? new Float32Array(pairSize) : undefined;
  const drop = dropoutRate > 0 ? new DropoutStream(dropoutRate, attrs.dropoutSeed) : undefined;
  const dpd = new Float32Array(pairSize); // dP′ = dO Vᵀ
  const rowsOf = (src: Operand, x: Info, b: number, h: number, steps: number, into: Float32Array): void => gatherRows(f32(backend, x), src, layout, b, h, steps, H, hd, into);
  const scatter = (dst: Operand, x: Info, b: number, h: number, steps: number, c: Float32Array): void => scatterRows(c, f32(backend, x), dst, layout, b, h, steps, H, hd);
  /** out [cols, rows] = m [rows, cols]ᵀ (optionally ⊙ w). */
  const transposeInto = (m: Float32Array, rows: number, cols: number, out: Float32Array, w?: Float32Array): void => {
    for (let i = 0; i < rows; i++) {
      const r = i * cols;
      if (w === undefined) for (let t = 0; t < cols; t++) out[t * rows + i] = m[r + t]!;
      else for (let t = 0; t < cols; t++) out[t * rows + i] = m[r + t]! * w[r + t]!;
    }
  };
  try {
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const offset = (b * H + h) * pairSize;
        p.set(f32(backend, probs).subarray(offset, offset + pairSize));
        if (dmask !== undefined && drop !== undefined) drop.fill(dmask, 0, pairSize);
        // dP′ [Tq, Tk] = dO [Tq, hd] · Vᵀ [hd, Tk]
        product(backend, Tq, hd, Tk, (da, vt) => {
          rowsOf(dyo, dy, b, h, Tq, da);
          const vv = f32(backend, v);
          for (let t = 0; t < Tk; t++) {
            const base = at(vo, layout, b, h, t, H, hd);
            for (let j = 0; j < hd; j++) vt[j * Tk + t] = vv[base + j]!;
          }
        }, (c) => dpd.set(c));
        // dV [Tk, hd] = P′ᵀ [Tk, Tq] · dO [Tq, hd]
        product(backend, Tk, Tq, hd, (pt, da) => {
          transposeInto(p, Tq, Tk, pt, dmask);
          rowsOf(dyo, dy, b, h, Tq, da);
        }, (c) => scatter(dvo, dv, b, h, Tk, c));
        // dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale, with dP = dP′ ⊙ dropout (into p)
        for (let i = 0; i < Tq; i++) {
          const r = i * Tk;
          let dot = 0;
          if (dmask !== undefined) for (let t = 0; t < Tk; t++) dpd[r + t] = dpd[r + t]! * dmask[r + t]!;
          for (let t = 0; t < Tk; t++) dot += dpd[r + t]! * p[r + t]!;
          for (let t = 0; t < Tk; t++) p[r + t] = p[r + t]! * (dpd[r + t]! - dot) * scale;
        }
        // dQ [Tq, hd] = dS [Tq, Tk] · K [Tk, hd]
        product(backend, Tq, Tk, hd, (ds, ka) => {
          ds.set(p);
          rowsOf(ko, k, b, h, Tk, ka);
        }, (c) => scatter(dqo, dq, b, h, Tq, c));
        // dK [Tk, hd] = dSᵀ [Tk, Tq] · Q [Tq, hd]
        product(backend, Tk, Tq, hd, (dst, qa) => {
          transposeInto(p, Tq, Tk, dst);
          rowsOf(qo, q, b, h, Tq, qa);
        }, (c) => scatter(dko, dk, b, h, Tk, c));
      }
    }
  } finally {
    backend.disposeData(probs.dataId);
  }
  return grads;
}

export const attentionConfigs: tf.KernelConfig[] = Object.values(ATTENTION_KERNELS).map((kernelName) => ({
  kernelName, backendName: 'wasm', kernelFunc: attentionKernel as unknown as tf.KernelFunc,
}));
export const attentionGradConfig: tf.KernelConfig = { kernelName: ATTENTION_GRAD, backendName: 'wasm', kernelFunc: attentionGradKernel as unknown as tf.KernelFunc };

const INPUT_NAMES: Record<Variant, string[]> = { self: ['qkv'], cross: ['q', 'kv'], separate: ['q', 'k', 'v'] };

/** Register the gradients of the fused kernels (once per process; gradients are backend-independent). */
export function registerAttentionGradients(): void {
  for (const [variant, kernelName] of Object.entries(ATTENTION_KERNELS) as [Variant, string][]) {
    if (tf.getGradient(kernelName) !== undefined) continue;
    const names = INPUT_NAMES[variant];
    tf.registerGradient({
      kernelName,
      inputsToSave: [...names, 'mask'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const g = Array.isArray(dy) ? dy[0]! : dy;
        const mask = saved[names.length]!;
        const inputs: tf.NamedTensorMap = { dy: g, mask };
        names.forEach((n, i) => { inputs[n] = saved[i]!; });
        const grads = tf.engine().runKernel(ATTENTION_GRAD, inputs, attrs) as unknown as tf.Tensor[];
        const out: Record<string, () => tf.Tensor> = { mask: () => tf.zerosLike(mask) };
        names.forEach((n, i) => { out[n] = () => grads[i]!; });
        return out;
      },
    });
  }
}

export interface AttentionArgs {
  /**
   * Queries: [B, Tq, C] rows holding the heads as a column block from `qCol` ("bthd"), or [B, H, Tq, hd]
   * ("bhtd"). For self-attention over one packed projection pass the same tensor as q, k and v.
   */
  q: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
  /** Key mask [B, Tk]: 1 = attend, 0 = ignore. Default: every key. */
  mask?: tf.Tensor2D;
  heads: number;
  /** Layout of q, k, v and the output. Default "bthd". */
  layout?: AttentionLayout;
  /** First column of each block (layout "bthd"). Default 0. */
  qCol?: number;
  kCol?: number;
  vCol?: number;
  /** Size of one head. Default: from q's shape (a packed [B, T, 3d] q|k|v counts as 3 blocks). */
  headDim?: number;
  /** Score scale. Default 1 / sqrt(headDim). */
  scale?: number;
  /** Dropout on the probabilities (training): rate and the seed of mmfuse's mask stream. */
  dropout?: { rate: number; seed: number };
}

/** The same function from tf ops (any backend), for backends without the fused kernels. */
function composed(a: Required<Omit<AttentionArgs, 'dropout' | 'mask' | 'headDim'>> & { mask: tf.Tensor2D; dropout?: { rate: number; seed: number } }, headDim: number): tf.Tensor {
  const { heads: H, layout } = a;
  const split = (x: tf.Tensor, col: number): tf.Tensor4D => {
    if (layout === 'bhtd') return x as tf.Tensor4D;
    const [b, t] = x.shape as [number, number, number];
    return x.slice([0, 0, col], [b, t, H * headDim]).reshape([b, t, H, headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hd]
  };
  const q = split(a.q, a.qCol);
  const k = split(a.k, a.kCol);
  const v = split(a.v, a.vCol);
  const [b, , tq] = q.shape;
  const tk = k.shape[2];
  const bias = tf.scalar(1).sub(a.mask).mul(MASKED_SCORE).reshape([b, 1, 1, tk]); // [B, 1, 1, Tk]
  const probs = tf.softmax(tf.matMul(q, k, false, true).mul(a.scale).add(bias), -1); // [B, H, Tq, Tk]
  const dropped = a.dropout === undefined || a.dropout.rate <= 0 ? probs : probs.mul(tf.tensor(dropoutMask(probs.size, a.dropout.rate, a.dropout.seed), probs.shape));
  const ctx = tf.matMul(dropped, v); // [B, H, Tq, hd]
  return layout === 'bhtd' ? ctx : ctx.transpose([0, 2, 1, 3]).reshape([b, tq, H * headDim]); // [B, Tq, d]
}

/**
 * Multi-head attention output [B, Tq, H·hd] ("bthd") or [B, H, Tq, hd] ("bhtd"). Differentiable. On the
 * wasm engine (after `initEngine`) it runs as one fused kernel each way; elsewhere as tf ops.
 */
export function attention(args: AttentionArgs): tf.Tensor {
  const layout = args.layout ?? 'bthd';
  if (!Number.isInteger(args.heads) || args.heads < 1) throw new RangeError(`attention: heads must be a positive integer, got ${args.heads}`);
  const packedSelf = args.q === args.k && args.k === args.v;
  const headDim = args.headDim ?? (layout === 'bhtd' ? args.q.shape[3]! : args.q.shape[2]! / (packedSelf ? 3 : 1) / args.heads);
  if (!Number.isInteger(headDim) || headDim < 1) throw new RangeError(`attention: cannot split q [${args.q.shape.join(', ')}] into ${args.heads} heads; give headDim`);
  return attentionWithHeadDim(args, layout, headDim);
}

/** `attention` from tf ops on any backend, fused kernel or not (the reference the fused kernels are tested against). */
export function attentionComposed(args: AttentionArgs): tf.Tensor {
  return attention({ ...args, composed: true } as AttentionArgs);
}

function attentionWithHeadDim(args: AttentionArgs, layout: AttentionLayout, headDim: number): tf.Tensor {
  const heads = args.heads;
  if (!Number.isInteger(headDim) || headDim < 1) throw new RangeError(`attention: cannot split width into ${heads} heads (head size ${headDim})`);
  const d = heads * headDim;
  const packedSelf = args.q === args.k && args.k === args.v;
  const packedKv = !packedSelf && args.k === args.v;
  const qCol = args.qCol ?? 0;
  const kCol = args.kCol ?? (packedSelf ? d : 0);
  const vCol = args.vCol ?? (packedSelf ? 2 * d : packedKv ? d : 0);
  const scale = args.scale ?? 1 / Math.sqrt(headDim);
  const b = args.q.shape[0]!;
  const tk = layout === 'bhtd' ? args.k.shape[2]! : args.k.shape[1]!;
  const mask = args.mask ?? (tf.ones([b, tk]) as tf.Tensor2D);
  const rate = args.dropout?.rate ?? 0;
  const full = { q: args.q, k: args.k, v: args.v, mask, heads, layout, qCol, kCol, vCol, scale, ...(rate > 0 ? { dropout: args.dropout! } : {}) };
  const variant: Variant = packedSelf ? 'self' : packedKv ? 'cross' : 'separate';
  const kernelName = ATTENTION_KERNELS[variant];
  if ((args as { composed?: boolean }).composed === true || tf.getKernel(kernelName, tf.getBackend()) === undefined) return composed(full, headDim);
  const inputs: tf.NamedTensorMap = variant === 'self' ? { qkv: args.q, mask } : variant === 'cross' ? { q: args.q, kv: args.k, mask } : { q: args.q, k: args.k, v: args.v, mask };
  const attrs = { variant, heads, headDim, scale, layout, qCol, kCol, vCol, dropoutRate: rate, dropoutSeed: args.dropout?.seed ?? 0 };
  return tf.engine().runKernel(kernelName, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
