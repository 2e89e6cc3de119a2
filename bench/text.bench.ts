/**
 * Banking77 intent classification, text only (issue 6): the `text/rnn` encoder trained from scratch on
 * train.csv (10,003 queries, 77 intents) and scored on test.csv (3,080), against a TF-IDF (word + character
 * n-grams) + linear SVM baseline with scikit-learn run in the same session on the same split. Also measures
 * one training step with the two embedding lookups (`gather` with mmfuse's wasm UnsortedSegmentSum kernel,
 * and `matMul(oneHot(ids), table)`).
 *
 * The data is read in place from ../shared/datasets/banking77 (CC BY 4.0; PolyAI-LDN/task-specific-datasets).
 * Run: `npm run bench text`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { createRng, getEngineInfo, initEngine } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { TextRnnEncoder, WordTokenizer } from '@mmfuse/text-rnn';
import type { TextRnnEncoderConfig } from '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig, Sample } from '@mmfuse/fusion';
import type { BenchFigure, Benchmark } from './types.js';
import { readBanking77, scores } from './text-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.resolve(here, '../../shared/datasets/banking77');
const PYTHON = '/usr/bin/python3';

/** The encoder, fusion and training settings of the run (chosen without looking at the test set). */
const ENCODER: TextRnnEncoderConfig = {
  // MMFUSE_BENCH_TEXT_ENCODER / _FUSION / _TRAINING (JSON) override keys, to try settings without editing this file.
  tokenizer: { type: 'word', lowercase: true, minFrequency: 1, maxVocabSize: 20000, maxLength: 64 },
  charNgrams: { minN: 3, maxN: 5, buckets: 10000, maxPerToken: 32 },
  embeddingDim: 128,
  hiddenSize: 96,
  cell: 'gru',
  layers: 1,
  bidirectional: true,
  dropout: 0.25,
  ...(JSON.parse(process.env.MMFUSE_BENCH_TEXT_ENCODER ?? '{}') as TextRnnEncoderConfig),
};
const EPOCHS = Number(process.env.MMFUSE_BENCH_TEXT_EPOCHS ?? 8);
const LIMIT = process.env.MMFUSE_BENCH_TEXT_LIMIT === undefined ? undefined : Number(process.env.MMFUSE_BENCH_TEXT_LIMIT);
const CONFIG: FusionModelConfig = {
  inputs: { text: { type: 'text', encoder: { kind: 'rnn', ...(ENCODER as Record<string, never>) } } },
  fusion: {
    strategy: 'late', dModel: 128, layers: 1, heads: 4, dropout: 0.1, modalityDropout: 0,
    ...(JSON.parse(process.env.MMFUSE_BENCH_TEXT_FUSION ?? '{}') as object),
  },
  output: { field: 'intent', type: 'category' },
  training: {
    epochs: EPOCHS, batchSize: 64, learningRate: 5e-3, weightDecay: 0.01, warmupRatio: 0.05, schedule: 'cosine',
    clipNorm: 5, labelSmoothing: 0.1, earlyStoppingPatience: null, validationSplit: 0, seed: 42,
    ...(JSON.parse(process.env.MMFUSE_BENCH_TEXT_TRAINING ?? '{}') as object),
  },
};

interface Row { text: string; label: string }



/**
 * Training order for `fit(..., { shuffle: false })`: batches of similar length (sorted within chunks of 50
 * batches of a seeded shuffle), the batches in shuffled order. Padding to the longest text of a random batch
 * would run the recurrence over about three times as many steps.
 */
function bucketedOrder(lengths: number[], batchSize: number, rng: Rng): number[] {
  const perm = rng.permutation(lengths.length);
  const batches: number[][] = [];
  const chunk = batchSize * 50;
  for (let s = 0; s < perm.length; s += chunk) {
    const part = perm.slice(s, s + chunk).sort((a, b) => (lengths[a] as number) - (lengths[b] as number));
    for (let k = 0; k < part.length; k += batchSize) batches.push(part.slice(k, k + batchSize));
  }
  return rng.shuffle(batches).flat();
}

interface RunResult {
  accuracy: number; macroF1: number; trainSeconds: number; trainCpuSeconds: number; predictSeconds: number;
  vocabSize: number; epochLoss: number[]; steps: number; parameters: number;
}

const samplesOf = (rows: Row[], file: string): Sample[] => rows.map((r, i) => ({ id: `${file}:${i + 2}`, fields: { text: r.text, intent: r.label } }));

async function trainAndScore(train: Row[], test: Row[]): Promise<RunResult> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  // Word counts decide the batches, exactly as the encoder's word tokenizer will split them.
  const tokenizer = new WordTokenizer({ maxLength: 64 });
  const order = bucketedOrder(train.map((r) => tokenizer.tokenize(r.text).tokens.length), CONFIG.training?.batchSize ?? 64, createRng(7));
  const model = FusionModel.create(CONFIG);
  const samples = samplesOf(train, 'train.csv');
  const history = await model.fit(order.map((i) => samples[i] as Sample), {
    shuffle: false,
    progress: 'lines',
    log: (line) => console.log(`[bench] text: ${line}`),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const tPredict = performance.now();
  const report = await model.evaluate(samplesOf(test, 'test.csv'));
  const predictSeconds = (performance.now() - tPredict) / 1000;
  const encoder = model.state.encoders[0] as TextRnnEncoder;
  const parameters = model.state.namedWeights().reduce((n, [, w]) => n + w.size, 0);
  const result: RunResult = {
    accuracy: report.accuracy, macroF1: report.macroF1, trainSeconds, trainCpuSeconds: (cpu.user + cpu.system) / 1e6, predictSeconds,
    vocabSize: encoder.fittedVocabulary?.size ?? 0, epochLoss: history.epochs.map((e) => e.trainLoss), steps: history.steps, parameters,
  };
  model.dispose();
  return result;
}

/** Median ms of one training step (batch 64 of real queries) with each embedding lookup. */
async function lookupStepMillis(train: Row[]): Promise<Record<'gather' | 'onehot', number>> {
  const out = { gather: 0, onehot: 0 };
  for (const lookup of ['gather', 'onehot'] as const) {
    const encoder = new TextRnnEncoder({ ...ENCODER, charNgrams: false, embeddingLookup: lookup });
    const prepared = await Promise.all(train.map((r, i) => encoder.prepare(r.text, { sample: i, field: 'text' })));
    encoder.fit(prepared);
    encoder.build(createRng(1));
    const rng = createRng(2);
    const batch = encoder.collate(prepared.slice(0, 64));
    const optimizer = tf.train.adam(1e-3);
    const times: number[] = [];
    for (let r = 0; r < 6; r++) {
      const t = performance.now();
      const loss = optimizer.minimize(() => encoder.encode(batch, { training: true, rng }).features.mean() as tf.Scalar, true, encoder.trainableWeights);
      loss?.dataSync();
      tf.dispose(loss ?? []);
      if (r > 0) times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out[lookup] = times[Math.floor(times.length / 2)] as number;
    tf.dispose(batch);
    optimizer.dispose();
    encoder.dispose();
  }
  return out;
}

interface PeerResult { name: string; accuracy: number; macroF1: number; trainSeconds: number; predictSeconds: number }

/** The TF-IDF + LinearSVC peer on the same rows (the script takes a job file; its SVM answer only). */
async function runPeer(train: Row[], test: Row[]): Promise<PeerResult | null> {
  const job = path.join(mkdtempSync(path.join(tmpdir(), 'mmfuse-text-peer-')), 'job.json');
  try {
    writeFileSync(job, JSON.stringify({ tasks: [{ name: 'banking77', train: train.map((r) => [r.text, r.label]), tests: { test: test.map((r) => [r.text, r.label]) } }] }));
    const { stdout } = await promisify(execFile)(PYTHON, [path.join(here, 'peers', 'text_tfidf_svm.py'), job], { maxBuffer: 1 << 24 });
    const out = JSON.parse(stdout) as { names: Record<string, string>; tasks: Record<string, Record<string, { trainSeconds: number; tests: Record<string, { accuracy: number; macroF1: number; predictSeconds: number }> }>> };
    const svm = out.tasks.banking77?.svm;
    const scored = svm?.tests.test;
    if (svm === undefined || scored === undefined) throw new Error(`the peer answered no SVM figures: ${stdout.slice(0, 200)}`);
    return { name: out.names.svm ?? 'TF-IDF + LinearSVC', accuracy: scored.accuracy, macroF1: scored.macroF1, trainSeconds: svm.trainSeconds, predictSeconds: scored.predictSeconds };
  } catch (err) {
    console.error('[bench] text: the scikit-learn peer failed:', err);
    return null;
  } finally {
    rmSync(path.dirname(job), { recursive: true, force: true });
  }
}

const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;

export const benchmark: Benchmark = {
  id: 'text',
  title: 'Text: Banking77 intent classification (text/rnn from scratch through @mmfuse/fusion vs TF-IDF + linear SVM)',
  async run() {
    if (!existsSync(path.join(DATA, 'train.csv'))) throw new Error(`Banking77 not found at ${DATA}`);
    if (getEngineInfo() === undefined) await initEngine();
    const engine = getEngineInfo();
    const allTrain = readBanking77('train', DATA);
    const allTest = readBanking77('test', DATA);
    // MMFUSE_BENCH_TEXT_LIMIT: a quick partial run (no peer; figures not comparable).
    const train = LIMIT === undefined ? allTrain : allTrain.slice(0, LIMIT);
    const test = LIMIT === undefined ? allTest : allTest.slice(0, LIMIT);
    const load0 = loadavg()[0] as number;
    const peer = LIMIT === undefined ? await runPeer(train, test) : null;
    const ours = await trainAndScore(train, test);
    const lookup = await lookupStepMillis(train);
    const load1 = loadavg()[0] as number;
    const peerName = peer?.name ?? 'TF-IDF + LinearSVC (scikit-learn)';
    const t = CONFIG.training ?? {};
    const figures: BenchFigure[] = [
      { name: 'text.banking77.accuracy', value: ours.accuracy, unit: 'accuracy', peer: peerName, peerValue: peer?.accuracy ?? null, details: { train: train.length, test: test.length } },
      { name: 'text.banking77.macroF1', value: ours.macroF1, unit: 'macro-F1', peer: peerName, peerValue: peer?.macroF1 ?? null },
      {
        name: 'text.banking77.trainSeconds', value: ours.trainSeconds, unit: 's', peer: peerName, peerValue: peer?.trainSeconds ?? null, higherIsBetter: false,
        details: { trainCpuSeconds: ours.trainCpuSeconds, steps: ours.steps, epochLoss: ours.epochLoss, parameters: ours.parameters, loadAverage: [load0, load1] },
      },
      { name: 'text.rnn.trainStepMs.gather', value: lookup.gather, unit: 'ms', peer: 'same step, embedding as matMul(oneHot(ids), table)', peerValue: lookup.onehot, higherIsBetter: false },
    ];
    const f = CONFIG.fusion ?? {};
    const fusionLabel = f.strategy === 'transformer' ? `${f.layers} Transformer block(s), d ${f.dModel}` : `${f.strategy} fusion, d ${f.dModel}`;
    const rows = [
      '| model | accuracy | macro-F1 | training time | prediction time (3,080 queries) |',
      '| --- | --- | --- | --- | --- |',
      `| mmfuse: \`text/rnn\` (bidirectional ${ENCODER.cell?.toUpperCase()} ${ENCODER.hiddenSize}, word + character 3–5-gram embeddings ${ENCODER.embeddingDim}) → \`@mmfuse/fusion\` (${fusionLabel}) | ${pct(ours.accuracy)} | ${pct(ours.macroF1)} | ${ours.trainSeconds.toFixed(0)} s (CPU ${ours.trainCpuSeconds.toFixed(0)} s) | ${ours.predictSeconds.toFixed(1)} s |`,
      peer === null ? '| peer | n/a | n/a | n/a | n/a |' : `| ${peer.name} | ${pct(peer.accuracy)} | ${pct(peer.macroF1)} | ${peer.trainSeconds.toFixed(1)} s | ${peer.predictSeconds.toFixed(2)} s |`,
    ];
    const markdown = `
Intent classification on **Banking77** (Casanueva et al., "Efficient Intent Detection with Dual Sentence Encoders",
NLP4ConvAI 2020; data from the PolyAI-LDN/task-specific-datasets repository, folder \`banking_data/\`; licence
**Creative Commons Attribution 4.0**): ${train.length.toLocaleString('en')} training and ${test.length.toLocaleString('en')} test queries over 77 intents, read in
place from \`../shared/datasets/banking77\`. Both models learn from train.csv only and are scored once on test.csv;
nothing was tuned on the test set. One command: \`npm run bench text\`.

${rows.join('\n')}

- **mmfuse**: \`FusionModel.create(config).fit(train)\` then \`evaluate(test)\`, text only, trained from scratch on the
  ${engine?.engine ?? 'unknown'} engine (one thread). Encoder \`${JSON.stringify(ENCODER)}\` (vocabulary ${ours.vocabSize} words from
  train.csv); fusion \`${JSON.stringify(CONFIG.fusion)}\`; training \`${JSON.stringify(t)}\` (AdamW, warmup then cosine decay),
  ${ours.parameters.toLocaleString('en')} weights, ${ours.steps} steps. Batches are length-bucketed: the training samples are
  given to \`fit\` in an order whose consecutive 64s have similar lengths, with \`shuffle: false\` (so the batches are the
  same every epoch, in shuffled order). Training time is wall-clock from creating the model to the end of \`fit\`
  (tokenizing, vocabulary, every epoch); CPU time of the process alongside. Training loss per epoch:
  ${ours.epochLoss.map((l) => l.toFixed(3)).join(', ')} (label smoothing 0.1 included).
- **Peer**: \`bench/peers/text_tfidf_svm.py\` — TF-IDF over word 1–2-grams and character 2–5-grams (within word
  boundaries, sublinear tf) + \`LinearSVC(C=0.5)\`, scikit-learn, one process, same CSVs, same session.
- Embedding lookup, one training step of the encoder alone (batch 64, no n-grams, median of 5): \`gather\` (with
  mmfuse's wasm UnsortedSegmentSum kernel) ${lookup.gather.toFixed(0)} ms, \`matMul(oneHot(ids), table)\`
  ${lookup.onehot.toFixed(0)} ms; \`embeddingLookup: 'auto'\` uses \`gather\` when the engine has the kernel.
- The machine is shared (2 cores; load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end), so
  wall-clock times are noisy; the accuracy is deterministic for the seed up to float summation order.
`;
    return { id: 'text', title: this.title, markdown, figures };
  },
};
