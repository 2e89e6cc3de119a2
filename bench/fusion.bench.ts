/**
 * `npm run bench fusion`: the reference model of ../shared/BENCHMARK-SPEC.md built with mmfuse
 * (text/rnn BiLSTM from @mmfuse/text-rnn, image/cnn from @mmfuse/vision-cnn, @mmfuse/fusion's alignment,
 * Transformer, head, AdamW and training loop), against the same model in PyTorch (bench/peers/fusion_reference.py)
 * in the same run, both at 1 and at 2 threads (mmfuse in child processes, bench/fusion_child.ts, since the wasm
 * engine's thread count is fixed per process). Training and inference samples/s, parameter counts, thread
 * scaling, and a profile of one training step (time per encoder / fusion / backward, and the kernels).
 *
 * The audio branch is defined here (`audio/bench-reference`): @mmfuse/audio's audio/cnn downsamples with
 * strided convolutions and has no max-pool, so it cannot express the spec's Conv(stride 1)+ReLU+MaxPool blocks.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, createRng, getEngineInfo, initEngine, registerEncoderOnce } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxGraphBuilder, PrepareContext, Rng, TensorMap } from '@mmfuse/core';
import { AdamW, FusionModel, headLoss, toBatchInput } from '@mmfuse/fusion';
import type { PreparedInput } from '@mmfuse/fusion';
import '@mmfuse/text-rnn';
import '@mmfuse/vision-cnn';
import type { BenchFigure, Benchmark, BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// FUSION_BENCH_SMOKE=1: 2 batches, 2 epochs, no peers (checks that the bench runs; its figures mean nothing).
const SMOKE = process.env.FUSION_BENCH_SMOKE === '1';
const B = 32; const BATCHES = SMOKE ? 2 : 20; const T_TEXT = 32; const VOCAB = 5000; const CLASSES = 77;
const FRAMES = 100; const MELS = 64; const IMG = 64;

/** The spec's audio branch: two blocks of Conv2d 3x3 (stride 1, zero padding 1, bias), ReLU, MaxPool 2x2, then [B, 25, 16*32]. */
class BenchAudioEncoder implements ModalityEncoder<{ logMel: Float32Array }, Float32Array> {
  static readonly kind = 'audio/bench-reference';
  readonly kind = BenchAudioEncoder.kind;
  readonly modality = 'audio';
  readonly outputDim = 16 * 32;
  private kernels: tf.Variable[] = [];
  private biases: tf.Variable[] = [];

  async prepare(raw: { logMel: Float32Array }, ctx: PrepareContext): Promise<Float32Array> {
    if (!(raw?.logMel instanceof Float32Array) || raw.logMel.length !== FRAMES * MELS) throw new InvalidInputError(`expected { logMel: Float32Array(${FRAMES * MELS}) }`, { sample: ctx.sample, field: ctx.field });
    return raw.logMel;
  }

  build(rng: Rng): void {
    if (this.kernels.length > 0) return;
    for (const [cin, cout] of [[1, 16], [16, 32]] as const) {
      const bound = 1 / Math.sqrt(cin * 9);
      const k = Float32Array.from({ length: 9 * cin * cout }, () => rng.uniform(-bound, bound));
      this.kernels.push(tf.tidy(() => tf.variable(tf.tensor4d(k, [3, 3, cin, cout]))));
      this.biases.push(tf.tidy(() => tf.variable(tf.zeros([cout]))));
    }
  }

  collate(values: readonly Float32Array[]): TensorMap {
    const x = new Float32Array(values.length * FRAMES * MELS);
    values.forEach((v, i) => x.set(v, i * FRAMES * MELS));
    return { x: tf.tensor4d(x, [values.length, FRAMES, MELS, 1]) };
  }

  encode(batch: TensorMap, _o: EncodeOptions): EncoderOutput {
    let x = batch.x as tf.Tensor4D; // [B, 100, 64, 1]
    this.kernels.forEach((k, i) => {
      x = tf.maxPool(tf.relu(tf.conv2d(x, k as tf.Tensor4D, 1, 'same').add(this.biases[i] as tf.Variable)) as tf.Tensor4D, 2, 2, 'valid');
    }); // [B, 25, 16, 32]
    const [b, t, f, c] = x.shape;
    return { features: x.reshape([b, t, f * c]) as tf.Tensor3D, mask: tf.ones([b, t]) as tf.Tensor2D }; // [B, 25, 512]
  }

  /** The same blocks as ONNX (NCHW): Conv 3x3 pad 1 + bias, Relu, MaxPool 2, then [B, 25, 16*32] in (mel, channel) order. */
  exportOnnx(g: OnnxGraphBuilder): OnnxEncoderGraph {
    const input = g.input('x', 'float32', [g.batch, FRAMES, MELS, 1]);
    let x = g.op('Transpose', [input], { perm: [0, 3, 1, 2] }); // [B, 1, 100, 64]
    this.kernels.forEach((k, i) => {
      const w = tf.tidy(() => k.transpose([3, 2, 0, 1])); // [cout, cin, 3, 3]
      x = g.op('MaxPool', [g.op('Relu', [g.op('Conv', [x, g.constant(w), g.constant(this.biases[i] as tf.Variable)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })])], { kernel_shape: [2, 2], strides: [2, 2] });
      w.dispose();
    }); // [B, 32, 25, 16]
    const features = g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 3, 1] }), g.ints([0, 0, -1])]); // [B, 25, 512]
    const b = g.op('Gather', [g.op('Shape', [input]), g.ints([0])], { axis: 0 });
    return { features, mask: g.op('Expand', [g.floats(1, [1, 25]), g.op('Concat', [b, g.ints([25])], { axis: 0 })]), maxSteps: 25 };
  }

  get trainableWeights(): tf.Variable[] { return [...this.kernels, ...this.biases]; }
  get weights(): tf.Variable[] { return this.trainableWeights; }
  getConfig(): JsonObject { return {}; }
  getState(): JsonObject { return {}; }
  setState(): void { /* stateless */ }
  dispose(): void { tf.dispose([...this.kernels, ...this.biases]); this.kernels = []; this.biases = []; }
}
registerEncoderOnce(BenchAudioEncoder.kind, 'audio', () => new BenchAudioEncoder(), 'BENCHMARK-SPEC audio branch');

/** A token id as a letters-only word (the word tokenizer splits letters from digits). */
function word(id: number): string {
  let s = '';
  for (let n = id; n > 0; n = Math.floor(n / 26)) s = String.fromCharCode(97 + (n % 26)) + s;
  return `q${s}`;
}

/** Seeded synthetic samples as the spec describes (20 batches of 32). */
export async function makeSamples(): Promise<{ id: string; fields: Record<string, unknown> }[]> {
  const rng = createRng(2024);
  const n = B * BATCHES;
  // Every one of the 4,997 word ids occurs once (so the fitted vocabulary has exactly 5,000 ids with the 3
  // reserved ones), the rest are uniform; each batch has one full-length text so its ids are [32, 32].
  const pool = rng.permutation(VOCAB - 3).map((i) => i + 3);
  const labels = rng.permutation(n).map((i) => (i < CLASSES ? i : rng.int(CLASSES)));
  const out: { id: string; fields: Record<string, unknown> }[] = [];
  for (let i = 0; i < n; i++) {
    const len = i % B === 0 ? T_TEXT : 8 + rng.int(T_TEXT - 7);
    const ids = Array.from({ length: len }, () => pool.pop() ?? 3 + rng.int(VOCAB - 3));
    const logMel = Float32Array.from({ length: FRAMES * MELS }, () => rng.normal());
    const pixels = Buffer.from(Uint8Array.from({ length: IMG * IMG * 3 }, () => rng.int(256)));
    const png = await sharp(pixels, { raw: { width: IMG, height: IMG, channels: 3 } }).png().toBuffer();
    out.push({ id: `s${i}`, fields: { text: ids.map(word).join(' '), audio: { logMel }, image: png, label: `c${labels[i]}` } });
  }
  return out;
}

export const config = {
  inputs: {
    text: { type: 'text', encoder: { kind: 'rnn', tokenizer: { type: 'word', maxLength: T_TEXT, maxVocabSize: VOCAB, minFrequency: 1 }, embeddingDim: 64, hiddenSize: 64, cell: 'lstm', layers: 1, bidirectional: true, dropout: 0 }, project: false },
    audio: { type: 'audio', encoder: { kind: 'bench-reference' } },
    image: { type: 'image', encoder: { kind: 'cnn', width: IMG, height: IMG, channels: 3, blocks: [16, 32, 64], kernelSize: 3, batchNorm: false, residual: false, pool: 2, output: 'regions', augment: null, dropout: 0, normalization: 'none' } },
  },
  fusion: { strategy: 'transformer' as const, dModel: 128, layers: 2, heads: 4, ffDim: 256, dropout: 0.1, modalityDropout: 0 },
  output: { field: 'label', type: 'category' as const },
  training: { epochs: SMOKE ? 2 : 6, batchSize: B, learningRate: 1e-3, weightDecay: 0.01, warmupSteps: 0, schedule: 'constant' as const, clipNorm: null, labelSmoothing: 0, classWeights: null, earlyStoppingPatience: null, seed: 1, validationSplit: 0 },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface PeerResult { threads: number; torch: string; parameters: number; train_samples_per_s: number[]; train_median: number; train_samples_per_cpu_s: number; infer_samples_per_s: number[]; infer_median: number }

function runPeer(threads: number): PeerResult | { error: string } {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const r = spawnSync('/usr/bin/python3', [path.join(here, 'peers', 'fusion_reference.py'), String(threads)], { encoding: 'utf8', env, timeout: 900_000 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').slice(-500) };
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as PeerResult;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** What one mmfuse run measures (in its own process, so that its thread count is its own). */
export interface MmfuseResult {
  engine: string;
  summary: string;
  threads: number;
  train: number[];
  trainCpuSamplesPerS: number;
  infer: number[];
  parameters: number;
  parts: [string, number][];
  kernels: [string, { ms: number; calls: number }][];
  kernelTotal: number;
  load: number[];
}

/** Train (epoch 1 warm-up, epochs 2-6 timed), infer (3 warm-up batches, 5 passes) and profile one step. */
export async function measureMmfuse(): Promise<MmfuseResult> {
  const info = await initEngine();
  const samples = await makeSamples();

  const model = FusionModel.create(config);
  const epochSeconds: number[] = [];
  const cpu0 = { t: 0 };
  await model.fit(samples, {
    shuffle: false, progress: 'none', log: () => undefined,
    onEpoch: (m) => { if (m.epoch === 1) cpu0.t = cpuSeconds(); else epochSeconds.push(m.seconds); },
  });
  const trainCpu = cpuSeconds() - cpu0.t;
  const train = epochSeconds.map((s) => (B * BATCHES) / s);
  const summary = model.summary();

  // Inference: prepared once (decoding is not timed, as the peer's tensors are ready), 3 warm-up batches, 5 passes.
  const prepared: PreparedInput[] = (await model.prepareInputs(samples.map((s) => ({ text: s.fields.text, audio: s.fields.audio, image: s.fields.image })))).map((o) => { if (!o.ok) throw o.error; return o.value; });
  const batches = Array.from({ length: BATCHES }, (_, i) => prepared.slice(i * B, (i + 1) * B));
  for (let i = 0; i < 3; i++) await model.predictPrepared(batches[i % BATCHES] as PreparedInput[], { contributions: false });
  const infer: number[] = [];
  for (let p = 0; p < (SMOKE ? 1 : 5); p++) {
    const t0 = performance.now();
    for (const b of batches) await model.predictPrepared(b, { contributions: false });
    infer.push((B * BATCHES) / ((performance.now() - t0) / 1000));
  }

  // Where one training step's time goes: forward per part (training mode), the whole step, and kernels.
  const net = model.state.requireNetwork();
  const values = prepared.slice(0, B).map((p) => p.values);
  const input = toBatchInput(values, 3);
  const K = model.state.requireOutput().outDim; // 77 (fewer in a smoke run)
  const targets = { values: new Float32Array(B * K).map((_, i) => (i % K === Math.floor(i / K) % K ? 1 : 0)) };
  const timeIt = (f: () => tf.Tensor | tf.Tensor[] | void, reps = 3): number => {
    const ts: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const t0 = performance.now();
      const out = tf.tidy(() => { const y = f(); if (y !== undefined) (Array.isArray(y) ? y : [y]).forEach((t) => t.dataSync()); return y; });
      if (r > 0) ts.push(performance.now() - t0);
      if (out !== undefined) tf.dispose(out);
    }
    return median(ts);
  };
  const rng = createRng(5);
  const parts: [string, number][] = [];
  model.state.encoders.forEach((enc, m) => {
    const field = input.fields[m] as { values: unknown[] };
    parts.push([`encoder ${enc.kind} forward`, timeIt(() => { const o = enc.encode(enc.collate(field.values), { training: true, rng }); return [o.features]; })]);
  });
  const forwardMs = timeIt(() => net.forward(input, { training: true, rng }));
  parts.push(['fusion (alignment + Transformer + head) forward', forwardMs - parts.reduce((a, [, v]) => a + v, 0)]);
  parts.push(['whole forward', forwardMs]);
  const trainable = net.trainableWeights;
  const gradMs = timeIt(() => {
    const { value, grads } = tf.variableGrads(() => headLoss('category', net.forward(input, { training: true, rng }), targets, 0), trainable);
    return [value, ...Object.values(grads)];
  });
  parts.push(['backward (gradients)', gradMs - forwardMs]);
  // The optimizer update alone, on a copy of the moments so the model is not changed further.
  const adam = new AdamW(trainable, { weightDecay: 0.01 });
  const someGrads = tf.tidy(() => trainable.map((v) => tf.onesLike(v).mul(1e-3)));
  const adamMs = timeIt(() => { adam.step(someGrads, 0); trainable[0]?.dataSync(); });
  tf.dispose(someGrads); adam.dispose();
  parts.push(['AdamW update', adamMs]);
  parts.push(['sum: forward + backward + update', gradMs + adamMs]);
  parts.push(['training step during the timed epochs (median epoch / 20; the load varied)', (1000 * median(epochSeconds)) / BATCHES]);
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => headLoss('category', net.forward(input, { training: true, rng }), targets, 0), trainable);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    if (k.name.endsWith('__op')) continue; // op-level records of custom-gradient ops repeat their kernels' time
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; e.calls++;
    byKernel.set(k.name, e);
  }
  const kernelTotal = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
  const kernels = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14);
  model.dispose();
  return {
    engine: info.engine, summary: info.summary, threads: info.threads ?? 1, train, trainCpuSamplesPerS: (B * BATCHES * epochSeconds.length) / trainCpu, infer,
    parameters: summary.trainableParameters, parts, kernels, kernelTotal, load: os.loadavg(),
  };
}

/** One mmfuse run in a child process with MMFUSE_THREADS=threads (bench/fusion_child.ts). */
function runMmfuse(threads: number): MmfuseResult | { error: string } {
  const env = { ...process.env, MMFUSE_THREADS: String(threads), MMFUSE_ENGINE: process.env.MMFUSE_ENGINE ?? 'wasm' };
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(here, 'fusion_child.ts')], { encoding: 'utf8', env, timeout: 3_600_000, maxBuffer: 1 << 26 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').slice(-800) };
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as MmfuseResult;
}

async function run(): Promise<BenchSection> {
  // Each side at 1 and 2 threads, alternating, so both sample the same stretch of machine load.
  const threadCounts = [1, 2];
  const runs: { threads: number; mmfuse: MmfuseResult | { error: string }; peer: PeerResult | { error: string } }[] = [];
  for (const n of threadCounts) {
    const peer = SMOKE ? { error: 'smoke run' } : runPeer(n);
    const mmfuse = runMmfuse(n);
    runs.push({ threads: n, mmfuse, peer });
  }
  const ok = <T extends object>(p: T | { error: string }): p is T => !('error' in p);
  const first = runs.find((r) => ok(r.mmfuse))?.mmfuse as MmfuseResult | undefined;
  if (first === undefined) throw new Error(`mmfuse runs failed: ${runs.map((r) => (r.mmfuse as { error: string }).error).join(' | ')}`);
  const torchName = (p: PeerResult | { error: string }, n: number) => `PyTorch ${ok(p) ? p.torch : ''} CPU (${n} thread${n > 1 ? 's' : ''})`;
  const fmt = (v: number) => v.toFixed(1);
  const figures: BenchFigure[] = [];
  const rows: string[] = [];
  for (const r of runs) {
    const m = r.mmfuse; const p = r.peer;
    const suffix = r.threads === 1 ? '' : ` (${r.threads} threads)`;
    if (!ok(m)) { rows.push(`| ${r.threads} | mmfuse failed: ${m.error.replace(/\n/g, ' ').slice(0, 200)} | | |`); continue; }
    figures.push(
      { name: `fusion.train.samples_per_s${suffix}`, value: median(m.train), unit: 'samples/s', peer: torchName(p, r.threads), peerValue: ok(p) ? p.train_median : null, details: { mmfuse: m.train, peer: ok(p) ? p.train_samples_per_s : p.error, threads: r.threads, engine: m.summary } },
      { name: `fusion.infer.samples_per_s${suffix}`, value: median(m.infer), unit: 'samples/s', peer: torchName(p, r.threads), peerValue: ok(p) ? p.infer_median : null, details: { mmfuse: m.infer, peer: ok(p) ? p.infer_samples_per_s : p.error, threads: r.threads } },
    );
    const cell = (xs: number[]) => `${fmt(median(xs))} (${xs.map(fmt).join(', ')})`;
    const ratio = (a: number[], b: number[] | undefined) => (b === undefined ? '' : `${(median(a) / median(b)).toFixed(2)}×`);
    rows.push(`| ${r.threads} | training | ${cell(m.train)} | ${ok(p) ? cell(p.train_samples_per_s) : `failed: ${p.error.slice(0, 120)}`} | ${ratio(m.train, ok(p) ? p.train_samples_per_s : undefined)} |`);
    rows.push(`| ${r.threads} | inference | ${cell(m.infer)} | ${ok(p) ? cell(p.infer_samples_per_s) : ''} | ${ratio(m.infer, ok(p) ? p.infer_samples_per_s : undefined)} |`);
  }
  const p1 = runs[0]!.peer;
  figures.push(
    { name: 'fusion.train.samples_per_cpu_s', value: first.trainCpuSamplesPerS, unit: 'samples/CPU-s', peer: torchName(p1, 1), peerValue: ok(p1) ? p1.train_samples_per_cpu_s : null },
    { name: 'fusion.parameters', value: first.parameters, unit: 'parameters', peer: 'PyTorch reference', peerValue: ok(p1) ? p1.parameters : null, details: { spec: 764_589 } },
  );
  const okRuns = runs.filter((r): r is typeof r & { mmfuse: MmfuseResult } => ok(r.mmfuse));
  const scaling = okRuns.length === 2 ? `Thread scaling 1 → 2: mmfuse training ${(median(okRuns[1]!.mmfuse.train) / median(okRuns[0]!.mmfuse.train)).toFixed(2)}×, inference ${(median(okRuns[1]!.mmfuse.infer) / median(okRuns[0]!.mmfuse.infer)).toFixed(2)}×` +
    (ok(runs[0]!.peer) && ok(runs[1]!.peer) ? `; PyTorch training ${(runs[1]!.peer.train_median / runs[0]!.peer.train_median).toFixed(2)}×, inference ${(runs[1]!.peer.infer_median / runs[0]!.peer.infer_median).toFixed(2)}×.` : '.') : '';
  const loads = okRuns.map((r) => `${r.threads} thread${r.threads > 1 ? 's' : ''}: ${r.mmfuse.load.map((x) => x.toFixed(1)).join(' / ')}`).join('; ');
  const markdown = [
    `The BENCHMARK-SPEC.md reference model (3 inputs, 122 tokens, 2 pre-LN layers d128/4 heads/ff256, 77 classes), batch 32,`,
    `20 fixed batches per epoch, on the **${first.engine}** engine (\`${first.summary.split(';')[0]}\` in the 1-thread run).`,
    `mmfuse trains through \`FusionModel.fit\` (its own loop: AdamW lr 1e-3, wd 0.01 on every weight, constant LR, no clipping,`,
    `\`shuffle: false\`), the loss read back every step; epoch 1 is the warm-up, epochs 2-6 are timed (\`EpochMetrics.seconds\`).`,
    `Inference is \`predictPrepared\` (inputs prepared once beforehand, dropout off, outputs read back) after 3 warm-up batches, 5 passes.`,
    `PyTorch runs the spec's code (\`bench/peers/fusion_reference.py\`). Each side runs at 1 and at 2 threads, each in its own process`,
    `(mmfuse: \`MMFUSE_THREADS\`, \`bench/fusion_child.ts\`; PyTorch: \`torch.set_num_threads\` and its OpenMP/OpenBLAS pools), alternating`,
    `PyTorch 1, mmfuse 1, PyTorch 2, mmfuse 2; each ratio compares the same thread count.`,
    '',
    '| threads | figure | mmfuse samples/s (median; 5 values) | PyTorch samples/s (median; 5 values) | ratio |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    scaling,
    `Parameters: mmfuse ${first.parameters.toLocaleString('en')} trainable, PyTorch ${ok(p1) ? p1.parameters.toLocaleString('en') : 'n/a'}, spec 764,589 (both LSTMs keep PyTorch's two bias vectors per direction).`,
    `Load average at the end of each mmfuse run (1/5/15 min, ${os.cpus().length} cores): ${loads}. The machine is shared: other processes slow both sides, the 2-thread runs most`,
    `(a second thread only helps when a second core is free). Re-run on a quiet machine with \`npm run bench fusion\`.`,
    `Per process CPU-second in training (1 thread): mmfuse ${first.trainCpuSamplesPerS.toFixed(1)} samples, PyTorch ${ok(p1) ? p1.train_samples_per_cpu_s.toFixed(1) : 'n/a'}.`,
    '',
    '### Where the time goes (one training step, batch 32, 1 thread)',
    '',
    '| part | ms |',
    '| --- | --- |',
    ...first.parts.map(([k, v]) => `| ${k} | ${v.toFixed(1)} |`),
    '',
    `Kernels of one forward + backward (tf.profile; ${first.kernelTotal.toFixed(0)} ms of kernel time in total):`,
    '',
    '| kernel | ms | calls | share |',
    '| --- | --- | --- | --- |',
    ...first.kernels.map(([k, e]) => `| ${k} | ${e.ms.toFixed(1)} | ${e.calls} | ${((100 * e.ms) / Math.max(1e-9, first.kernelTotal)).toFixed(1)} % |`),
    '',
    'Built from: `text/rnn` (@mmfuse/text-rnn: embedding 5000x64 fitted on the data, BiLSTM 64, dropout 0, `project: false` as the',
    'spec has no text projection), `image/cnn` (@mmfuse/vision-cnn: blocks [16, 32, 64], no batch norm, regions output, no',
    'augmentation; images are random 64x64 PNGs decoded in `prepare`, outside the timing), and an audio branch defined in the',
    'bench file (`audio/bench-reference`: @mmfuse/audio\'s `audio/cnn` downsamples with strided convolutions and has no',
    'max-pool, so it cannot express the spec\'s Conv(stride 1)+ReLU+MaxPool blocks). Token ids: every id of 3..4999 occurs once',
    '(text/rnn reserves ids 0-2 for padding, unknown and CLS), so the fitted vocabulary has exactly 5,000 rows, and each batch holds',
    'one full-length text so its id matrix is [32, 32] as in the spec. Log-mel and image values are seeded noise, as in the spec.',
  ].join('\n');
  const section = { id: 'fusion', title: 'Fusion: reference model training and inference vs PyTorch', markdown, figures };
  // A copy outside the shared results file: concurrent bench runs rewrite bench/results.json from their own start.
  writeFileSync(path.join(os.tmpdir(), 'mmfuse-fusion-section.json'), JSON.stringify({ ...section, measuredAt: new Date().toISOString() }));
  return section;
}

export const benchmark: Benchmark = { id: 'fusion', title: 'Fusion: reference model training and inference vs PyTorch', run };
