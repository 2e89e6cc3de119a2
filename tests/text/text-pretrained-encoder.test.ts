import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, encoders } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { SubwordTokenizer, TextPretrainedEncoder, TextRnnEncoder, createTokenizer, tokenizerFromJSON } from '@mmfuse/text-rnn';
import type { PreparedText, PreparedTextEmbedding } from '@mmfuse/text-rnn';

// Made by scripts/make-tiny-text-model.py: a random 2-layer, width-32 BERT and torch's outputs for it.
const modelPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/text/tiny-bert');
interface RefCase { text: string; tokens: string[]; ids: number[]; last_hidden_state: { shape: number[]; data: number[] }; mean: number[]; cls: number[] }
const reference = JSON.parse(readFileSync(path.join(modelPath, 'reference.json'), 'utf8')) as { cases: RefCase[] };

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('SubwordTokenizer (tokenizer.json through transformers.js)', () => {
  it('produces the WordPiece tokens of an independent reference implementation', async () => {
    const tok = await SubwordTokenizer.load({ path: modelPath });
    for (const c of reference.cases) {
      expect(tok.tokenize(c.text).tokens).toEqual(c.tokens.slice(1, -1)); // no [CLS]/[SEP]: the encoder adds its own
    }
    expect(tok.tokenize('')).toEqual({ tokens: [], truncated: false });
    // Lone surrogate → U+FFFD (which BERT's clean_text then drops), control stripped, full width folded by NFKC.
    expect(tok.tokenize('b\uD800\u0000 ＣＡＲＤ')).toEqual({ tokens: ['b', 'card'], truncated: false });
    const short = await SubwordTokenizer.load({ path: path.join(modelPath, 'tokenizer.json'), maxLength: 4 });
    expect(short.tokenize('refunds declined, exchanging money')).toEqual({ tokens: ['refund', '##s', 'declined', ','], truncated: true });
  });

  it('fits a vocabulary on subwords and restores it from JSON', async () => {
    const tok = await createTokenizer({ type: 'subword', path: modelPath, minFrequency: 2 });
    tok.fit(['my card has not arrived', 'my card is lost', 'zebra']);
    expect(tok.vocabulary?.tokens).toEqual(['<pad>', '<unk>', '<cls>', 'card', 'my']);
    const restored = await tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(restored).toBeInstanceOf(SubwordTokenizer);
    expect(Array.from(restored.encode('my new card').ids as Int32Array)).toEqual([4, 1, 3]);
    await expect(SubwordTokenizer.load({ path: path.join(modelPath, 'onnx') })).rejects.toThrow(/no tokenizer\.json/);
  });

  it('drives text/rnn with a subword tokenizer', async () => {
    const enc = encoders.create('text/rnn', { tokenizer: { type: 'subword', path: modelPath }, hiddenSize: 4, embeddingDim: 3 }) as TextRnnEncoder;
    const prepared = (await Promise.all(['refunds declined', 'exchanging money'].map((t, i) => enc.prepare(t, { sample: i, field: 'text' })))) as PreparedText[];
    expect(prepared[0]?.tokens).toEqual(['refund', '##s', 'declined']);
    enc.fit(prepared);
    enc.build((await import('@mmfuse/core')).createRng(1));
    const batch = enc.collate(prepared);
    const out = tf.tidy(() => enc.encode(batch, { training: false }));
    expect(out.features.shape).toEqual([2, 9, 8]);
    tf.dispose([out, batch]);
    enc.dispose();
  });
});

describe('text/pretrained encoder', () => {
  it('matches torch token embeddings within 1e-4 (pooling none), with the reference token ids', async () => {
    const enc = encoders.create('text/pretrained', { modelPath, pooling: 'none' }) as TextPretrainedEncoder;
    expect(enc.outputDim).toBe(32);
    expect(enc.trainableWeights).toEqual([]);
    expect(enc.weights).toEqual([]);
    const prepared: PreparedTextEmbedding[] = [];
    for (const [i, c] of reference.cases.entries()) {
      const p = await enc.prepare(c.text, { sample: i, field: 'text' });
      expect(p.length).toBe(c.ids.length);
      expect(p.truncated).toBe(false);
      expect(maxDiff(p.embeddings, c.last_hidden_state.data)).toBeLessThan(1e-4);
      prepared.push(p);
    }
    // Prepared values are plain data: they survive structured cloning (the pipeline's disk cache / workers).
    expect(structuredClone(prepared[0])).toEqual(prepared[0]);
    const batch = enc.collate(prepared);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = tf.tidy(() => enc.encode(batch, { training: true }));
      const steps = Math.max(...reference.cases.map((c) => c.ids.length));
      expect(out.features.shape).toEqual([reference.cases.length, steps, 32]);
      const mask = out.mask.arraySync();
      reference.cases.forEach((c, b) => expect(mask[b]?.reduce((s, v) => s + v, 0)).toBe(c.ids.length));
      tf.dispose(out);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(batch);
    enc.dispose();
  });

  it.each(['mean', 'cls'] as const)('pooling %s gives one step equal to torch within 1e-4', async (pooling) => {
    const enc = new TextPretrainedEncoder({ modelPath, pooling });
    for (const [i, c] of reference.cases.entries()) {
      const p = await enc.prepare(c.text, { sample: i, field: 'text' });
      expect(p.length).toBe(1);
      expect(maxDiff(p.embeddings, c[pooling])).toBeLessThan(1e-4);
    }
    enc.dispose();
  });

  it('truncates long texts to maxLength (flagged), keeps empty text working, and rebuilds from getConfig()', async () => {
    const enc = encoders.create('text/pretrained', { modelPath, pooling: 'none', maxLength: 5 }) as TextPretrainedEncoder;
    const long = await enc.prepare('my card has not arrived yet', { sample: 0, field: 'text' });
    expect(long.length).toBe(5);
    expect(long.truncated).toBe(true);
    const empty = await enc.prepare('', { sample: 1, field: 'text' });
    expect(empty.length).toBe(2); // [CLS] [SEP]
    const copy = encoders.create('text/pretrained', JSON.parse(JSON.stringify(enc.getConfig())) as JsonObject);
    copy.setState(enc.getState());
    const again = (await copy.prepare('my card has not arrived yet', { sample: 0, field: 'text' })) as PreparedTextEmbedding;
    expect(Array.from(again.embeddings)).toEqual(Array.from(long.embeddings));
    const b1 = enc.collate([long, empty]);
    const b2 = copy.collate([again, empty]);
    const o1 = tf.tidy(() => enc.encode(b1, { training: false }).features.dataSync());
    const o2 = tf.tidy(() => copy.encode(b2, { training: false }).features.dataSync());
    expect(Array.from(o2)).toEqual(Array.from(o1));
    tf.dispose([b1, b2]);
    enc.dispose();
    copy.dispose();
  });

  it('refuses bad input and configuration with typed errors', async () => {
    const enc = new TextPretrainedEncoder({ modelPath });
    await expect(enc.prepare(7 as unknown as string, { sample: 'q-3', field: 'question' })).rejects.toThrow(InvalidInputError);
    await expect(enc.prepare(7 as unknown as string, { sample: 'q-3', field: 'question' })).rejects.toThrow(/sample "q-3", field "question"/);
    expect(() => enc.collate([{ embeddings: new Float32Array(3), length: 1, truncated: false }])).toThrow(InvalidInputError);
    expect(() => new TextPretrainedEncoder({ modelPath: path.join(modelPath, 'nowhere') })).toThrow(ConfigError);
    expect(() => new TextPretrainedEncoder({ modelPath, pooling: 'max' as 'mean' })).toThrow(/pooling/);
    expect(() => new TextPretrainedEncoder({ modelPath, maxLength: 65 })).toThrow(/maxLength: must be an integer in 2\.\.64/);
    enc.dispose();
  });
});
