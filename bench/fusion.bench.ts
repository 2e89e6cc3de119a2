/**
 * `npm run bench fusion`: the reference model of ../shared/BENCHMARK-SPEC.md built with mmfuse
 * (text/rnn BiLSTM from @mmfuse/text-rnn, image/cnn from @mmfuse/vision-cnn, @mmfuse/fusion's alignment,
 * Transformer, head, AdamW and training loop), against the same model in PyTorch (bench/peers/fusion_reference.py,
 * threads 1 and 2) in the same run. Training and inference samples/s, parameter counts, and a profile of
 * one training step (time per encoder / fusion / backward, and the kernels where it goes).
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

async function run(): Promise<BenchSection> {
  await initEngine();
  const engine = getEngineInfo()?.engine ?? tf.getBackend();
  const peers = SMOKE ? [{ error: 'smoke run' }, { error: 'smoke run' }] : [runPeer(1), runPeer(2)];
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
  for (let i = 0; i < 3; i++) model.predictPrepared(batches[i % BATCHES] as PreparedInput[], { contributions: false });
  const infer: number[] = [];
  for (let p = 0; p < (SMOKE ? 1 : 5); p++) {
    const t0 = performance.now();
    for (const b of batches) model.predictPrepared(b, { contributions: false });
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
  const topKernels = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
  model.dispose();

  const p1 = peers[0] as PeerResult | { error: string };
  const p2 = peers[1] as PeerResult | { error: string };
  const ok = (p: PeerResult | { error: string }): p is PeerResult => !('error' in p);
  const torchName = (p: PeerResult | { error: string }, n: number) => `PyTorch ${ok(p) ? p.torch : ''} CPU (${n} thread${n > 1 ? 's' : ''})`;
  const figures: BenchFigure[] = [
    { name: 'fusion.train.samples_per_s', value: median(train), unit: 'samples/s', peer: torchName(p1, 1), peerValue: ok(p1) ? p1.train_median : null, details: { mmfuse: train, peer: ok(p1) ? p1.train_samples_per_s : p1.error } },
    { name: 'fusion.train.samples_per_s (peer 2 threads)', value: median(train), unit: 'samples/s', peer: torchName(p2, 2), peerValue: ok(p2) ? p2.train_median : null, details: { peer: ok(p2) ? p2.train_samples_per_s : p2.error } },
    { name: 'fusion.train.samples_per_cpu_s', value: (B * BATCHES * epochSeconds.length) / trainCpu, unit: 'samples/CPU-s', peer: torchName(p1, 1), peerValue: ok(p1) ? p1.train_samples_per_cpu_s : null },
    { name: 'fusion.infer.samples_per_s', value: median(infer), unit: 'samples/s', peer: torchName(p1, 1), peerValue: ok(p1) ? p1.infer_median : null, details: { mmfuse: infer, peer: ok(p1) ? p1.infer_samples_per_s : p1.error } },
    { name: 'fusion.infer.samples_per_s (peer 2 threads)', value: median(infer), unit: 'samples/s', peer: torchName(p2, 2), peerValue: ok(p2) ? p2.infer_median : null, details: { peer: ok(p2) ? p2.infer_samples_per_s : p2.error } },
    { name: 'fusion.parameters', value: summary.trainableParameters, unit: 'parameters', peer: 'PyTorch reference', peerValue: ok(p1) ? p1.parameters : null, details: { spec: 764_589 } },
  ];
  const fmt = (v: number) => v.toFixed(1);
  const row = (label: string, m: number[], p: PeerResult | { error: string }, key: 'train_samples_per_s' | 'infer_samples_per_s') =>
    `| ${label} | ${fmt(median(m))} (${m.map(fmt).join(', ')}) | ${ok(p) ? `${fmt(median(p[key]))} (${p[key].map(fmt).join(', ')})` : `failed: ${p.error}`} | ${ok(p) ? `${(median(m) / median(p[key])).toFixed(2)}×` : ''} |`;
  const markdown = [
    `The BENCHMARK-SPEC.md reference model (3 inputs, 122 tokens, 2 pre-LN layers d128/4 heads/ff256, 77 classes), batch 32,`,
    `20 fixed batches per epoch, on the **${engine}** engine (one thread: tfjs-backend-wasm runs single-threaded in Node).`,
    `mmfuse trains through \`FusionModel.fit\` (its own loop: AdamW lr 1e-3, wd 0.01 on every weight, constant LR, no clipping,`,
    `\`shuffle: false\`), the loss read back every step; epoch 1 is the warm-up, epochs 2-6 are timed (\`EpochMetrics.seconds\`).`,
    `Inference is \`predictPrepared\` (inputs prepared once beforehand, dropout off, outputs read back) after 3 warm-up batches, 5 passes.`,
    `PyTorch runs the spec's code (\`bench/peers/fusion_reference.py\`) in the same run, once with 1 thread and once with 2.`,
    '',
    '| figure | mmfuse (median; 5 values) | PyTorch (median; 5 values) | ratio |',
    '| --- | --- | --- | --- |',
    row('training samples/s vs PyTorch 1 thread', train, p1, 'train_samples_per_s'),
    row('training samples/s vs PyTorch 2 threads', train, p2, 'train_samples_per_s'),
    row('inference samples/s vs PyTorch 1 thread', infer, p1, 'infer_samples_per_s'),
    row('inference samples/s vs PyTorch 2 threads', infer, p2, 'infer_samples_per_s'),
    '',
    `Parameters: mmfuse ${summary.trainableParameters.toLocaleString('en')} trainable, PyTorch ${ok(p1) ? p1.parameters.toLocaleString('en') : 'n/a'}, spec 764,589 (both LSTMs keep PyTorch's two bias vectors per direction).`,
    `Load average while measuring: ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min) on ${os.cpus().length} cores: other processes were running, which slows both sides, PyTorch with 2 threads most.`,
    `Per process CPU-second in training: mmfuse ${((B * BATCHES * epochSeconds.length) / trainCpu).toFixed(1)} samples, PyTorch (1 thread) ${ok(p1) ? p1.train_samples_per_cpu_s.toFixed(1) : 'n/a'}.`,
    '',
    '### Where the time goes (one training step, batch 32)',
    '',
    '| part | ms |',
    '| --- | --- |',
    ...parts.map(([k, v]) => `| ${k} | ${v.toFixed(1)} |`),
    '',
    `Kernels of one forward + backward (tf.profile; ${kernelTotal.toFixed(0)} ms of kernel time in total):`,
    '',
    '| kernel | ms | calls | share |',
    '| --- | --- | --- | --- |',
    ...topKernels.map(([k, e]) => `| ${k} | ${e.ms.toFixed(1)} | ${e.calls} | ${((100 * e.ms) / Math.max(1e-9, kernelTotal)).toFixed(1)} % |`),
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
