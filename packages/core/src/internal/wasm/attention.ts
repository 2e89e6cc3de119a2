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
 * On other backends, and on wasm unless the MMFUSE_FUSED_ATTENTION flag is on (measured slower there, see
 * below), `attention` composes the same function from tf ops (same values and gradients).
 */
import * as tf from '@tensorflow/tfjs';
import { dropout } from './dropout.js';
import { DropoutStream } from './dropout_mask.js';
import { callKernel, f32, type Info, type KernelArgs, transpose, type WasmBackend, withShape } from './heap.js';
import { product } from './products.js';
import { sliceInto } from './slice.js';

/**
 * tfjs environment flag: run `attention` as the fused wasm kernel (true) or as the tf-ops composition
 * (false, the default). Measured on the reference model's shapes the fused kernel is slower on wasm (its
 * elementwise passes are scalar JavaScript, tfjs's own kernels are SIMD C++; see BENCHMARKS.md), so it is
 * opt-in: `tf.env().set('MMFUSE_FUSED_ATTENTION', true)`.
 */
export const FUSED_ATTENTION_FLAG = 'MMFUSE_FUSED_ATTENTION';

/** Register the flag (re-registering only replaces the default, so this is safe to repeat). */
export function registerAttentionFlag(): void {
  tf.env().registerFlag(FUSED_ATTENTION_FLAG, () => false);
}

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

/**
 * The heads of one operand as a new [B, H, T, hd] tensor (every (b, h) block contiguous), made with the
 * backend's own kernels: a column-block slice (memmove per row) and a rank-4 transpose. `transposed` gives
 * [B, H, hd, T] instead. The caller disposes the result.
 */
function headsMajor(backend: WasmBackend, x: Info, layout: AttentionLayout, col: number, H: number, hd: number, transposed = false): Info {
  if (layout === 'bhtd') return transposed ? transpose(backend, x, [0, 1, 3, 2]) : callKernel('Identity', backend, { x });
  const [B, T, C] = x.shape as [number, number, number];
  let block = x;
  if (C !== H * hd) {
    block = backend.makeOutput([B, T, H * hd], 'float32');
    sliceInto(backend, x, [0, 0, col], [B, T, H * hd], block);
  }
  const out = transpose(backend, withShape(block, [B, T, H, hd]), transposed ? [0, 2, 3, 1] : [0, 2, 1, 3]);
  if (block !== x) backend.disposeData(block.dataId);
  return out;
}

/** Write g [B, H, T, hd] into `into` ([B, T, C] at column `col`, or [B, H, T, hd]); consumes g. */
function fromHeadsMajor(backend: WasmBackend, g: Info, into: Info, layout: AttentionLayout, col: number): void {
  const [B, H, T, hd] = g.shape as [number, number, number, number];
  if (layout === 'bhtd') {
    f32(backend, into).set(f32(backend, g));
    backend.disposeData(g.dataId);
    return;
  }
  const rows = transpose(backend, g, [0, 2, 1, 3]); // [B, T, H, hd]
  backend.disposeData(g.dataId);
  const C = into.shape[2]!;
  const d = H * hd;
  const src = f32(backend, rows);
  const dst = f32(backend, into);
  if (C === d) dst.set(src);
  else for (let r = 0; r < B * T; r++) dst.set(src.subarray(r * d, (r + 1) * d), r * C + col);
  backend.disposeData(rows.dataId);
}

/** The additive key bias of batch row b: (1 − mask) · MASKED_SCORE. */
function keyBias(maskView: Float32Array, b: number, Tk: number, out: Float32Array): void {
  for (let j = 0; j < Tk; j++) out[j] = (1 - maskView[b * Tk + j]!) * MASKED_SCORE;
}

/**
 * P [B·H·Tq, Tk] (pre-dropout) from Q [B, H, Tq, hd] and Kᵀ [B, H, hd, Tk]: per (b, h) the scores on XNNPACK,
 * scaled and masked while copied into one tensor, then the stock (XNNPACK, vectorized exp) Softmax over all
 * rows at once.
 */
function probabilities(backend: WasmBackend, a: AttentionAttrs, qh: Info, kt: Info, mask: Info, B: number, Tq: number, Tk: number): Info {
  const { heads: H, headDim: hd, scale } = a;
  const scores = backend.makeOutput([B * H * Tq, Tk], 'float32');
  const bias = new Float32Array(Tk);
  try {
    for (let b = 0; b < B; b++) {
      keyBias(f32(backend, mask), b, Tk, bias);
      for (let h = 0; h < H; h++) {
        const p = b * H + h;
        product(backend, Tq, hd, Tk, (qa, kb) => {
          qa.set(f32(backend, qh).subarray(p * Tq * hd, (p + 1) * Tq * hd));
          kb.set(f32(backend, kt).subarray(p * hd * Tk, (p + 1) * hd * Tk));
        }, (c) => {
          const sv = f32(backend, scores);
          let o = p * Tq * Tk;
          for (let i = 0, r = 0; i < Tq; i++) for (let j = 0; j < Tk; j++, r++) sv[o++] = c[r]! * scale + bias[j]!;
        });
      }
    }
    return callKernel('Softmax', backend, { logits: scores }, { dim: 1 });
  } finally {
    backend.disposeData(scores.dataId);
  }
}

/** Scratch row for drawing dropout values (the stream must stay in (b, h, i, j) order). */
const scratch = { buf: new Float32Array(0) };
function scratchOf(size: number): Float32Array {
  if (scratch.buf.length < size) scratch.buf = new Float32Array(size);
  return scratch.buf;
}

function attentionKernel(args: KernelArgs<AttentionAttrs>): Info {
  const { inputs, backend, attrs } = args;
  const { heads: H, headDim: hd, layout, dropoutRate } = attrs;
  const { q, k, v } = resolveInputs(inputs, attrs.variant);
  const mask = inputs['mask']!;
  const { B, Tq, Tk } = check(q, k, v, mask, attrs);
  const qh = headsMajor(backend, q, layout, attrs.qCol, H, hd);
  const kt = headsMajor(backend, k, layout, attrs.kCol, H, hd, true);
  const probs = probabilities(backend, attrs, qh, kt, mask, B, Tq, Tk);
  backend.disposeData(qh.dataId);
  backend.disposeData(kt.dataId);
  const vh = headsMajor(backend, v, layout, attrs.vCol, H, hd);
  const oh = backend.makeOutput([B, H, Tq, hd], 'float32');
  const drop = dropoutRate > 0 ? new DropoutStream(dropoutRate, attrs.dropoutSeed) : undefined;
  const pairSize = Tq * Tk;
  for (let p = 0; p < B * H; p++) {
    // O [Tq, hd] = P′ [Tq, Tk] · V [Tk, hd]
    product(backend, Tq, Tk, hd, (pa, va) => {
      pa.set(f32(backend, probs).subarray(p * pairSize, (p + 1) * pairSize));
      if (drop !== undefined) {
        const m = scratchOf(pairSize);
        drop.fill(m, 0, pairSize);
        for (let i = 0; i < pairSize; i++) pa[i] = pa[i]! * m[i]!;
      }
      va.set(f32(backend, vh).subarray(p * Tk * hd, (p + 1) * Tk * hd));
    }, (c) => f32(backend, oh).set(c, p * Tq * hd));
  }
  backend.disposeData(probs.dataId);
  backend.disposeData(vh.dataId);
  const out = backend.makeOutput(layout === 'bhtd' ? [B, H, Tq, hd] : [B, Tq, H * hd], 'float32');
  fromHeadsMajor(backend, oh, out, layout, 0);
  return out;
}

/**
 * Gradient kernel: inputs {dy, mask} plus the forward's q/k/v inputs under their names; outputs one
 * gradient per forward input (qkv | q, kv | q, k, v), zero where a column block is unused. Per (b, h), with
 * P recomputed and P′ = P ⊙ dropout:
 *   dP′ = dO Vᵀ,  dVᵀ = dOᵀ P′,  dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale (dP = dP′ ⊙ dropout),
 *   dQ = dS K,  dKᵀ = Qᵀ dS
 * (the transposed forms keep every operand a contiguous block of a heads-major tensor).
 */
function attentionGradKernel(args: KernelArgs<AttentionAttrs>): Info[] {
  const { inputs, backend, attrs } = args;
  const { heads: H, headDim: hd, layout, scale, dropoutRate, variant } = attrs;
  const { q, k, v } = resolveInputs(inputs, variant);
  const mask = inputs['mask']!;
  const dy = inputs['dy']!;
  const { B, Tq, Tk } = check(q, k, v, mask, attrs);
  const qh = headsMajor(backend, q, layout, attrs.qCol, H, hd);
  const qt = headsMajor(backend, q, layout, attrs.qCol, H, hd, true);
  const kh = headsMajor(backend, k, layout, attrs.kCol, H, hd);
  const kt = headsMajor(backend, k, layout, attrs.kCol, H, hd, true);
  const vt = headsMajor(backend, v, layout, attrs.vCol, H, hd, true);
  const doh = headsMajor(backend, dy, layout, 0, H, hd);
  const dot = headsMajor(backend, dy, layout, 0, H, hd, true);
  const probs = probabilities(backend, attrs, qh, kt, mask, B, Tq, Tk);
  const dqh = backend.makeOutput([B, H, Tq, hd], 'float32');
  const dkt = backend.makeOutput([B, H, hd, Tk], 'float32');
  const dvt = backend.makeOutput([B, H, hd, Tk], 'float32');
  const pairSize = Tq * Tk;
  const p = new Float32Array(pairSize); // P, then dS
  const pd = new Float32Array(pairSize); // P′
  const dp = new Float32Array(pairSize); // dP′, then dP
  const dmask = dropoutRate > 0 ? new Float32Array(pairSize) : undefined;
  const drop = dropoutRate > 0 ? new DropoutStream(dropoutRate, attrs.dropoutSeed) : undefined;
  const qs = Tq * hd;
  const ks = Tk * hd;
  for (let n = 0; n < B * H; n++) {
    p.set(f32(backend, probs).subarray(n * pairSize, (n + 1) * pairSize));
    if (dmask !== undefined && drop !== undefined) {
      drop.fill(dmask, 0, pairSize);
      for (let i = 0; i < pairSize; i++) pd[i] = p[i]! * dmask[i]!;
    }
    const pPrime = dmask === undefined ? p : pd;
    // dP′ [Tq, Tk] = dO [Tq, hd] · Vᵀ [hd, Tk]
    product(backend, Tq, hd, Tk, (a, b) => {
      a.set(f32(backend, doh).subarray(n * qs, (n + 1) * qs));
      b.set(f32(backend, vt).subarray(n * ks, (n + 1) * ks));
    }, (c) => dp.set(c));
    // dVᵀ [hd, Tk] = dOᵀ [hd, Tq] · P′ [Tq, Tk]
    product(backend, hd, Tq, Tk, (a, b) => {
      a.set(f32(backend, dot).subarray(n * qs, (n + 1) * qs));
      b.set(pPrime);
    }, (c) => f32(backend, dvt).set(c, n * ks));
    // dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale, dP = dP′ ⊙ dropout (into p)
    for (let i = 0; i < Tq; i++) {
      const r = i * Tk;
      let sum = 0;
      if (dmask !== undefined) for (let t = 0; t < Tk; t++) dp[r + t] = dp[r + t]! * dmask[r + t]!;
      for (let t = 0; t < Tk; t++) sum += dp[r + t]! * p[r + t]!;
      for (let t = 0; t < Tk; t++) p[r + t] = p[r + t]! * (dp[r + t]! - sum) * scale;
    }
    // dQ [Tq, hd] = dS [Tq, Tk] · K [Tk, hd]
    product(backend, Tq, Tk, hd, (a, b) => {
      a.set(p);
      b.set(f32(backend, kh).subarray(n * ks, (n + 1) * ks));
    }, (c) => f32(backend, dqh).set(c, n * qs));
    // dKᵀ [hd, Tk] = Qᵀ [hd, Tq] · dS [Tq, Tk]
    product(backend, hd, Tq, Tk, (a, b) => {
      a.set(f32(backend, qt).subarray(n * qs, (n + 1) * qs));
      b.set(p);
    }, (c) => f32(backend, dkt).set(c, n * ks));
  }
  for (const t of [qh, qt, kh, kt, vt, doh, dot, probs]) backend.disposeData(t.dataId);
  const grads = (variant === 'self' ? [q] : variant === 'cross' ? [q, k] : [q, k, v]).map((x) => backend.makeOutput([...x.shape], 'float32'));
  for (const g of grads) f32(backend, g).fill(0);
  const dq = grads[0]!;
  const dk = variant === 'self' ? grads[0]! : grads[1]!;
  const dv = variant === 'self' ? grads[0]! : variant === 'cross' ? grads[1]! : grads[2]!;
  fromHeadsMajor(backend, dqh, dq, layout, attrs.qCol);
  fromHeadsMajor(backend, transpose(backend, dkt, [0, 1, 3, 2]), dk, layout, attrs.kCol);
  backend.disposeData(dkt.dataId);
  fromHeadsMajor(backend, transpose(backend, dvt, [0, 1, 3, 2]), dv, layout, attrs.vCol);
  backend.disposeData(dvt.dataId);
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
    const [b, t, c] = x.shape as [number, number, number];
    const block = col === 0 && c === H * headDim ? x : x.slice([0, 0, col], [b, t, H * headDim]);
    return block.reshape([b, t, H, headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hd]
  };
  const q = split(a.q, a.qCol);
  const k = split(a.k, a.kCol);
  const v = split(a.v, a.vCol);
  const [b, , tq] = q.shape;
  const tk = k.shape[2];
  const bias = tf.scalar(1).sub(a.mask).mul(MASKED_SCORE).reshape([b, 1, 1, tk]); // [B, 1, 1, Tk]
  const probs = tf.softmax(tf.matMul(q, k, false, true).mul(a.scale).add(bias), -1); // [B, H, Tq, Tk]
  const dropped = a.dropout === undefined || a.dropout.rate <= 0 ? probs : dropout(probs, a.dropout.rate, a.dropout.seed);
  const ctx = tf.matMul(dropped, v); // [B, H, Tq, hd]
  return layout === 'bhtd' ? ctx : ctx.transpose([0, 2, 1, 3]).reshape([b, tq, H * headDim]); // [B, Tq, d]
}

/**
 * Multi-head attention output [B, Tq, H·hd] ("bthd") or [B, H, Tq, hd] ("bhtd"). Differentiable. Runs as tf
 * ops (with mmfuse's fused dropout kernel on wasm); with the `MMFUSE_FUSED_ATTENTION` flag on, as one fused
 * kernel each way on the wasm engine.
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

/** `attention` as the fused kernel where the backend has it, whatever the flag says (for tests and benchmarks). */
export function attentionFused(args: AttentionArgs): tf.Tensor {
  return attention({ ...args, composed: false } as AttentionArgs);
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
  const fused = (args as { composed?: boolean }).composed !== true && tf.getKernel(kernelName, tf.getBackend()) !== undefined
    && ((args as { composed?: boolean }).composed === false || (tf.env().getFlags()[FUSED_ATTENTION_FLAG] ?? false) === true);
  if (!fused) return composed(full, headDim);
  const inputs: tf.NamedTensorMap = variant === 'self' ? { qkv: args.q, mask } : variant === 'cross' ? { q: args.q, kv: args.k, mask } : { q: args.q, k: args.k, v: args.v, mask };
  const attrs = { variant, heads, headDim, scale, layout, qCol, kCol, vCol, dropoutRate: rate, dropoutSeed: args.dropout?.seed ?? 0 };
  return tf.engine().runKernel(kernelName, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
