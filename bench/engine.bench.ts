/**
 * `npm run bench engine`: mmfuse's wasm kernels, each before/after, and one training step of the
 * BENCHMARK-SPEC.md reference model:
 * - kernels at one thread: "before" is the stock wasm kernel, the cpu backend where stock wasm has none, or for
 *   mmfuse's fused ops their unfused tf-ops composition;
 * - the step on stock wasm + only the gradient kernels it lacks (the least that trains) and on mmfuse wasm at
 *   1 and 2 threads (child processes, bench/engine_step_child.ts), against the PyTorch reference step at the
 *   same thread counts in the same run; thread scaling 1 → 2;
 * - a tf.profile of one step per wasm setup lists the kernels where the time goes.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate, createRng, initEngine, layerNorm } from '@mmfuse/core';
import { attentionComposed, attentionFused } from '../packages/core/src/internal/wasm/attention.js';
import { dropout, dropoutComposed } from '../packages/core/src/internal/wasm/dropout.js';
import { geluComposed, geluFused } from '../packages/core/src/internal/wasm/gelu.js';
import { layerNormComposed } from '../packages/core/src/internal/wasm/layer_norm.js';
import { ADDED_KERNELS, registerWasmKernels, unregisterWasmKernels } from '../packages/core/src/internal/wasm/register.js';
import type { BenchFigure, Benchmark, BenchSection } from './types.js';
import { AdamW, B, disposeBatches, makeBatches, ReferenceModel } from './engine_reference_model.js';

const here = path.dirname(fileURLToPath(import.meta.url));

type Setup = 'cpu' | 'stock' | 'mmfuse' | 'composed';
const MISSING_GRADIENTS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum'];
const SETUP_LABEL: Record<Setup, string> = { cpu: 'cpu backend', stock: 'stock wasm + missing gradients', mmfuse: 'mmfuse wasm', composed: 'tf-ops composition (mmfuse wasm)' };

/** Put the engine in one of the setups (kernel registry and active backend). */
export async function use(setup: Setup): Promise<void> {
  unregisterWasmKernels();
  if (setup === 'mmfuse' || setup === 'composed') {
    registerWasmKernels();
  } else {
    // The least that trains on wasm: the missing gradient kernels, stock everything else (the reference
    // model's LSTM then composes its step from tf ops instead of the fused lstmCell kernel).
    for (const config of ADDED_KERNELS) {
      if (MISSING_GRADIENTS.includes(config.kernelName) && tf.getKernel(config.kernelName, 'wasm') === undefined) tf.registerKernel(config);
    }
  }
  await tf.setBackend(setup === 'cpu' ? 'cpu' : 'wasm');
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Median wall time (ms) of `f` on inputs made beforehand, after one untimed call; one value of the output is read
 * back, which waits for the work on any backend. Reading the whole output back is not the kernel's cost: for an
 * output of several MB (the attention scores, 7.6 MB) it took 1-23 ms on wasm depending on the state of the
 * JavaScript heap, which drowned the kernel itself (about 7 ms).
 */
function timeKernel(c: KernelCase, reps: number, warmUp: boolean, before = false): number {
  const inputs = c.inputs();
  const f = (): tf.Tensor => (before && c.runBefore !== undefined ? c.runBefore(inputs) : c.run(inputs));
  if (warmUp) tf.dispose(tf.tidy(f));
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const y = tf.tidy(f);
    const first = tf.tidy(() => y.reshape([-1]).slice(0, 1));
    first.dataSync();
    times.push(performance.now() - t0);
    tf.dispose([first, y]);
  }
  tf.dispose(inputs);
  return median(times);
}

let seed = 1;
const normal = (shape: number[]): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed++);

interface KernelCase {
  id: string;
  what: string;
  before: Setup;
  reps: { before: number; after: number };
  /** Inputs, made on the active backend before timing. */
  inputs: () => tf.Tensor[];
  run: (inputs: tf.Tensor[]) => tf.Tensor;
  /** For `before: 'composed'`: the unfused composition (run with every mmfuse kernel registered). */
  runBefore?: (inputs: tf.Tensor[]) => tf.Tensor;
}

const CONV_ATTRS = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
const attrs = (extra: Record<string, unknown>): tf.NamedAttrMap => ({ ...CONV_ATTRS, ...extra }) as unknown as tf.NamedAttrMap;

/** f(x) with the gradient of sum(f(x)²), as one tensor (both computed). */
function grad1(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  const y = f(x);
  const g = tf.grad((a: tf.Tensor) => { const z = f(a); return z.mul(z).sum(); })(x);
  return tf.concat([y.reshape([-1]), g.reshape([-1])]);
}

function grads3(f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor {
  const y = f(a, b, c);
  const gs = tf.grads((x: tf.Tensor, u: tf.Tensor, v: tf.Tensor) => { const z = f(x, u, v); return z.mul(z).sum(); })([a, b, c]);
  return tf.concat([y.reshape([-1]), ...gs.map((g) => g.reshape([-1]))]);
}

/** The reference model's variable shapes (one LSTM bias per direction). */
const ADAMW_SHAPES: number[][] = [[5000, 64], [64, 256], [64, 256], [256], [64, 256], [64, 256], [256], [3, 3, 1, 16], [16], [3, 3, 16, 32], [32],
  [512, 128], [128], [3, 3, 3, 16], [16], [3, 3, 16, 32], [32], [3, 3, 32, 64], [64], [64, 128], [128], [3, 128], [128],
  ...Array.from({ length: 2 }, () => [[128], [128], [128, 384], [384], [128, 128], [128], [128], [128], [128, 256], [256], [256, 128], [128]]).flat(),
  [128], [128], [128, 77], [77]];
let adamState: { p: tf.Variable[]; m: tf.Variable[]; v: tf.Variable[]; step: number } | undefined;

/** One AdamW update of variables of ADAMW_SHAPES (kept across calls) with gradients `gs`; returns the first weight. */
function adamwOnce(gs: tf.Tensor[], composed: boolean): tf.Tensor {
  if (adamState === undefined) {
    adamState = { p: ADAMW_SHAPES.map((sh) => tf.variable(tf.zeros(sh))), m: ADAMW_SHAPES.map((sh) => tf.variable(tf.zeros(sh))), v: ADAMW_SHAPES.map((sh) => tf.variable(tf.zeros(sh))), step: 0 };
  }
  const st = adamState;
  adamwUpdate(st.p, gs, st.m, st.v, { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: ++st.step, composed });
  return st.p[0]!.clone();
}

const kernelCases: KernelCase[] = [
  { id: 'matmul_xT_dy', what: 'BatchMatMul xᵀ·dy [3904,128]ᵀ·[3904,384] (qkv weight gradient)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([3904, 128]), normal([3904, 384])], run: ([x, dy]) => tf.matMul(x!, dy!, true, false) },
  { id: 'matmul_dy_WT', what: 'BatchMatMul dy·Wᵀ [3904,384]·[128,384]ᵀ (input gradient)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([3904, 384]), normal([128, 384])], run: ([dy, w]) => tf.matMul(dy!, w!, false, true) },
  { id: 'matmul_qkT', what: 'BatchMatMul q·kᵀ [32,4,122,32]·[32,4,122,32]ᵀ (attention scores)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([32, 4, 122, 32]), normal([32, 4, 122, 32])], run: ([q, k]) => tf.matMul(q!, k!, false, true) },
  { id: 'matmul_pv', what: 'BatchMatMul p·v [32,4,122,122]·[32,4,122,32] (attention context)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([32, 4, 122, 122]), normal([32, 4, 122, 32])], run: ([p, v]) => tf.matMul(p!, v!) },
  { id: 'transpose5d', what: 'Transpose [32,122,3,4,32] → [3,32,4,122,32] (q/k/v split)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([32, 122, 3, 4, 32])], run: ([t]) => tf.transpose(t!, [2, 0, 3, 1, 4]) },
  { id: 'conv_input_grad', what: 'Conv2DBackpropInput 3×3 same, dy [32,50,32,32] → dx [32,50,32,16]', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([32, 50, 32, 32]), normal([3, 3, 16, 32])],
    run: ([dy, filter]) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy!, filter: filter! }, attrs({ inputShape: [32, 50, 32, 16] })) as tf.Tensor },
  { id: 'conv_input_grad_strided', what: 'Conv2DBackpropInput 3×3 stride 2, dy [32,30,10,32] → dx [32,60,20,16] (the bot\'s audio/cnn block 2)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([32, 30, 10, 32]), normal([3, 3, 16, 32])],
    run: ([dy, filter]) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy!, filter: filter! }, attrs({ inputShape: [32, 60, 20, 16], strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] })) as tf.Tensor },
  { id: 'conv_filter_grad_audio2', what: 'Conv2DBackpropFilter 3×3 same, x [32,50,32,16], dy [32,50,32,32]', before: 'cpu', reps: { before: 1, after: 9 },
    inputs: () => [normal([32, 50, 32, 16]), normal([32, 50, 32, 32])],
    run: ([x, dy]) => tf.engine().runKernel('Conv2DBackpropFilter', { x: x!, dy: dy! }, attrs({ filterShape: [3, 3, 16, 32] })) as tf.Tensor },
  { id: 'conv_filter_grad_image1', what: 'Conv2DBackpropFilter 3×3 same, x [32,64,64,3], dy [32,64,64,16]', before: 'cpu', reps: { before: 1, after: 9 },
    inputs: () => [normal([32, 64, 64, 3]), normal([32, 64, 64, 16])],
    run: ([x, dy]) => tf.engine().runKernel('Conv2DBackpropFilter', { x: x!, dy: dy! }, attrs({ filterShape: [3, 3, 3, 16] })) as tf.Tensor },
  { id: 'embedding_grad', what: 'UnsortedSegmentSum [1024,64] into 5000 rows (embedding gradient)', before: 'cpu', reps: { before: 1, after: 9 },
    inputs: () => {
      const rng = createRng(5);
      return [normal([1024, 64]), tf.tensor1d(Int32Array.from({ length: 1024 }, () => rng.int(5000)), 'int32')];
    },
    run: ([g, ids]) => tf.unsortedSegmentSum(g!, ids as tf.Tensor1D, 5000) },
  { id: 'embedding_lookup', what: 'GatherV2 [20000,128] by 3584 ids (the n-gram lookup of a batch of 32 texts)', before: 'stock', reps: { before: 5, after: 9 },
    inputs: () => {
      const rng = createRng(6);
      return [normal([20000, 128]), tf.tensor1d(Int32Array.from({ length: 3584 }, () => rng.int(20000)), 'int32')];
    },
    run: ([table, ids]) => tf.gather(table!, ids as tf.Tensor1D) },
  { id: 'segment_sum_grad', what: 'gradient of UnsortedSegmentSum [11000,128] into 64 rows (n-gram pooling, backward)', before: 'stock', reps: { before: 5, after: 9 },
    inputs: () => {
      const rng = createRng(7);
      return [normal([11000, 128]), tf.tensor1d(Int32Array.from({ length: 11000 }, () => rng.int(64)), 'int32'), normal([64, 128])];
    },
    run: ([x, ids, w]) => tf.grad((a: tf.Tensor) => tf.unsortedSegmentSum(a, ids as tf.Tensor1D, 64).mul(w!).sum())(x!) },
  { id: 'maxpool_grad', what: 'MaxPoolGrad 2×2, x [32,64,64,16] (stock wasm values are wrong)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => {
      const x = normal([32, 64, 64, 16]);
      const y = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
      return [x, y, normal(y.shape)];
    },
    run: ([x, y, dy]) => tf.engine().runKernel('MaxPoolGrad', { dy: dy!, input: x!, output: y! }, { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap) as tf.Tensor },
  { id: 'split_qkv', what: 'SplitV [3904,384] into 3 (q|k|v split; the stock kernel copies the whole input per slice)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([3904, 384])], run: ([x]) => tf.concat(tf.split(x!, 3, 1).map((t) => t.slice([0, 0], [1, 1])), 0) },
  { id: 'unstack_lstm', what: 'Unpack [2,32,32,256] on axis 2 (an LSTM\'s per-step inputs)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => [normal([2, 32, 32, 256])], run: ([x]) => tf.concat(tf.unstack(x!, 2).map((t) => t.slice([0, 0, 0], [1, 1, 1])), 0) },
  { id: 'identity', what: 'Identity (clone) [3904,384] (every tensor the tape saves)', before: 'stock', reps: { before: 5, after: 9 },
    inputs: () => [normal([3904, 384])], run: ([x]) => tf.clone(x!) },
  { id: 'layer_norm', what: 'layerNorm [32,122,128], forward + gradients of x, gamma, beta', before: 'composed', reps: { before: 5, after: 9 },
    inputs: () => [normal([32, 122, 128]), normal([128]), normal([128])],
    run: ([x, g, b]) => grads3((a, c, e) => layerNorm(a, c as tf.Tensor1D, e as tf.Tensor1D), x!, g!, b!),
    runBefore: ([x, g, b]) => grads3((a, c, e) => layerNormComposed(a, c as tf.Tensor1D, e as tf.Tensor1D), x!, g!, b!) },
  { id: 'dropout', what: 'dropout 0.1 [32,122,256], forward + gradient', before: 'composed', reps: { before: 5, after: 9 },
    inputs: () => [normal([32, 122, 256])],
    run: ([x]) => grad1((a) => dropout(a, 0.1, 7), x!), runBefore: ([x]) => grad1((a) => dropoutComposed(a, 0.1, 7), x!) },
  { id: 'gelu', what: 'GELU [32,122,256], forward + gradient (fused kernels off by default: see below)', before: 'composed', reps: { before: 5, after: 9 },
    inputs: () => [normal([32, 122, 256])], run: ([x]) => grad1((a) => geluFused(a), x!), runBefore: ([x]) => grad1((a) => geluComposed(a), x!) },
  { id: 'attention', what: 'attention [32,122,3·128] 4 heads, mask, dropout 0.1, forward + gradient (fused kernel off by default: see below)', before: 'composed', reps: { before: 3, after: 5 },
    inputs: () => [normal([32, 122, 384]), tf.tensor2d(Array.from({ length: 32 * 122 }, (_, i) => (i % 122 > 20 && i % 122 < 33 ? 0 : 1)), [32, 122])],
    run: ([qkv, mask]) => grad1((x) => attentionFused({ q: x, k: x, v: x, mask: mask as tf.Tensor2D, heads: 4, dropout: { rate: 0.1, seed: 3 } }), qkv!),
    runBefore: ([qkv, mask]) => grad1((x) => attentionComposed({ q: x, k: x, v: x, mask: mask as tf.Tensor2D, heads: 4, dropout: { rate: 0.1, seed: 3 } }), qkv!) },
  { id: 'adamw', what: 'AdamW update of the reference model\'s 51 variables (764,077 values)', before: 'composed', reps: { before: 5, after: 9 },
    inputs: () => ADAMW_SHAPES.map((sh) => normal(sh)), run: (gs) => adamwOnce(gs, false), runBefore: (gs) => adamwOnce(gs, true) },
];

export interface StepResult { setup: Setup; stepMs: number; stepsMs: number[]; loss: number }

export function timeSteps(setup: Setup, warmup: number, steps: number): StepResult {
  const model = new ReferenceModel();
  const batches = makeBatches(4);
  const opt = new AdamW(model);
  let loss = 0;
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    loss = opt.step(batches[i % batches.length]!);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  opt.dispose();
  disposeBatches(batches);
  model.dispose();
  return { setup, stepMs: median(times), stepsMs: times, loss };
}

async function profileStep(): Promise<{ total: number; rows: [string, number, number][] }> {
  const model = new ReferenceModel();
  const batches = makeBatches(1);
  const opt = new AdamW(model);
  opt.step(batches[0]!);
  const info = await tf.profile(() => {
    opt.step(batches[0]!);
  });
  const agg = new Map<string, [number, number]>();
  for (const k of info.kernels) {
    const e = agg.get(k.name) ?? [0, 0];
    e[0] += Number(k.kernelTimeMs);
    e[1] += 1;
    agg.set(k.name, e);
  }
  opt.dispose();
  disposeBatches(batches);
  model.dispose();
  const rows = [...agg].map(([name, [ms, calls]]) => [name, ms, calls] as [string, number, number]).sort((a, b) => b[1] - a[1]);
  return { total: rows.reduce((s, r) => s + r[1], 0), rows };
}

function torchPeer(steps: number, threads: number): { stepMs: number; version: string } | null {
  const script = path.join(here, 'peers', 'engine_reference_torch.py');
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const res = spawnSync('/usr/bin/python3', [script, String(steps), String(threads)], { encoding: 'utf8', timeout: 600_000, env });
  if (res.status !== 0) {
    console.error(`[bench] engine: torch peer failed: ${res.stderr?.slice(-500)}`);
    return null;
  }
  const out = JSON.parse(res.stdout) as { torch: string; blas?: string; runs: { stepMs: number }[] };
  // Debian's torch takes its matrix products from whatever libblas.so.3 points at: the reference BLAS (no
  // libopenblas0 installed) makes the peer several times slower, so the BLAS is part of the peer's name.
  if (out.blas === 'reference BLAS') console.error('[bench] engine: PyTorch runs on the reference BLAS; install libopenblas0-pthread for a fair peer');
  return { stepMs: out.runs[0]!.stepMs, version: `${out.torch}, ${out.blas ?? 'BLAS unknown'}` };
}

interface ChildStep { summary: string; threads: number; step: StepResult; load: number[] }

/** The mmfuse reference step in a child process with MMFUSE_THREADS=threads (bench/engine_step_child.ts). */
function mmfuseStep(threads: number): ChildStep | null {
  const env = { ...process.env, MMFUSE_THREADS: String(threads) };
  const res = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(here, 'engine_step_child.ts')], { encoding: 'utf8', timeout: 1_800_000, env, maxBuffer: 1 << 24 });
  if (res.status !== 0) {
    console.error(`[bench] engine: ${threads}-thread step failed: ${res.stderr?.slice(-800)}`);
    return null;
  }
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as ChildStep;
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function run(): Promise<BenchSection> {
  // Kernel tables at one thread (XNNPACK's thread pool would blur single-kernel comparisons); the training step
  // runs at 1 and 2 threads below, each in its own process.
  const info = await initEngine({ engine: 'wasm', threads: 1 });
  const figures: BenchFigure[] = [];
  const lines: string[] = [];

  // 1. Kernels, before and after.
  lines.push('### Kernels', '', `Median wall time of one call (one value of the output read back, not the whole output: see bench/engine.bench.ts), \`${info.summary.split(';')[0]}\`. "Before" is the stock wasm kernel, the`,
    'cpu backend where stock wasm has no kernel at all, or, for mmfuse\'s fused ops, their unfused tf-ops composition on the same',
    'engine; "after" is mmfuse\'s kernel. In the summary table the "before" figure is listed as the peer, so the ratio is the speed-up',
    '(below 1× the fused kernel is slower).', '',
    '| kernel | before | before ms | after ms | speed-up |', '| --- | --- | --- | --- | --- |');
  for (const c of kernelCases) {
    await use(c.before);
    // The cpu backend's kernels are pure JS (no compilation to warm up) and take up to minutes: one call.
    const before = timeKernel(c, c.reps.before, c.before !== 'cpu', c.before === 'composed');
    await use('mmfuse');
    const after = timeKernel(c, c.reps.after, true);
    lines.push(`| ${c.what} | ${SETUP_LABEL[c.before]} | ${fmt(before)} | ${fmt(after)} | ${(before / after).toFixed(1)}× |`);
    figures.push({ name: `engine.kernel.${c.id}`, value: after, unit: 'ms', peer: SETUP_LABEL[c.before], peerValue: before, higherIsBetter: false,
      details: { what: c.what } });
    console.log(`[bench]   ${c.id}: ${fmt(before)} → ${fmt(after)} ms`);
  }

  // 2. The reference training step: stock wasm vs mmfuse wasm at one thread (this process), then mmfuse at 1 and
  // 2 threads (child processes) and PyTorch at 1 and 2 threads, alternating.
  // No cpu-backend step: one conv weight gradient alone takes ~90 s there (see the kernel table).
  await use('stock');
  const stock = timeSteps('stock', 1, 4);
  console.log(`[bench]   step on ${SETUP_LABEL.stock}: ${fmt(stock.stepMs)} ms (loss ${stock.loss.toFixed(3)})`);
  await use('mmfuse');
  const threadRuns: { threads: number; mmfuse: ChildStep | null; peer: { stepMs: number; version: string } | null }[] = [];
  for (const threads of [1, 2]) {
    const peer = torchPeer(10, threads);
    const mmfuse = mmfuseStep(threads);
    threadRuns.push({ threads, mmfuse, peer });
    console.log(`[bench]   ${threads} thread(s): mmfuse ${mmfuse === null ? 'failed' : `${fmt(mmfuse.step.stepMs)} ms`}, PyTorch ${peer === null ? 'failed' : `${fmt(peer.stepMs)} ms`}`);
  }
  const one = threadRuns[0]!;
  const peerName = (r: (typeof threadRuns)[number]) => `PyTorch ${r.peer?.version ?? '1.13'} (${r.threads} thread${r.threads > 1 ? 's' : ''})`;
  if (one.mmfuse !== null) {
    figures.push(
      { name: 'engine.step.mmfuse_wasm', value: one.mmfuse.step.stepMs, unit: 'ms/step', peer: peerName(one), peerValue: one.peer?.stepMs ?? null, higherIsBetter: false, details: { stepsMs: one.mmfuse.step.stepsMs } },
      { name: 'engine.step.stock_wasm', value: stock.stepMs, unit: 'ms/step', peer: SETUP_LABEL.mmfuse, peerValue: one.mmfuse.step.stepMs, higherIsBetter: false,
        details: { stepsMs: stock.stepsMs, note: 'stock wasm + the missing gradient kernels, 1 thread; ratio < 1 means mmfuse is faster' } },
    );
  }
  for (const r of threadRuns) {
    if (r.mmfuse === null) continue;
    figures.push({ name: `engine.train.samples_per_s${r.threads === 1 ? '' : ` (${r.threads} threads)`}`, value: (1000 * B) / r.mmfuse.step.stepMs, unit: 'samples/s', peer: peerName(r),
      peerValue: r.peer === null ? null : (1000 * B) / r.peer.stepMs, higherIsBetter: true, details: { threads: r.threads, engine: r.mmfuse.summary, load: r.mmfuse.load } });
  }
  lines.push('', '### Reference model training step', '',
    'BENCHMARK-SPEC.md model written with tf ops in `bench/engine_reference_model.ts` (764,077 parameters: one LSTM',
    'bias vector per direction), batch 32, AdamW; one step = forward, loss, gradients, update, loss read back.',
    'Median over 10 timed steps after 3 warm-up steps (4 after 1 for stock wasm). mmfuse at 1 and 2 threads runs in child processes',
    '(`bench/engine_step_child.ts`, `MMFUSE_THREADS`); the PyTorch reference (`bench/peers/engine_reference_torch.py`) at the same',
    'thread counts in the same run, alternating with mmfuse.', '',
    '| setup | threads | ms/step | samples/s | PyTorch ms/step (same threads) | vs PyTorch |', '| --- | --- | --- | --- | --- | --- |',
    `| ${SETUP_LABEL.stock} | 1 | ${fmt(stock.stepMs)} | ${((1000 * B) / stock.stepMs).toFixed(1)} | ${one.peer === null ? 'failed' : fmt(one.peer.stepMs)} | ${one.peer === null ? '' : `${(one.peer.stepMs / stock.stepMs).toFixed(2)}×`} |`);
  for (const r of threadRuns) {
    if (r.mmfuse === null) { lines.push(`| mmfuse wasm | ${r.threads} | failed | | | |`); continue; }
    const ms = r.mmfuse.step.stepMs;
    lines.push(`| mmfuse wasm | ${r.threads} | ${fmt(ms)} | ${((1000 * B) / ms).toFixed(1)} | ${r.peer === null ? 'failed' : fmt(r.peer.stepMs)} | ${r.peer === null ? '' : `${(r.peer.stepMs / ms).toFixed(2)}×`} |`);
  }
  const two = threadRuns[1]!;
  if (one.mmfuse !== null && two.mmfuse !== null) {
    lines.push('', `Thread scaling 1 → 2: mmfuse ${(one.mmfuse.step.stepMs / two.mmfuse.step.stepMs).toFixed(2)}×` +
      `${one.peer !== null && two.peer !== null ? `, PyTorch ${(one.peer.stepMs / two.peer.stepMs).toFixed(2)}×` : ''}. Load average at the end of the mmfuse runs (1/5/15 min): ` +
      `${one.mmfuse.load.map((x) => x.toFixed(1)).join(' / ')} (1 thread), ${two.mmfuse.load.map((x) => x.toFixed(1)).join(' / ')} (2 threads).`);
  }

  // 3. Where a step's time goes.
  for (const setup of ['mmfuse', 'stock'] as const) {
    await use(setup);
    const prof = await profileStep();
    lines.push('', `### Profile of one step: ${SETUP_LABEL[setup]}`, '',
      `Kernel time ${fmt(prof.total)} ms in total (tf.profile; wall time also includes the engine's own bookkeeping).`, '',
      '| kernel | ms | calls | share |', '| --- | --- | --- | --- |');
    for (const [name, ms, calls] of prof.rows.slice(0, 12)) {
      lines.push(`| ${name} | ${fmt(ms)} | ${calls} | ${((100 * ms) / prof.total).toFixed(0)} % |`);
    }
  }
  await use('mmfuse');
  const load = os.loadavg().map((l) => l.toFixed(1)).join(', ');
  lines.push('', `The machine is shared (${os.cpus().length} cores; load average at the end of this run ${load}), so single figures move a`,
    'lot between runs; compare rows of the same run, and re-run on a quiet machine with `npm run bench engine`. The wasm engine runs',
    'tfjs-backend-wasm\'s threaded-SIMD build through mmfuse\'s own loader (`MMFUSE_THREADS`, default every core): matrix products and',
    'convolutions use the threads; elementwise kernels and mmfuse\'s JavaScript kernels run on one.',
    '', 'Fused GELU and attention are slower than their tf-ops compositions on wasm (their elementwise passes are scalar JavaScript,',
    'tfjs\'s own elementwise kernels are SIMD C++; a plain JS multiply over 1 M floats measured ~6× slower than the stock Mul kernel),',
    'so `gelu` and `attention` run as compositions by default; the fused kernels stay available (`MMFUSE_FUSED_GELU`,',
    '`MMFUSE_FUSED_ATTENTION` tfjs flags) and tested. The ones that pay are on by default: layerNorm, dropout, the AdamW update,',
    'Slice/Unpack/SplitV/Identity and the LSTM step.');
  return { id: 'engine', title: 'wasm engine: kernels and the reference training step', markdown: lines.join('\n'), figures };
}

export const benchmark: Benchmark = { id: 'engine', title: 'wasm engine: kernels and the reference training step', run };
