// Tiny multimodal data written by the tests: texts, 16 kHz PCM16 WAVs (a small writer, below) and PNGs
// (sharp). Two classes that every modality separates: "yes" = happy words, a 440 Hz tone, a bright red
// image; "no" = sad words, a 1500 Hz tone, a dark blue image.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

/** A mono PCM16 WAV file. */
export function wavBytes(samples: Float32Array, sampleRateHz: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, v)) * 32767), i * 2));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRateHz, 24);
  header.writeUInt32LE(sampleRateHz * 2, 28); // byte rate
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** A sine tone with a little deterministic noise. */
export function tone(frequencyHz: number, seconds: number, sampleRateHz: number, seed: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * sampleRateHz));
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = 0.5 * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRateHz) + 0.05 * (s / 2 ** 32 - 0.5);
  }
  return out;
}

/** A solid-colour PNG with a small per-sample variation. */
export async function pngBytes(rgb: [number, number, number], size: number, seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) pixels[i * 3 + c] = Math.max(0, Math.min(255, (rgb[c] as number) + ((i * 7 + seed * 13 + c * 5) % 21) - 10));
  }
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

const HAPPY = ['great', 'good', 'happy', 'love', 'nice', 'fine'];
const SAD = ['bad', 'awful', 'sad', 'hate', 'poor', 'wrong'];

export interface Sample { id: string; text: string; audio: string; image: string; label: 'yes' | 'no' }

/** Write `n` samples (alternating labels) into `dir`, returning manifest rows with relative paths. */
export async function writeSamples(dir: string, prefix: string, n: number): Promise<Sample[]> {
  mkdirSync(path.join(dir, 'clips'), { recursive: true });
  mkdirSync(path.join(dir, 'images'), { recursive: true });
  const rows: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const yes = i % 2 === 0;
    const words = yes ? HAPPY : SAD;
    const id = `${prefix}-${i}`;
    const audio = `clips/${id}.wav`;
    const image = `images/${id}.png`;
    writeFileSync(path.join(dir, audio), wavBytes(tone(yes ? 440 : 1500, 0.25, 16000, i + 1), 16000));
    writeFileSync(path.join(dir, image), await pngBytes(yes ? [220, 40, 40] : [30, 40, 120], 16, i));
    rows.push({ id, text: `${words[i % 6]} ${words[(i + 2) % 6]} day`, audio, image, label: yes ? 'yes' : 'no' });
  }
  return rows;
}

export function jsonl(rows: unknown[]): string {
  return rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}

/** The config of the tests: every input small, one fusion block of width 16. */
export function configYaml(inputs: Array<'text' | 'audio' | 'image'>): string {
  const lines = ['# written by tests/cli/fixtures.ts', 'inputs:'];
  if (inputs.includes('text')) lines.push('  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: true } }');
  if (inputs.includes('audio')) lines.push('  audio: { type: audio, preprocessing: { sampleRateHz: 16000, features: log-mel, nMels: 20 }, encoder: { kind: cnn, channels: [4, 8] } }');
  if (inputs.includes('image')) lines.push('  image: { type: image, preprocessing: { width: 16, height: 16 }, encoder: { kind: cnn, blocks: [4, 8] } }');
  lines.push(
    'fusion: { strategy: transformer, dModel: 16, layers: 1, heads: 2, modalityDropout: 0.2 }',
    'output: { field: label, type: category }',
    'data: { train: train.jsonl, validation: valid.jsonl, test: eval.jsonl }',
    'training: { epochs: 20, batchSize: 8, learningRate: 0.003, earlyStoppingPatience: null }',
  );
  return lines.join('\n') + '\n';
}

/** The modalities the end-to-end tests train on. */
export const MODALITIES: Array<'text' | 'audio' | 'image'> = ['text', 'audio', 'image'];

/** Every non-empty subset of `items`. */
export function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => (mask & (1 << i)) !== 0));
  return out;
}

/**
 * A folder with train / valid / eval manifests, their files and the config. `train.jsonl` has 16 good
 * samples and, on line 9, one whose file is corrupt; `eval.jsonl` (also the config's test set) holds the
 * validation samples after three bad lines: a missing image file, broken JSON, and an unknown label.
 */
export async function writeProject(dir: string, modalities = MODALITIES): Promise<{ train: Sample[]; valid: Sample[] }> {
  const pick = (s: Sample): Record<string, string> => {
    const row: Record<string, string> = { id: s.id, label: s.label };
    for (const m of modalities) row[m] = s[m];
    return row;
  };
  const train = await writeSamples(dir, 'tr', 16);
  const valid = await writeSamples(dir, 'va', 6);
  // One bad training line: its file exists but is not what it claims to be. Training skips it.
  const badKind = modalities.includes('audio') ? 'audio' : 'image';
  writeFileSync(path.join(dir, `bad-file.${badKind === 'audio' ? 'wav' : 'png'}`), 'this is not a media file');
  const badTrain = JSON.stringify({ ...pick(train[0] as Sample), id: 'bad-train', [badKind]: `bad-file.${badKind === 'audio' ? 'wav' : 'png'}` });
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl([...train.slice(0, 8).map(pick), badTrain, ...train.slice(8).map(pick)]));
  writeFileSync(path.join(dir, 'valid.jsonl'), jsonl(valid.map(pick)));
  const bad = [
    JSON.stringify({ ...pick(valid[0] as Sample), id: 'missing-file', [modalities.includes('image') ? 'image' : 'audio']: modalities.includes('image') ? 'images/nope.png' : 'clips/nope.wav' }),
    '{"text": "broken json',
    JSON.stringify({ ...pick(valid[1] as Sample), id: 'unknown-label', label: 'maybe' }),
  ];
  writeFileSync(path.join(dir, 'eval.jsonl'), jsonl([...bad, ...valid.map(pick)]));
  writeFileSync(path.join(dir, 'model.yaml'), configYaml(modalities));
  return { train, valid };
}
