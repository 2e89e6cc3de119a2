/**
 * `npm run bench engine`: mmfuse's wasm kernels, each before/after, and one training step of the
 * BENCHMARK-SPEC.md reference model on three engine setups:
 * - "cpu": the pure-JS backend, as the "before" of kernels stock wasm lacks (too slow for a whole step);
 * - "stock wasm + gradients": tfjs-backend-wasm's own kernels plus only the gradient kernels it lacks
 *   (Conv2DBackpropFilter, UnsortedSegmentSum), i.e. the least that trains (the LSTM step as tf ops);
 * - "mmfuse wasm": everything registerWasmKernels() installs.
 * The PyTorch reference step (1 thread) is the peer. A tf.profile of one step per wasm setup lists the
 * kernels where the time goes.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createRng, initEngine } from '@mmfuse/core';
import { ADDED_KERNELS, registerWasmKernels, unregisterWasmKernels } from '../packages/core/src/internal/wasm/register.js';
import type { BenchFigure, Benchmark, BenchSection } from './types.js';
import { AdamW, B, disposeBatches, makeBatches, ReferenceModel } from './engine_reference_model.js';

const here = path.dirname(fileURLToPath(import.meta.url));

type Setup = 'cpu' | 'stock' | 'mmfuse';
const MISSING_GRADIENTS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum'];
const SETUP_LABEL: Record<Setup, string> = { cpu: 'cpu backend', stock: 'stock wasm + missing gradients', mmfuse: 'mmfuse wasm' };

/** Put the engine in one of the setups (kernel registry and active backend). */
async function use(setup: Setup): Promise<void> {
  unregisterWasmKernels();
  if (setup === 'mmfuse') {
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

/** Median wall time (ms) of `f` on inputs made beforehand, output read back, after one untimed call. */
function timeKernel(c: KernelCase, reps: number, warmUp: boolean): number {
  const inputs = c.inputs();
  const f = (): tf.Tensor => c.run(inputs);
  if (warmUp) tf.dispose(tf.tidy(f));
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const y = tf.tidy(f);
    y.dataSync();
    times.push(performance.now() - t0);
    y.dispose();
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
}

const CONV_ATTRS = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
const attrs = (extra: Record<string, unknown>): tf.NamedAttrMap => ({ ...CONV_ATTRS, ...extra }) as unknown as tf.NamedAttrMap;

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
  { id: 'maxpool_grad', what: 'MaxPoolGrad 2×2, x [32,64,64,16] (stock wasm values are wrong)', before: 'stock', reps: { before: 3, after: 9 },
    inputs: () => {
      const x = normal([32, 64, 64, 16]);
      const y = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
      return [x, y, normal(y.shape)];
    },
    run: ([x, y, dy]) => tf.engine().runKernel('MaxPoolGrad', { dy: dy!, input: x!, output: y! }, { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap) as tf.Tensor },
];

interface StepResult { setup: Setup; stepMs: number; stepsMs: number[]; loss: number }

function timeSteps(setup: Setup, warmup: number, steps: number): StepResult {
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

function torchPeer(steps: number): { stepMs: number; version: string } | null {
  const script = path.join(here, 'peers', 'engine_reference_torch.py');
  const res = spawnSync('/usr/bin/python3', [script, String(steps), '1'], { encoding: 'utf8', timeout: 300_000 });
  if (res.status !== 0) {
    console.error(`[bench] engine: torch peer failed: ${res.stderr?.slice(-500)}`);
    return null;
  }
  const out = JSON.parse(res.stdout) as { torch: string; runs: { stepMs: number }[] };
  return { stepMs: out.runs[0]!.stepMs, version: out.torch };
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function run(): Promise<BenchSection> {
  await initEngine({ engine: 'wasm' });
  const figures: BenchFigure[] = [];
  const lines: string[] = [];

  // 1. Kernels, before and after.
  lines.push('### Kernels', '', 'Median wall time of one call (output read back). "Before" is the stock wasm kernel, or the cpu',
    'backend where stock wasm has no kernel at all; "after" is mmfuse\'s wasm kernel. In the summary table the',
    '"before" figure is listed as the peer, so the ratio is the speed-up.', '',
    '| kernel | before | before ms | after ms | speed-up |', '| --- | --- | --- | --- | --- |');
  for (const c of kernelCases) {
    await use(c.before);
    // The cpu backend's kernels are pure JS (no compilation to warm up) and take up to minutes: one call.
    const before = timeKernel(c, c.reps.before, c.before !== 'cpu');
    await use('mmfuse');
    const after = timeKernel(c, c.reps.after, true);
    lines.push(`| ${c.what} | ${SETUP_LABEL[c.before]} | ${fmt(before)} | ${fmt(after)} | ${(before / after).toFixed(1)}× |`);
    figures.push({ name: `engine.kernel.${c.id}`, value: after, unit: 'ms', peer: SETUP_LABEL[c.before], peerValue: before, higherIsBetter: false,
      details: { what: c.what } });
    console.log(`[bench]   ${c.id}: ${fmt(before)} → ${fmt(after)} ms`);
  }

  // 2. The reference training step.
  // No cpu-backend step: one conv weight gradient alone takes ~90 s there (see the kernel table).
  const plan: [Setup, number, number][] = [['mmfuse', 3, 10], ['stock', 1, 4]];
  const steps: StepResult[] = [];
  for (const [setup, warmup, n] of plan) {
    await use(setup);
    const r = timeSteps(setup, warmup, n);
    steps.push(r);
    console.log(`[bench]   step on ${SETUP_LABEL[setup]}: ${fmt(r.stepMs)} ms (loss ${r.loss.toFixed(3)})`);
  }
  await use('mmfuse');
  const peer = torchPeer(10);
  const peerName = peer === null ? 'PyTorch 1.13 (1 thread)' : `PyTorch ${peer.version} (1 thread)`;
  const byId = Object.fromEntries(steps.map((s) => [s.setup, s])) as Record<'mmfuse' | 'stock', StepResult>;
  figures.push(
    { name: 'engine.step.mmfuse_wasm', value: byId.mmfuse.stepMs, unit: 'ms/step', peer: peerName, peerValue: peer?.stepMs ?? null, higherIsBetter: false,
      details: { stepsMs: byId.mmfuse.stepsMs } },
    { name: 'engine.step.stock_wasm', value: byId.stock.stepMs, unit: 'ms/step', peer: SETUP_LABEL.mmfuse, peerValue: byId.mmfuse.stepMs, higherIsBetter: false,
      details: { stepsMs: byId.stock.stepsMs, note: 'stock wasm + the missing gradient kernels; ratio < 1 means mmfuse is faster' } },
    { name: 'engine.train.samples_per_s', value: (1000 * B) / byId.mmfuse.stepMs, unit: 'samples/s', peer: peerName,
      peerValue: peer === null ? null : (1000 * B) / peer.stepMs, higherIsBetter: true },
  );
  lines.push('', '### Reference model training step', '',
    'BENCHMARK-SPEC.md model written with tf ops in `bench/engine_reference_model.ts` (764,077 parameters: one LSTM',
    'bias vector per direction), batch 32, AdamW; one step = forward, loss, gradients, update, loss read back.',
    'Median over the timed steps after warm-up; the PyTorch reference (`bench/peers/engine_reference_torch.py`,',
    '1 thread) measured in the same run.', '',
    '| setup | ms/step | samples/s | vs mmfuse wasm |', '| --- | --- | --- | --- |');
  for (const s of steps) {
    lines.push(`| ${SETUP_LABEL[s.setup]} | ${fmt(s.stepMs)} | ${((1000 * B) / s.stepMs).toFixed(1)} | ${(s.stepMs / byId.mmfuse.stepMs).toFixed(2)}× |`);
  }
  if (peer !== null) lines.push(`| ${peerName} (peer) | ${fmt(peer.stepMs)} | ${((1000 * B) / peer.stepMs).toFixed(1)} | ${(peer.stepMs / byId.mmfuse.stepMs).toFixed(2)}× |`);

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
  lines.push('', `The machine is shared (2 cores; load average at the end of this run ${load}), so single figures move a`,
    'lot between runs; compare rows of the same run. wasm runs on one thread in Node (tfjs disables its threads there).');
  return { id: 'engine', title: 'wasm engine: kernels and the reference training step', markdown: lines.join('\n'), figures };
}

export const benchmark: Benchmark = { id: 'engine', title: 'wasm engine: kernels and the reference training step', run };
