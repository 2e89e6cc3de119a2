import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, ModelFormatError, StateError, createRng, encoders, hashString } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { TextNgramEncoder, charNgramIds } from '@mmfuse/text-rnn';
import type { PreparedText, TextNgramEncoderConfig } from '@mmfuse/text-rnn';
import { collateNgrams } from '@mmfuse/text-rnn/tokenizers';
import type { Vocabulary } from '@mmfuse/text-rnn/tokenizers';

const TRAIN = [
  'My card has not arrived yet',
  'Where is my new card?',
  'How do I top up with Apple Pay',
  '我的信用卡 card 还没到',
  'my card still has not arrived after 2 weeks',
  '',
];

async function prepareAll(enc: TextNgramEncoder, texts: readonly string[]): Promise<PreparedText[]> {
  return Promise.all(texts.map((t, i) => enc.prepare(t, { sample: i, field: 'text' })));
}

async function fitted(config: TextNgramEncoderConfig, seed = 1): Promise<{ enc: TextNgramEncoder; prepared: PreparedText[] }> {
  const enc = encoders.create('text/ngram', config as JsonObject) as TextNgramEncoder;
  const prepared = await prepareAll(enc, TRAIN);
  enc.fit(prepared);
  enc.build(createRng(seed));
  return { enc, prepared };
}

const read = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const SMALL = { dim: 6, buckets: 257 };

describe('text/ngram encoder', () => {
  it('describes its weights for int8: one scale per table row; learned feature weights stay float32', async () => {
    const plain = (await fitted(SMALL)).enc;
    const weighted = (await fitted({ ...SMALL, featureWeights: true })).enc;
    try {
      expect(plain.describeWeights()).toEqual([{ name: 'table', outputAxis: 0 }]);
      expect(weighted.describeWeights()).toEqual([{ name: 'table', outputAxis: 0 }, { name: 'featureWeights', outputAxis: null }]);
      expect(weighted.describeWeights().length).toBe(weighted.weights.length);
    } finally {
      plain.dispose();
      weighted.dispose();
    }
  });

  it('is registered and documents its defaults in getConfig()', () => {
    const enc = encoders.create('text/ngram');
    expect(enc).toBeInstanceOf(TextNgramEncoder);
    expect(enc.modality).toBe('text');
    expect(enc.input).toEqual({ kind: 'text', maxBytes: 1048576 });
    expect(enc.outputDim).toBe(128);
    expect(enc.getConfig()).toEqual({
      tokenizer: { type: 'cjk', lowercase: true, minFrequency: 1, maxVocabSize: 50000, maxLength: 64 },
      dim: 128, wordNgrams: 2, charNgrams: { minN: 2, maxN: 5, maxPerToken: 32 }, buckets: 20000, output: 'pooled',
      featureDropout: 0.2, featureWeights: false, dropout: 0, maxBytes: 1048576,
    });
  });

  it('collates the feature rows of each token: known word, word n-grams, character n-grams (CJK as characters)', async () => {
    const { enc, prepared } = await fitted({ ...SMALL, output: 'tokens', wordNgrams: 3, charNgrams: { minN: 3, maxN: 3 } });
    expect(prepared[3]?.tokens).toEqual(['我', '的', '信', '用', '卡', 'card', '还', '没', '到']);
    const vocab = enc.fittedVocabulary!;
    const base = vocab.size - 1;
    const batch = enc.collate([prepared[1] as PreparedText]); // where is my new card ?
    const rows = read(batch.rows as tf.Tensor);
    const slots = read(batch.slots as tf.Tensor);
    const of = (slot: number) => rows.filter((_, i) => slots[i] === slot);
    const tokens = prepared[1]!.tokens;
    expect(tokens).toHaveLength(6);
    const hashed = (s: string) => base + 1 + (hashString(s, 0x5bd1e995) % 257);
    const chars = (w: string) => charNgramIds(w, { minN: 3, maxN: 3, buckets: 257, maxPerToken: 32 }).map((h) => base + h);
    expect(of(0)).toEqual([vocab.idOf('where'), hashed('where is'), hashed('where is my'), ...chars('where')]);
    // The last token has no word n-gram after it; "?" is a known word with one character 3-gram "<?>".
    expect(tokens[5]).toBe('?');
    expect(of(5)).toEqual([vocab.idOf('?'), ...chars('?')]);
    expect(read(batch.featureMask as tf.Tensor).every((v) => v === 1)).toBe(true);
    expect(read(batch.lengths as tf.Tensor)).toEqual([6]);
    // An unknown word has no word row, only its hashed pieces.
    const unseen = await enc.prepare('refnd', { sample: 0, field: 'text' });
    const u = enc.collate([unseen]);
    expect(read(u.rows as tf.Tensor).every((v) => v > base)).toBe(true);
    // Pooled output puts every feature of text b in slot b; an empty batch gets one zeroed placeholder.
    const { enc: pooled } = await fitted({ ...SMALL, output: 'pooled' });
    const pb = pooled.collate([prepared[5] as PreparedText, prepared[1] as PreparedText, prepared[5] as PreparedText]);
    expect(new Set(read(pb.slots as tf.Tensor))).toEqual(new Set([1]));
    const none = pooled.collate([prepared[5] as PreparedText]);
    expect(read(none.featureMask as tf.Tensor)).toEqual([0]);
    tf.dispose([pb, none]);
    pooled.dispose();
    tf.dispose([batch, u]);
    enc.dispose();
  });

  it.each(['pooled', 'tokens'] as const)('%s: shapes, masks, empty text, padding never leaks, no tensor leak', async (output) => {
    const { enc, prepared } = await fitted({ ...SMALL, output });
    const batch = enc.collate(prepared);
    const t = output === 'pooled' ? 1 : 9;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = tf.tidy(() => enc.encode(batch, { training: false }));
      expect(out.features.shape).toEqual([6, t, 6]);
      const mask = out.mask.arraySync();
      if (output === 'pooled') expect(mask).toEqual([[1], [1], [1], [1], [1], [0]]);
      else {
        expect(mask[0]).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0]);
        const f = out.features.arraySync();
        expect(f[0]?.[7]?.every((v) => v === 0)).toBe(true); // a padded step is exactly zero
        expect(f[0]?.[2]?.some((v) => v !== 0)).toBe(true);
      }
      expect(out.features.arraySync()[5]?.flat().every((v) => v === 0)).toBe(true); // the empty text
      tf.dispose(out);
    }
    expect(tf.memory().numTensors).toBe(before);
    // Batch invariance: a text gives the same output alone as padded in a batch.
    const all = tf.tidy(() => enc.encode(batch, { training: false }).features.arraySync());
    for (const [b, p] of prepared.entries()) {
      const one = enc.collate([p]);
      const alone = tf.tidy(() => enc.encode(one, { training: false }).features.arraySync())[0] as number[][];
      alone.forEach((row, s) => row.forEach((v, d) => expect(Math.abs(v - (all[b]?.[s]?.[d] as number))).toBeLessThan(1e-6)));
      tf.dispose(one);
    }
    // A batch of only empty texts still collates and encodes (one masked step).
    const empty = enc.collate([prepared[5] as PreparedText]);
    const out = tf.tidy(() => enc.encode(empty, { training: true, rng: createRng(3) }));
    expect(out.features.shape).toEqual([1, 1, 6]);
    expect(read(out.mask)).toEqual([0]);
    tf.dispose([out, empty, batch]);
    enc.dispose();
  });

  it('the pooled vector is the mean of every feature row; a token vector the mean of its own', async () => {
    const p = await fitted({ ...SMALL, output: 'pooled' }, 4);
    const k = await fitted({ ...SMALL, output: 'tokens' }, 4);
    const table = p.enc.weights[0]!.arraySync() as number[][];
    const text = p.prepared[0] as PreparedText;
    const pb = p.enc.collate([text]);
    const rows = read(pb.rows as tf.Tensor);
    const mean = [0, 1, 2, 3, 4, 5].map((d) => rows.reduce((s, r) => s + (table[r]?.[d] as number), 0) / rows.length);
    const got = tf.tidy(() => read(p.enc.encode(pb, { training: false }).features));
    got.forEach((v, d) => expect(v).toBeCloseTo(mean[d] as number, 5));
    const kb = k.enc.collate([text]);
    const kSlots = read(kb.slots as tf.Tensor);
    const first = read(kb.rows as tf.Tensor).filter((_, i) => kSlots[i] === 0);
    const tokenMean = [0, 1, 2, 3, 4, 5].map((d) => first.reduce((s, r) => s + (table[r]?.[d] as number), 0) / first.length);
    const tok = tf.tidy(() => (k.enc.encode(kb, { training: false }).features.arraySync() as number[][][])[0]?.[0] ?? []);
    tok.forEach((v, d) => expect(v).toBeCloseTo(tokenMean[d] as number, 5));
    tf.dispose([pb, kb]);
    p.enc.dispose();
    k.enc.dispose();
  });

  it.each(['pooled', 'tokens'] as const)('%s trains: the table gets a non-zero gradient, one Adam step changes it, dropout is seeded', async (output) => {
    const { enc, prepared } = await fitted({ ...SMALL, output, featureDropout: 0.3, dropout: 0.1 });
    const batch = enc.collate(prepared);
    expect(enc.trainableWeights).toHaveLength(1);
    expect(enc.weights).toEqual(enc.trainableWeights);
    const target = tf.randomNormal(output === 'pooled' ? [6, 1, 6] : [6, 9, 6], 0, 1, 'float32', 5);
    const loss = (): tf.Scalar => {
      const out = enc.encode(batch, { training: true, rng: createRng(9) });
      return out.features.sub(target).square().mul(out.mask.expandDims(2)).mean() as tf.Scalar;
    };
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(loss, enc.trainableWeights);
      for (const w of enc.trainableWeights) expect(tf.tidy(() => (grads[w.name] as tf.Tensor).abs().sum().dataSync()[0])).toBeGreaterThan(0);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const w0 = read(enc.weights[0] as tf.Variable);
    const opt = tf.train.adam(0.01);
    tf.dispose(opt.minimize(loss) ?? []);
    expect(read(enc.weights[0] as tf.Variable)).not.toEqual(w0);
    const a = tf.tidy(() => read(enc.encode(batch, { training: true, rng: createRng(4) }).features));
    const b = tf.tidy(() => read(enc.encode(batch, { training: true, rng: createRng(4) }).features));
    const c = tf.tidy(() => read(enc.encode(batch, { training: false }).features));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(() => tf.tidy(() => enc.encode(batch, { training: true }))).toThrow(StateError);
    opt.dispose();
    tf.dispose([batch, target]);
    enc.dispose();
  });

  it('featureWeights: the pooled vector is the mean weighted by exp(s) per feature row; s starts at 0 and trains', async () => {
    const plain = await fitted({ ...SMALL }, 4);
    const { enc, prepared } = await fitted({ ...SMALL, featureWeights: true }, 4);
    expect(enc.weights).toHaveLength(2);
    const table = enc.weights[0]!.arraySync() as number[][];
    expect(table).toEqual(plain.enc.weights[0]!.arraySync());
    expect(enc.weights[1]!.shape).toEqual([table.length, 1]);
    const batch = enc.collate([prepared[0] as PreparedText]);
    const plainBatch = plain.enc.collate([plain.prepared[0] as PreparedText]);
    // s = 0: the plain mean.
    expect(tf.tidy(() => read(enc.encode(batch, { training: false }).features))).toEqual(tf.tidy(() => read(plain.enc.encode(plainBatch, { training: false }).features)));
    const s = Array.from({ length: table.length }, (_, i) => Math.sin(i) * 2);
    enc.weights[1]!.assign(tf.tensor2d(s, [table.length, 1]));
    const rows = read(batch.rows as tf.Tensor);
    const total = rows.reduce((a, r) => a + Math.exp(s[r] as number), 0);
    const expected = [0, 1, 2, 3, 4, 5].map((d) => rows.reduce((a, r) => a + Math.exp(s[r] as number) * (table[r]?.[d] as number), 0) / total);
    const got = tf.tidy(() => read(enc.encode(batch, { training: false }).features));
    got.forEach((v, d) => expect(v).toBeCloseTo(expected[d] as number, 5));
    const target = tf.randomNormal([1, 1, 6], 0, 1, 'float32', 5);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => enc.encode(batch, { training: false }).features.sub(target).square().mean() as tf.Scalar, enc.trainableWeights);
    for (const w of enc.trainableWeights) expect(tf.tidy(() => (grads[w.name] as tf.Tensor).abs().sum().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([batch, plainBatch, target]);
    enc.dispose();
    plain.enc.dispose();
  });

  it('rebuilds from getConfig() + getState() + weights with identical outputs, through JSON (Intl.Segmenter words)', async () => {
    const { enc, prepared } = await fitted({ ...SMALL, tokenizer: { type: 'cjk', cjkSplit: 'word', locale: 'zh' }, output: 'tokens', charNgrams: { minN: 1, maxN: 3, maxPerToken: 8 } });
    const config = JSON.parse(JSON.stringify(enc.getConfig())) as JsonObject;
    const state = JSON.parse(JSON.stringify(enc.getState())) as JsonObject;
    const copy = encoders.create('text/ngram', config) as TextNgramEncoder;
    copy.setState(state);
    copy.build(createRng(999));
    copy.weights.forEach((w, i) => w.assign(enc.weights[i] as tf.Variable));
    const again = await prepareAll(copy, TRAIN);
    expect(again).toEqual(prepared);
    const b1 = enc.collate(prepared);
    const b2 = copy.collate(again);
    const o1 = tf.tidy(() => read(enc.encode(b1, { training: false }).features));
    const o2 = tf.tidy(() => read(copy.encode(b2, { training: false }).features));
    expect(o2).toEqual(o1);
    tf.dispose([b1, b2]);
    enc.dispose();
    copy.dispose();
  });

  it('refuses bad input, bad state and bad configuration with typed errors', async () => {
    const enc = encoders.create('text/ngram') as TextNgramEncoder;
    await expect(enc.prepare(42 as unknown as string, { sample: 'row-7', field: 'message' })).rejects.toThrow(InvalidInputError);
    await expect(enc.prepare(null as unknown as string, { sample: 'row-7', field: 'message' })).rejects.toThrow(/sample "row-7", field "message": expected text \(a string\), got null/);
    expect(() => enc.build(createRng(1))).toThrow(/call fit\(\) \(or setState\(\)\) before build\(\)/);
    expect(() => enc.collate([])).toThrow(StateError);
    expect(() => enc.setState({})).toThrow(ModelFormatError);
    expect(() => encoders.create('text/ngram', { dim: 0 })).toThrow(/dim: must be an integer >= 1, got 0/);
    expect(() => encoders.create('text/ngram', { output: 'mean' })).toThrow(ConfigError);
    expect(() => encoders.create('text/ngram', { featureDropout: 1 })).toThrow(/featureDropout/);
    expect(() => encoders.create('text/ngram', { charNgrams: { minN: 4, maxN: 3 } })).toThrow(/charNgrams\.maxN/);
    expect(() => encoders.create('text/ngram', { bukets: 10 })).toThrow(/did you mean "buckets"/);
    const { enc: built } = await fitted(SMALL);
    expect(() => built.fit([])).toThrow(StateError);
    // A batch value that is not a prepared text: the encoder's collate and the exported collateNgrams (the
    // browser's) both name its index, and allocate nothing.
    const before = tf.memory().numTensors;
    expect(() => built.collate([{ tokens: ['hi'], truncated: false }, 'hello' as unknown as PreparedText])).toThrow(/collate: value 1 is .*not a prepared text/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => collateNgrams([{ tokens: ['hi'] }, { words: [] } as unknown as { tokens: string[] }], built.fittedVocabulary as Vocabulary, built.config)).toThrow(InvalidInputError);
    expect(() => tf.tidy(() => built.encode({ ids: tf.zeros([2, 3, 4], 'int32') }, { training: false }))).toThrow(/expects \{ rows \[N\], slots \[N\], featureMask \[N\], lengths \[B\] \}/);
    built.dispose();
  });
});
