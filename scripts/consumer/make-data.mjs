// Writes the consumer test's tiny dataset into the current folder: 16 samples of text + a voice clip (two
// classes, a low and a high tone, 16-bit PCM WAV), a config for the library and the CLI, and manifests.
import { mkdirSync, writeFileSync } from 'node:fs';

function wav(frequencyHz, seconds, seed) {
  const rate = 16000;
  const n = Math.round(rate * seconds);
  const data = Buffer.alloc(44 + 2 * n);
  data.write('RIFF', 0); data.writeUInt32LE(36 + 2 * n, 4); data.write('WAVE', 8);
  data.write('fmt ', 12); data.writeUInt32LE(16, 16); data.writeUInt16LE(1, 20); data.writeUInt16LE(1, 22);
  data.writeUInt32LE(rate, 24); data.writeUInt32LE(2 * rate, 28); data.writeUInt16LE(2, 32); data.writeUInt16LE(16, 34);
  data.write('data', 36); data.writeUInt32LE(2 * n, 40);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const noise = ((s & 0xffff) / 65536 - 0.5) * 0.05;
    const v = 0.5 * Math.sin((2 * Math.PI * frequencyHz * i) / rate) + noise;
    data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, v)) * 32767), 44 + 2 * i);
  }
  return data;
}

mkdirSync('data/clips', { recursive: true });
const words = { low: ['low', 'deep', 'bass', 'down'], high: ['high', 'sharp', 'treble', 'up'] };
const lines = [];
let i = 0;
for (const label of ['low', 'high']) {
  for (let k = 0; k < 8; k++, i++) {
    const clip = `clips/${label}-${k}.wav`;
    writeFileSync(`data/${clip}`, wav(label === 'low' ? 220 : 1760, 0.4 + 0.05 * (k % 3), i + 1));
    lines.push({ id: `${label}-${k}`, text: `a ${words[label][k % 4]} tone please`, audio: clip, label });
  }
}
writeFileSync('data/train.jsonl', lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
writeFileSync('data/test.jsonl', lines.filter((_, j) => j % 4 === 0).map((l) => JSON.stringify(l)).join('\n') + '\n');
const config = {
  inputs: {
    text: { type: 'text', encoder: { kind: 'rnn', embeddingDim: 8, hiddenSize: 8 } },
    audio: { type: 'audio', encoder: { kind: 'cnn', nMels: 16, channels: [4, 4] } },
  },
  fusion: { dModel: 16, layers: 1, heads: 2 },
  output: { field: 'label' },
  training: { epochs: 3, batchSize: 8, validationSplit: 0, seed: 7 },
  data: { train: 'data/train.jsonl', test: 'data/test.jsonl' },
};
writeFileSync('config.json', JSON.stringify(config, null, 2) + '\n');
console.log(`wrote ${lines.length} samples (text + voice) and config.json`);
