// Data and models of the compression tests: a four-intent "bot" with typed text (words per intent) and
// voice (a tone per intent, 8 kHz WAV), each sample text only, voice only or both; real text/rnn and
// audio/cnn encoders (imported here so they register).
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { FusionModel, outputRows } from '@mmfuse/fusion';
import type { FusionModelConfig, FusionState, Sample } from '@mmfuse/fusion';
import { tone, wavBytes } from '../cli/fixtures.js';

export const INTENTS = {
  card: { words: ['card', 'lost', 'stolen', 'blocked', 'pin'], hz: 300 },
  refund: { words: ['refund', 'money', 'back', 'return', 'paid'], hz: 700 },
  hello: { words: ['hello', 'hi', 'morning', 'hey', 'there'], hz: 1300 },
  bye: { words: ['bye', 'thanks', 'later', 'goodbye', 'done'], hz: 2500 },
} as const;
export type Intent = keyof typeof INTENTS;
const NAMES = Object.keys(INTENTS) as Intent[];
const FILLER = ['please', 'my', 'the', 'now', 'can', 'you', 'i', 'want'];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/**
 * `n` samples written into `dir` (WAVs under `clips/`), with absolute audio paths; `kinds` cycles through
 * text only, voice only and both. Labels cycle through the four intents.
 */
export function writeBotData(dir: string, prefix: string, n: number, seed: number, kinds: readonly ('text' | 'voice' | 'both')[] = ['both', 'text', 'voice']): Sample[] {
  mkdirSync(path.join(dir, 'clips'), { recursive: true });
  const rand = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const label = NAMES[i % NAMES.length] as Intent;
    const kind = kinds[Math.floor(i / NAMES.length) % kinds.length] as 'text' | 'voice' | 'both';
    const fields: Record<string, unknown> = { label };
    if (kind !== 'voice') fields.text = [pick(FILLER), pick(INTENTS[label].words), pick(FILLER), pick(INTENTS[label].words)].join(' ');
    if (kind !== 'text') {
      const file = path.join(dir, 'clips', `${prefix}-${i}.wav`);
      writeFileSync(file, wavBytes(tone(INTENTS[label].hz * (0.9 + 0.2 * rand()), 0.3 + 0.2 * rand(), 8000, seed * 1000 + i), 8000));
      fields.audio = file;
    }
    return { id: `${prefix}-${i}`, fields };
  });
}

/** A text + voice config: bidirectional recurrent text encoder with n-grams, two conv blocks, `strategy` fusion. */
export function botConfig(options: { strategy?: 'transformer' | 'late' | 'cross-attention'; cell?: 'gru' | 'lstm'; textLayers?: number; epochs?: number; inputs?: ('text' | 'audio')[]; dModel?: number; ngramBuckets?: number } = {}): FusionModelConfig {
  const inputs = options.inputs ?? ['text', 'audio'];
  const all: FusionModelConfig['inputs'] = {
    text: {
      type: 'text',
      encoder: { kind: 'rnn', cell: options.cell ?? 'gru', embeddingDim: 48, hiddenSize: 24, layers: options.textLayers ?? 1, bidirectional: true, charNgrams: { buckets: options.ngramBuckets ?? 500 } },
      preprocessing: { tokenizer: { type: 'word', maxLength: 12 } },
    },
    audio: {
      type: 'audio',
      encoder: { kind: 'cnn', channels: [6, 8], dropout: 0 },
      preprocessing: { sampleRateHz: 8000, nMels: 16, nFft: 200, hopLength: 80, normalization: 'global' },
      maxTokens: 8,
    },
  };
  return {
    inputs: Object.fromEntries(inputs.map((k) => [k, all[k]])) as FusionModelConfig['inputs'],
    fusion: { strategy: options.strategy ?? 'transformer', dModel: options.dModel ?? 32, layers: 2, heads: 4, ffDim: 48, dropout: 0, modalityDropout: 0.2 },
    output: { field: 'label', type: 'category' },
    training: { epochs: options.epochs ?? 6, batchSize: 16, learningRate: 0.01, warmupSteps: 2, seed: 5, validationSplit: 0, earlyStoppingPatience: null },
  };
}

/** A trained model. */
export async function trainBot(config: FusionModelConfig, data: Sample[]): Promise<FusionModel> {
  const model = FusionModel.create(config);
  await model.fit(data, { progress: 'none', log: () => {} });
  return model;
}

/** Head outputs of prepared samples, flattened. */
export async function logitsOf(state: FusionState, values: unknown[][]): Promise<number[]> {
  return (await outputRows(state, values)).flatMap((r) => Array.from(r));
}

/** Bytes of every file of a folder. */
export function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((a, f) => a + statSync(path.join(dir, f)).size, 0);
}

export function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  let m = 0;
  a.forEach((v, i) => { m = Math.max(m, Math.abs(v - (b[i] as number))); });
  return m;
}
