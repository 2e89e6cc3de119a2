// Run in a fresh process by threads.test.ts (MMFUSE_THREADS set by the parent): start the wasm engine the way
// an application does, run every kernel mmfuse registers on the wasm engine on seeded inputs, train a small
// fused model for a few steps, print everything as one JSON line, and then simply end: the parent checks that
// the process exits by itself (no pthread worker keeps it alive).
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { getEngineInfo, initEngine } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import '@mmfuse/text-rnn';
import '@mmfuse/vision-cnn';
import { kernelCases } from './kernel-cases.js';

const info = await initEngine({ engine: 'wasm' });

const kernels: Record<string, { shape: number[]; values: number[] }[]> = {};
for (const c of kernelCases) {
  const out = tf.tidy(() => {
    const y = c.run();
    return Array.isArray(y) ? y : [y];
  });
  kernels[c.id] = out.map((t) => ({ shape: t.shape.slice(), values: Array.from(t.dataSync()) }));
  tf.dispose(out);
}

// A small fused model: BiLSTM text, a CNN over images, a 2-layer Transformer with dropout, AdamW.
let s = 12345;
const rand = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
const words = ['refund', 'card', 'lost', 'pin', 'transfer', 'balance', 'fee', 'limit', 'cash', 'atm'];
const samples: { id: string; fields: Record<string, unknown> }[] = [];
for (let i = 0; i < 48; i++) {
  const label = i % 3;
  const text = Array.from({ length: 3 + Math.floor(rand() * 9) }, (_, k) => words[(label * 3 + k + Math.floor(rand() * 3)) % words.length]).join(' ');
  const pixels = Buffer.from(Uint8Array.from({ length: 16 * 16 * 3 }, (_, k) => Math.floor(((k % 3 === label ? 200 : 40) + rand() * 50))));
  const image = await sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
  samples.push({ id: `s${i}`, fields: { text, image, label: `c${label}` } });
}
const model = FusionModel.create({
  inputs: {
    text: { type: 'text', encoder: { kind: 'rnn', tokenizer: { type: 'word', maxLength: 12 }, embeddingDim: 16, hiddenSize: 12, cell: 'lstm', layers: 1, bidirectional: true, dropout: 0.1 } },
    image: { type: 'image', encoder: { kind: 'cnn', width: 16, height: 16, channels: 3, blocks: [8, 16], kernelSize: 3, batchNorm: false, residual: false, pool: 2, output: 'regions', augment: null, dropout: 0 } },
  },
  fusion: { strategy: 'transformer', dModel: 32, layers: 2, heads: 4, ffDim: 48, dropout: 0.1, modalityDropout: 0 },
  output: { field: 'label', type: 'category' },
  training: { epochs: 3, batchSize: 16, learningRate: 3e-3, warmupSteps: 0, seed: 3, validationSplit: 0, earlyStoppingPatience: null },
});
const losses: number[] = [];
await model.fit(samples, { shuffle: false, progress: 'none', log: () => undefined, onEpoch: (m) => { losses.push(m.trainLoss); } });
const predictions = await model.predictBatch(samples.slice(0, 6).map((x) => ({ text: x.fields.text, image: x.fields.image })));
const probabilities = predictions.map((p) => {
  if (!p.ok) throw p.error;
  return p.value.probabilities as Record<string, number>;
});
model.dispose();

// tfjs's "install our node backend" banner stays off (mmfuse chose the engine), even when cpu is used later.
await tf.setBackend('cpu');
tf.tensor1d([1, 2]).dispose();
await tf.setBackend('wasm');

process.stdout.write(`${JSON.stringify({ summary: info.summary, threads: getEngineInfo()?.threads, kernels, losses, probabilities })}\n`);
