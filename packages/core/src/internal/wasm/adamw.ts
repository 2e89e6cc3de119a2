/**
 * One AdamW update (decoupled weight decay, as PyTorch's `torch.optim.AdamW`) of every variable in one
 * kernel on wasm:
 *   w ← w (1 − lr·wd);  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;  w ← w − lr (m / c1) / (√(v / c2) + ε)
 * with c1 = 1 − β1^t, c2 = 1 − β2^t and g the gradient times an optional global scale (clipping). Composed
 * from tf ops that is ~12 kernels per variable (about 700 for the reference model) per step; fused it is one
 * pass over all of them. On other backends the same update runs as tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { adamwSimdFor } from './adamw-simd.js';
import { f32, type Info, type KernelArgs, type WasmBackend } from './heap.js';

export const ADAMW = 'MmfuseAdamW';

/**
 * Whether the update loop runs as WebAssembly SIMD (`adamw-simd.ts`, the same results bit for bit) where it
 * can; false forces the JavaScript loop (tests compare the two). A tfjs environment flag.
 */
export const ADAMW_SIMD_FLAG = 'MMFUSE_ADAMW_SIMD';

export function registerAdamwFlag(): void {
  tf.env().registerFlag(ADAMW_SIMD_FLAG, () => true);
}

/** The wasm engine's memory: exported by the threaded build's glue, else the instance's own export. */
export function engineMemory(backend: WasmBackend): { buffer: ArrayBufferLike } | undefined {
  const module = backend.wasm as unknown as { wasmMemory?: { buffer: ArrayBufferLike }; asm?: { memory?: { buffer: ArrayBufferLike } } };
  return module.wasmMemory ?? module.asm?.memory;
}

interface Attrs { count: number; learningRate: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; step: number; [key: string]: unknown }

/** Inputs p0, g0, m0, v0, p1, ... (and an optional scalar `scale`) → outputs [p0′, m0′, v0′, p1′, ...]. */
function adamwKernel(args: KernelArgs<Attrs>): Info[] {
  const { inputs, backend, attrs } = args;
  const { count, learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd, step } = attrs;
  const c1 = 1 - b1 ** step;
  const c2 = 1 - b2 ** step;
  const decay = 1 - lr * wd;
  const scaleInfo = inputs['scale'];
  const outs: Info[] = [];
  for (let k = 0; k < count; k++) {
    const p = inputs[`p${k}`]!;
    for (const name of ['g', 'm', 'v']) {
      const t = inputs[`${name}${k}`]!;
      if (t.shape.length !== p.shape.length || t.shape.some((s, i) => s !== p.shape[i])) throw new Error(`adamw: ${name}${k} [${t.shape.join(', ')}] does not match its variable [${p.shape.join(', ')}]`);
    }
    outs.push(backend.makeOutput([...p.shape], 'float32'), backend.makeOutput([...p.shape], 'float32'), backend.makeOutput([...p.shape], 'float32'));
  }
  // Views only after every allocation (an allocation may move the heap).
  const scale = scaleInfo === undefined ? 1 : f32(backend, scaleInfo)[0]!;
  // The update is computed in float64 exactly as written above (three divisions per weight), by the SIMD
  // loop (adamw-simd.ts: the same operations in the same order) or the JavaScript loop below. Folding the
  // divisions into one (lr / c1 and 1 / c2 out of the loop) is faster but rounds differently in the last bit,
  // which moves every trained model off its recorded run.
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const simd = tf.env().getBool(ADAMW_SIMD_FLAG) ? adamwSimdFor(engineMemory(backend)) : undefined;
  for (let k = 0; k < count; k++) {
    const pv = f32(backend, inputs[`p${k}`]!);
    const gv = f32(backend, inputs[`g${k}`]!);
    const mv = f32(backend, inputs[`m${k}`]!);
    const vv = f32(backend, inputs[`v${k}`]!);
    const po = f32(backend, outs[3 * k]!);
    const mo = f32(backend, outs[3 * k + 1]!);
    const vo = f32(backend, outs[3 * k + 2]!);
    const n = pv.length;
    let i0 = 0;
    if (simd !== undefined && n >= 2) {
      i0 = n - (n % 2);
      simd(pv.byteOffset, gv.byteOffset, mv.byteOffset, vv.byteOffset, po.byteOffset, mo.byteOffset, vo.byteOffset, i0, scale, b1, a1, b2, a2, lr, c1, c2, eps, decay);
    }
    for (let i = i0; i < n; i++) {
      const g = gv[i]! * scale;
      const m = b1 * mv[i]! + a1 * g;
      const v = b2 * vv[i]! + a2 * g * g;
      mo[i] = m;
      vo[i] = v;
      po[i] = pv[i]! * decay - lr * (m / c1) / (Math.sqrt(v / c2) + eps);
    }
  }
  return outs;
}

export const adamwConfig: tf.KernelConfig = { kernelName: ADAMW, backendName: 'wasm', kernelFunc: adamwKernel as unknown as tf.KernelFunc };

export interface AdamWUpdateOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** 1-based step number (bias correction). */
  step: number;
  /** Multiplies every gradient (e.g. the clipping factor). */
  gradScale?: tf.Scalar;
}

/** The update of one variable from tf ops (any backend): the reference the fused kernel is tested against. */
function composedUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, o: AdamWUpdateOptions): void {
  const c1 = 1 - o.beta1 ** o.step;
  const c2 = 1 - o.beta2 ** o.step;
  const gs = o.gradScale === undefined ? g : g.mul(o.gradScale);
  m.assign(m.mul(o.beta1).add(gs.mul(1 - o.beta1)));
  v.assign(v.mul(o.beta2).add(gs.square().mul(1 - o.beta2)));
  const update = m.div(c1).div(v.div(c2).sqrt().add(o.epsilon));
  p.assign(p.mul(1 - o.learningRate * o.weightDecay).sub(update.mul(o.learningRate)));
}

/**
 * Apply one AdamW update to `params` (and their moments `m`, `v`, updated in place). `grads[i]` belongs to
 * `params[i]`; an undefined gradient leaves that variable and its moments as they are. One kernel for every
 * variable on the wasm engine (`composed: true` forces the tf-ops path, for tests); tf ops elsewhere.
 */
export function adamwUpdate(params: readonly tf.Variable[], grads: readonly (tf.Tensor | undefined)[], m: readonly tf.Variable[], v: readonly tf.Variable[], options: AdamWUpdateOptions & { composed?: boolean }): void {
  if (grads.length !== params.length || m.length !== params.length || v.length !== params.length) {
    throw new RangeError(`adamwUpdate: ${params.length} variables, ${grads.length} gradients, ${m.length} and ${v.length} moments`);
  }
  tf.tidy(() => {
    const live = params.map((_, i) => i).filter((i) => grads[i] !== undefined);
    if (options.composed === true || tf.getKernel(ADAMW, tf.getBackend()) === undefined || live.some((i) => params[i]!.dtype !== 'float32')) {
      for (const i of live) composedUpdate(params[i]!, grads[i]!, m[i]!, v[i]!, options);
      return;
    }
    if (live.length === 0) return;
    const inputs: tf.NamedTensorMap = {};
    live.forEach((i, k) => {
      inputs[`p${k}`] = params[i]!;
      inputs[`g${k}`] = grads[i]!;
      inputs[`m${k}`] = m[i]!;
      inputs[`v${k}`] = v[i]!;
    });
    if (options.gradScale !== undefined) inputs['scale'] = options.gradScale;
    const attrs = { count: live.length, learningRate: options.learningRate, beta1: options.beta1, beta2: options.beta2, epsilon: options.epsilon, weightDecay: options.weightDecay, step: options.step };
    const outs = tf.engine().runKernel(ADAMW, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    live.forEach((i, k) => {
      params[i]!.assign(outs[3 * k]!);
      m[i]!.assign(outs[3 * k + 1]!);
      v[i]!.assign(outs[3 * k + 2]!);
    });
  });
}
