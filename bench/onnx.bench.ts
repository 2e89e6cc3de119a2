/**
 * `npm run bench onnx`: the exported ONNX graph on onnxruntime-node against PyTorch and against tfjs.
 * - Reference model (BENCHMARK-SPEC.md, built with mmfuse as in fusion.bench.ts) inference: onnxruntime
 *   (fp32 and int8) at 1 and 2 intra-op threads vs PyTorch CPU (bench/peers/onnx_reference_torch.py) at the
 *   same thread counts, in the same run, protocol of the spec (3 warm-up batches, 5 timed passes over 20
 *   batches of 32, logits read back). The graph alone (feeds built beforehand, as the peer's tensors are) and
 *   the whole `outputRows` path (collate + feeds + graph).
 * - Single-request latency through `mmfuse serve` (spawned, HTTP on 127.0.0.1, one request at a time, text +
 *   WAV clip) of a small customer-service bot: `--runtime onnx` vs the default tfjs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEngineInfo, initEngine } from '@mmfuse/core';
import '@mmfuse/audio';
import '@mmfuse/text-rnn';
import { FusionModel, OnnxFusionModel, exportOnnx, loadConfigFile } from '@mmfuse/fusion';
import type { FeedTensor, FusionModelConfig } from '@mmfuse/fusion';
import { config as referenceConfig, makeSamples } from './fusion.bench.js';
import type { BenchFigure, Benchmark, BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
// ONNX_BENCH_SMOKE=1: no peers, one pass, few requests (checks that the bench runs; its figures mean nothing).
const SMOKE = process.env.ONNX_BENCH_SMOKE === '1';
const B = 32;
const BATCHES = 20;
const PASSES = SMOKE ? 1 : 5;
const SERVE_REQUESTS = SMOKE ? 10 : 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

interface PeerResult { threads: number; torch: string; infer_samples_per_s: number[]; infer_median: number; infer_samples_per_cpu_s: number }

function runPeer(threads: number): PeerResult | { error: string } {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const r = spawnSync('/usr/bin/python3', [path.join(here, 'peers', 'onnx_reference_torch.py'), String(threads)], { encoding: 'utf8', env, timeout: 1_200_000 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').slice(-500) };
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as PeerResult;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface OrtTiming { graph: number[]; graphPerCpuS: number; full?: number[] }

/** Spec protocol on one session: 3 warm-up batches, then PASSES timed passes over the batches. */
async function timeOrt(model: OnnxFusionModel, batches: unknown[][][], full: boolean): Promise<OrtTiming> {
  const feeds: Record<string, FeedTensor>[] = batches.map((b) => model.batchFeeds(b));
  for (let i = 0; i < 3; i++) await model.runFeeds(feeds[i % feeds.length] as Record<string, FeedTensor>);
  const graph: number[] = [];
  const cpu0 = cpuSeconds();
  for (let p = 0; p < PASSES; p++) {
    const t0 = performance.now();
    for (const f of feeds) await model.runFeeds(f);
    graph.push((B * BATCHES) / ((performance.now() - t0) / 1000));
  }
  const graphPerCpuS = (B * BATCHES * PASSES) / (cpuSeconds() - cpu0);
  if (!full) return { graph, graphPerCpuS };
  const whole: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    const t0 = performance.now();
    for (const b of batches) await model.outputRows(b);
    whole.push((B * BATCHES) / ((performance.now() - t0) / 1000));
  }
  return { graph, graphPerCpuS, full: whole };
}

// ---- serve latency ---------------------------------------------------------------------------------------

const botData = path.join(root, 'examples/customer-service/data');

function botSamples(file: string): { id: string; fields: Record<string, unknown> }[] {
  return readFileSync(path.join(botData, file), 'utf8').trim().split('\n').map((line) => {
    const row = JSON.parse(line) as Record<string, unknown>;
    const fields: Record<string, unknown> = { label: row.label };
    if (typeof row.text === 'string') fields.text = row.text;
    if (typeof row.audio === 'string') fields.audio = path.join(botData, row.audio);
    return { id: String(row.id), fields };
  });
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Start `mmfuse serve` with `args`, send `n` single requests one after another; latencies in ms. */
async function serveLatency(args: string[], body: string, n: number): Promise<number[]> {
  const child = spawn(process.execPath, [path.join(root, 'packages/cli/bin/mmfuse.js'), 'serve', ...args, '--host', '127.0.0.1', '--port', '0', '--max-wait-ms', '0'], {
    env: { ...process.env, MMFUSE_FROM_SOURCE: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/[^\s]+)/.exec(err);
        if (m) resolve(m[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    for (let i = 0; i < 20; i++) await post(`${base}/v1/predict`, body);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await post(`${base}/v1/predict`, body));
    return out;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function run(): Promise<BenchSection> {
  await initEngine();
  const load0 = os.loadavg();
  const peers = SMOKE ? [{ error: 'smoke run' }, { error: 'smoke run' }] : [runPeer(1), runPeer(2)];

  // The reference model with initialized (untrained) weights: inference does the same work either way.
  const samples = await makeSamples();
  const model = FusionModel.create(referenceConfig as FusionModelConfig);
  const prepared = (await model.prepareInputs(samples.map((s) => ({ text: s.fields.text, audio: s.fields.audio, image: s.fields.image })))).map((o) => { if (!o.ok) throw o.error; return o.value.values; });
  await model.state.initialize(prepared.map((values, i) => ({ values, target: samples[i]?.fields.label as string })));
  const batches = Array.from({ length: BATCHES }, (_, i) => prepared.slice(i * B, (i + 1) * B));
  const fp32 = exportOnnx(model.state);
  const int8 = exportOnnx(model.state, { quantize: 'int8' });

  const ort: Record<string, OrtTiming> = {};
  for (const threads of [1, 2]) {
    for (const [name, bytes] of [['fp32', fp32.bytes], ['int8', int8.bytes]] as const) {
      const m = await OnnxFusionModel.load(bytes, { threads });
      ort[`${name}/${threads}`] = await timeOrt(m, batches, name === 'fp32' && threads === 1);
      m.dispose();
    }
  }
  // int8 against fp32 on the 640 samples: same top class, largest probability change.
  const a = await OnnxFusionModel.load(fp32.bytes, { threads: 2 });
  const q = await OnnxFusionModel.load(int8.bytes, { threads: 2 });
  const pa = await a.outputRows(prepared);
  const pq = await q.outputRows(prepared);
  a.dispose(); q.dispose();
  const softmax = (r: Float32Array): number[] => { const m = Math.max(...r); const e = Array.from(r, (v) => Math.exp(v - m)); const s = e.reduce((x, y) => x + y, 0); return e.map((v) => v / s); };
  const argmax = (xs: number[]): number => xs.indexOf(Math.max(...xs));
  let agree = 0; let maxProbDiff = 0;
  pa.forEach((r, i) => { const x = softmax(r); const y = softmax(pq[i] as Float32Array); if (argmax(x) === argmax(y)) agree++; x.forEach((v, j) => { maxProbDiff = Math.max(maxProbDiff, Math.abs(v - (y[j] as number))); }); });
  // tfjs, for context: one pass.
  const t0 = performance.now();
  for (const b of batches) await model.predictPrepared(b.map((values) => ({ kind: 'mmfuse-prepared-input', values })), { contributions: false });
  const tfjsInfer = (B * BATCHES) / ((performance.now() - t0) / 1000);
  model.dispose();

  // Serve latency on a small bot (text/rnn + audio/cnn as in examples/customer-service), trained one epoch.
  const work = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-onnx-bench-'));
  let serve: { tfjs: number[]; onnx: number[]; onnxInt8: number[] } | { error: string };
  try {
    const { config: botConfig } = await loadConfigFile(path.join(root, 'examples/customer-service/config.json'), { overrides: { epochs: 1 } });
    const bot = FusionModel.create(botConfig);
    await bot.fit(botSamples('train.jsonl'), { progress: 'none', log: () => undefined });
    await bot.save(path.join(work, 'bot'));
    writeFileSync(path.join(work, 'bot.onnx'), exportOnnx(bot.state).bytes);
    writeFileSync(path.join(work, 'bot-int8.onnx'), exportOnnx(bot.state, { quantize: 'int8' }).bytes);
    bot.dispose();
    const req = botSamples('test.jsonl').find((s) => s.fields.text !== undefined && s.fields.audio !== undefined) as unknown as { fields: { text: string; audio: string } };
    const body = JSON.stringify({ text: req.fields.text, audio: readFileSync(req.fields.audio).toString('base64') });
    serve = {
      tfjs: await serveLatency(['--model', path.join(work, 'bot')], body, SERVE_REQUESTS),
      onnx: await serveLatency(['--model', path.join(work, 'bot.onnx'), '--threads', '1'], body, SERVE_REQUESTS),
      onnxInt8: await serveLatency(['--model', path.join(work, 'bot-int8.onnx'), '--threads', '1'], body, SERVE_REQUESTS),
    };
  } catch (err) {
    serve = { error: (err as Error).message };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const load1 = os.loadavg();

  const ok = (p: PeerResult | { error: string }): p is PeerResult => !('error' in p);
  const [p1, p2] = peers as [PeerResult | { error: string }, PeerResult | { error: string }];
  const torch = (p: PeerResult | { error: string }, n: number): string => `PyTorch ${ok(p) ? p.torch : ''} CPU (${n} thread${n > 1 ? 's' : ''})`;
  const g = (k: string): OrtTiming => ort[k] as OrtTiming;
  const figures: BenchFigure[] = [
    { name: 'onnx.infer.samples_per_s (1 thread)', value: median(g('fp32/1').graph), unit: 'samples/s', peer: torch(p1, 1), peerValue: ok(p1) ? p1.infer_median : null, details: { onnx: g('fp32/1').graph, peer: ok(p1) ? p1.infer_samples_per_s : p1.error } },
    { name: 'onnx.infer.samples_per_s (2 threads)', value: median(g('fp32/2').graph), unit: 'samples/s', peer: torch(p2, 2), peerValue: ok(p2) ? p2.infer_median : null, details: { onnx: g('fp32/2').graph, peer: ok(p2) ? p2.infer_samples_per_s : p2.error } },
    { name: 'onnx.infer.samples_per_cpu_s (1 thread)', value: g('fp32/1').graphPerCpuS, unit: 'samples/CPU-s', peer: torch(p1, 1), peerValue: ok(p1) ? p1.infer_samples_per_cpu_s : null },
    { name: 'onnx.infer.int8_vs_fp32 (1 thread)', value: median(g('int8/1').graph), unit: 'samples/s', peer: 'onnxruntime fp32 (1 thread)', peerValue: median(g('fp32/1').graph), details: { int8: g('int8/1').graph, fp32: g('fp32/1').graph, top1Agreement: agree / prepared.length, maxProbabilityChange: maxProbDiff } },
    { name: 'onnx.infer.int8_vs_fp32 (2 threads)', value: median(g('int8/2').graph), unit: 'samples/s', peer: 'onnxruntime fp32 (2 threads)', peerValue: median(g('fp32/2').graph) },
  ];
  if (!('error' in serve)) {
    figures.push(
      { name: 'onnx.serve.p50_ms', value: median(serve.onnx), unit: 'ms', peer: 'mmfuse serve (tfjs)', peerValue: median(serve.tfjs), higherIsBetter: false },
      { name: 'onnx.serve.p99_ms', value: quantile(serve.onnx, 0.99), unit: 'ms', peer: 'mmfuse serve (tfjs)', peerValue: quantile(serve.tfjs, 0.99), higherIsBetter: false },
    );
  }
  const f1 = (v: number) => v.toFixed(1);
  const list = (xs: number[]) => xs.map(f1).join(', ');
  const row = (label: string, t: OrtTiming, p: PeerResult | { error: string }) =>
    `| ${label} | ${f1(median(t.graph))} (${list(t.graph)}) | ${ok(p) ? `${f1(p.infer_median)} (${list(p.infer_samples_per_s)})` : `failed: ${p.error}`} | ${ok(p) ? `${(median(t.graph) / p.infer_median).toFixed(2)}×` : ''} |`;
  const markdown = [
    'The exported graph of the BENCHMARK-SPEC.md reference model (built with mmfuse as in the fusion section: text/rnn BiLSTM,',
    'the spec\'s audio blocks, image/cnn, 2-layer Transformer, 77 classes) on **onnxruntime-node** against the spec\'s PyTorch model',
    `(\`bench/peers/onnx_reference_torch.py\`) in the same run. Protocol of the spec: 3 warm-up batches, ${PASSES} timed passes over ${BATCHES}`,
    `batches of ${B}, logits read back; "graph" times \`session.run\` on feeds built beforehand (as the peer's tensors are).`,
    '',
    '| inference, samples/s (median; 5 passes) | onnxruntime fp32 | PyTorch | ratio |',
    '| --- | --- | --- | --- |',
    row('1 thread', g('fp32/1'), p1),
    row('2 threads', g('fp32/2'), p2),
    '',
    `Per CPU-second (1 thread; less sensitive to other load): onnxruntime ${f1(g('fp32/1').graphPerCpuS)}, PyTorch ${ok(p1) ? f1(p1.infer_samples_per_cpu_s) : 'n/a'} samples.`,
    `The whole \`OnnxFusionModel.outputRows\` path (encoders' collate, feeds, graph) at 1 thread: ${f1(median(g('fp32/1').full ?? [0]))} samples/s (${list(g('fp32/1').full ?? [])}).`,
    `tfjs (${getEngineInfo()?.engine ?? 'engine'}) \`predictPrepared\` on the same batches, one pass: ${f1(tfjsInfer)} samples/s.`,
    '',
    '| int8 (`mmfuse export --quantize int8`) | 1 thread | 2 threads |',
    '| --- | --- | --- |',
    `| onnxruntime fp32, samples/s | ${f1(median(g('fp32/1').graph))} | ${f1(median(g('fp32/2').graph))} |`,
    `| onnxruntime int8, samples/s | ${f1(median(g('int8/1').graph))} | ${f1(median(g('int8/2').graph))} |`,
    `| int8 / fp32 | ${(median(g('int8/1').graph) / median(g('fp32/1').graph)).toFixed(2)}× | ${(median(g('int8/2').graph) / median(g('fp32/2').graph)).toFixed(2)}× |`,
    '',
    `File size: fp32 ${(fp32.bytes.length / 1024).toFixed(0)} KiB, int8 ${(int8.bytes.length / 1024).toFixed(0)} KiB (dense products and the embedding in int8; the LSTM and convolutions stay fp32).`,
    `On these 640 samples (untrained weights) int8 and fp32 agree on the top class for ${((100 * agree) / prepared.length).toFixed(1)} % and probabilities move by at most ${maxProbDiff.toFixed(4)}.`,
    '',
    '### Single-request latency through `mmfuse serve`',
    '',
    'examples/customer-service config (text/rnn BiGRU + char n-grams, audio/cnn, 1-layer Transformer) trained one epoch, saved; a spawned',
    `\`mmfuse serve\` answers ${SERVE_REQUESTS} requests (text + a WAV clip, JSON with base64, contributions included) sent one at a time after 20 warm-up`,
    'requests; latency measured by the client (HTTP round trip on 127.0.0.1, decoding and features included).',
    '',
    ...('error' in serve ? [`failed: ${serve.error}`] : [
      '| runtime | p50 ms | p99 ms |',
      '| --- | --- | --- |',
      `| tfjs (default) | ${f1(median(serve.tfjs))} | ${f1(quantile(serve.tfjs, 0.99))} |`,
      `| onnx, 1 thread | ${f1(median(serve.onnx))} | ${f1(quantile(serve.onnx, 0.99))} |`,
      `| onnx int8, 1 thread | ${f1(median(serve.onnxInt8))} | ${f1(quantile(serve.onnxInt8, 0.99))} |`,
    ]),
    '',
    `Load average (1/5/15 min) at the start: ${load0.map(f1).join(' / ')}, at the end: ${load1.map(f1).join(' / ')}, on ${os.cpus().length} cores. Other processes`,
    'were running: wall-clock figures of both sides are slowed, those with 2 threads most; compare ratios from one run only.',
  ].join('\n');
  return { id: 'onnx', title: 'ONNX export: onnxruntime vs PyTorch, int8, serve latency', markdown, figures };
}

export const benchmark: Benchmark = { id: 'onnx', title: 'ONNX export: onnxruntime vs PyTorch, int8, serve latency', run };
