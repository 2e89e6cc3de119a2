import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, ModelFormatError, createRng, encoders } from '@mmfuse/core';
import type { JsonObject, ModalityEncoder } from '@mmfuse/core';
import { TextRnnEncoder, charNgramIds } from '@mmfuse/text-rnn';
import type { PreparedText, TextRnnEncoderConfig } from '@mmfuse/text-rnn';

const TRAIN = [
  'My card has not arrived yet',
  'Where is my new card?',
  'How do I top up with Apple Pay',
  'I want to cancel a transfer',
  'my card still has not arrived after 2 weeks',
  '',
];

async function prepareAll(enc: ModalityEncoder, texts: string[]): Promise<PreparedText[]> {
  return Promise.all(texts.map((t, i) => enc.prepare(t, { sample: i, field: 'text' }) as Promise<PreparedText>));
}

async function fitted(config: TextRnnEncoderConfig, seed = 1): Promise<{ enc: TextRnnEncoder; prepared: PreparedText[] }> {
  const enc = encoders.create('text/rnn', config as JsonObject) as TextRnnEncoder;
  const prepared = await prepareAll(enc, TRAIN);
  await enc.fit(prepared);
  enc.build(createRng(seed));
  return { enc, prepared };
}

const read = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('text/rnn encoder', () => {
  it('is registered and documents its defaults in getConfig()', () => {
    expect(encoders.has('text/rnn')).toBe(true);
    const enc = encoders.create('text/rnn');
    expect(enc).toBeInstanceOf(TextRnnEncoder);
    expect(enc.modality).toBe('text');
    expect(enc.outputDim).toBe(128);
    expect(enc.getConfig()).toEqual({
      tokenizer: { type: 'word', lowercase: true, minFrequency: 1, maxVocabSize: 20000, maxLength: 64 },
      embeddingDim: 64, hiddenSize: 64, cell: 'lstm', layers: 1, bidirectional: true, dropout: 0.1, addCls: false, embeddingLookup: 'auto', charNgrams: false, maxBytes: 1048576,
    });
  });

  it.each([
    ['lstm', true, 1],
    ['gru', false, 2],
  ] as const)('%s (bidirectional %s, %i layers): shapes, mask of true lengths, empty text, no tensor leak', async (cell, bidirectional, layers) => {
    const { enc, prepared } = await fitted({ cell, bidirectional, layers, hiddenSize: 8, embeddingDim: 6 });
    expect(enc.outputDim).toBe(bidirectional ? 16 : 8);
    expect(prepared[5]).toEqual({ tokens: [], truncated: false });
    const batch = enc.collate(prepared);
    expect(batch.ids?.shape).toEqual([6, 9]);
    expect(batch.ids?.dtype).toBe('int32');
    expect(read(batch.lengths as tf.Tensor)).toEqual([6, 6, 8, 6, 9, 0]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = tf.tidy(() => enc.encode(batch, { training: false }));
      expect(out.features.shape).toEqual([6, 9, enc.outputDim]);
      expect(out.mask.dtype).toBe('float32');
      const mask = out.mask.arraySync();
      expect(mask[0]).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0]);
      expect(mask[5]).toEqual(new Array(9).fill(0)); // the empty text: an all-zero mask row
      const f = out.features.arraySync();
      // Padded steps (and the whole empty sample) are exactly zero; real steps are not.
      expect(f[5]?.flat().every((v) => v === 0)).toBe(true);
      expect(f[1]?.[6]?.every((v) => v === 0)).toBe(true);
      expect(f[1]?.[4]?.some((v) => v !== 0)).toBe(true);
      tf.dispose(out);
    }
    expect(tf.memory().numTensors).toBe(before);
    // A batch holding only empty texts still collates and encodes (one masked step).
    const empty = enc.collate([prepared[5] as PreparedText]);
    const out = tf.tidy(() => enc.encode(empty, { training: true, rng: createRng(3) }));
    expect(out.features.shape).toEqual([1, 1, enc.outputDim]);
    expect(read(out.mask)).toEqual([0]);
    tf.dispose([out, empty]);
    tf.dispose(batch);
    enc.dispose();
  });

  it('gives a text the same outputs alone as padded in a batch (both directions)', async () => {
    const { enc, prepared } = await fitted({ hiddenSize: 8, embeddingDim: 6, layers: 2 });
    const batch = enc.collate(prepared);
    const all = tf.tidy(() => enc.encode(batch, { training: false }).features.arraySync());
    prepared.forEach((p, b) => {
      if (p.tokens.length === 0) return;
      const one = enc.collate([p]);
      const alone = tf.tidy(() => enc.encode(one, { training: false }).features.arraySync())[0] as number[][];
      alone.forEach((row, t) => row.forEach((v, d) => expect(Math.abs(v - (all[b]?.[t]?.[d] as number))).toBeLessThan(1e-6)));
      tf.dispose(one);
    });
    tf.dispose(batch);
    enc.dispose();
  });

  it('trains: every weight gets a non-zero gradient and one Adam step changes them all', async () => {
    const { enc, prepared } = await fitted({ hiddenSize: 8, embeddingDim: 6, layers: 2, cell: 'gru', dropout: 0.2 });
    const weights = enc.trainableWeights;
    expect(weights.length).toBe(1 + 2 * 2 * 4);
    expect(enc.weights).toEqual(weights);
    const batch = enc.collate(prepared);
    const target = tf.randomNormal([6, 9, 16], 0, 1, 'float32', 5);
    const loss = (): tf.Scalar => {
      const out = enc.encode(batch, { training: true, rng: createRng(9) });
      return out.features.sub(target).square().mul(out.mask.expandDims(2)).mean() as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(loss, weights);
    for (const w of weights) expect((grads[w.name] as tf.Tensor).abs().sum().dataSync()[0], w.name).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    const before = weights.map((w) => w.dataSync().slice());
    const opt = tf.train.adam(0.01);
    tf.dispose(opt.minimize(loss) ?? []);
    weights.forEach((w, i) => expect(read(w)).not.toEqual(Array.from(before[i] as Float32Array)));
    // Dropout is seeded: the same rng gives the same training output; inference ignores dropout.
    const a = tf.tidy(() => enc.encode(batch, { training: true, rng: createRng(4) }).features.dataSync());
    const b = tf.tidy(() => enc.encode(batch, { training: true, rng: createRng(4) }).features.dataSync());
    const c = tf.tidy(() => enc.encode(batch, { training: false }).features.dataSync());
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    opt.dispose();
    tf.dispose([batch, target]);
    enc.dispose();
  });

  it('rebuilds from getConfig() + getState() + weights with identical outputs, through JSON', async () => {
    const { enc, prepared } = await fitted({ cell: 'lstm', hiddenSize: 8, embeddingDim: 6, tokenizer: { type: 'cjk', minFrequency: 1, maxLength: 16 } });
    const config = JSON.parse(JSON.stringify(enc.getConfig())) as JsonObject;
    const state = JSON.parse(JSON.stringify(enc.getState())) as JsonObject;
    const copy = encoders.create('text/rnn', config);
    copy.setState(state);
    copy.build(createRng(999)); // different init, then overwritten by the saved weights in order
    copy.weights.forEach((w, i) => w.assign(enc.weights[i] as tf.Variable));
    const again = await prepareAll(copy, TRAIN);
    expect(again).toEqual(prepared);
    const b1 = enc.collate(prepared);
    const b2 = copy.collate(again);
    expect(read(b2.ids as tf.Tensor)).toEqual(read(b1.ids as tf.Tensor));
    const o1 = tf.tidy(() => enc.encode(b1, { training: false }).features.dataSync());
    const o2 = tf.tidy(() => copy.encode(b2, { training: false }).features.dataSync());
    expect(Array.from(o2)).toEqual(Array.from(o1));
    tf.dispose([b1, b2]);
    enc.dispose();
    copy.dispose();
  });

  it('gather and one-hot embedding lookups give the same outputs and gradients', async () => {
    const g = await fitted({ embeddingLookup: 'gather', hiddenSize: 4, embeddingDim: 3 }, 5);
    const o = await fitted({ embeddingLookup: 'onehot', hiddenSize: 4, embeddingDim: 3 }, 5);
    const batch = g.enc.collate(g.prepared);
    const f = (enc: TextRnnEncoder) => tf.variableGrads(() => enc.encode(batch, { training: false }).features.sum() as tf.Scalar, enc.trainableWeights);
    const rg = f(g.enc);
    const ro = f(o.enc);
    expect(Math.abs((rg.value.dataSync()[0] as number) - (ro.value.dataSync()[0] as number))).toBeLessThan(1e-5);
    g.enc.trainableWeights.forEach((w, i) => {
      const a = read(rg.grads[w.name] as tf.Tensor);
      const b = read(ro.grads[(o.enc.trainableWeights[i] as tf.Variable).name] as tf.Tensor);
      a.forEach((v, j) => expect(Math.abs(v - (b[j] as number))).toBeLessThan(1e-5));
    });
    tf.dispose([batch, rg.value, ro.value, ...Object.values(rg.grads), ...Object.values(ro.grads)]);
    g.enc.dispose();
    o.enc.dispose();
  });

  it('flags truncation, prepends CLS when asked, and maps unseen tokens to unknown', async () => {
    const { enc } = await fitted({ addCls: true, tokenizer: { maxLength: 3 }, hiddenSize: 4, embeddingDim: 3 });
    const p = await enc.prepare('my card has definitely not arrived', { sample: 's1', field: 'text' });
    expect(p).toEqual({ tokens: ['my', 'card', 'has'], truncated: true });
    const q = await enc.prepare('zebra card', { sample: 's2', field: 'text' });
    const batch = enc.collate([p, q]);
    const vocab = enc.fittedVocabulary;
    expect(batch.ids?.arraySync()).toEqual([
      [2, vocab?.idOf('my'), vocab?.idOf('card'), vocab?.idOf('has')],
      [2, 1, vocab?.idOf('card'), 0],
    ]);
    expect(read(batch.lengths as tf.Tensor)).toEqual([4, 3]);
    tf.dispose(batch);
    enc.dispose();
  });

  it('charNgrams: hashed n-grams give misspelt words shared pieces, train, and survive a rebuild', async () => {
    const opts = { minN: 3, maxN: 4, buckets: 1000, maxPerToken: 32 };
    // "<ab>" → 3-grams "<ab", "ab>", 4-gram "<ab>"; ids in 1..buckets, deterministic.
    const ab = charNgramIds('ab', opts);
    expect(ab).toHaveLength(3);
    expect(ab.every((id) => id >= 1 && id <= 1000)).toBe(true);
    expect(charNgramIds('ab', opts)).toEqual(ab);
    const shared = charNgramIds('refund', opts).filter((id) => charNgramIds('refnd', opts).includes(id));
    expect(shared.length).toBeGreaterThanOrEqual(2); // "<re", "ref", "<ref"
    expect(charNgramIds('a'.repeat(100), { ...opts, maxPerToken: 5 })).toHaveLength(5);
    expect(() => encoders.create('text/rnn', { charNgrams: { minN: 4, maxN: 3 } })).toThrow(/charNgrams\.maxN/);

    const { enc, prepared } = await fitted({ hiddenSize: 4, embeddingDim: 3, charNgrams: { buckets: 500 }, addCls: true });
    expect(enc.trainableWeights).toHaveLength(2 + 8);
    const batch = enc.collate(prepared);
    const distinct = new Set(prepared.flatMap((p) => p.tokens)).size;
    const [u, k] = (batch.ngrams as tf.Tensor).shape;
    expect(u).toBe(distinct + 1);
    expect(k).toBeGreaterThan(3);
    expect(batch.ngramIndex?.shape).toEqual([6, 10]);
    const ng = (batch.ngrams as tf.Tensor2D).arraySync();
    const index = (batch.ngramIndex as tf.Tensor2D).arraySync();
    expect(ng[0]?.every((v) => v === 0)).toBe(true); // row 0: no token
    expect(index[0]?.[0]).toBe(0); // the CLS step has no n-grams
    expect(index[5]?.every((v) => v === 0)).toBe(true); // the empty text
    expect(index[0]?.[1]).toBe(index[1]?.[3]); // "my" in both texts shares one row
    expect(ng[index[0]?.[1] as number]?.filter((v) => v > 0)).toEqual(charNgramIds('my', enc.config.charNgrams as Required<typeof opts>));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(() => enc.encode(batch, { training: true, rng: createRng(1) }).features.square().sum() as tf.Scalar, enc.trainableWeights);
      for (const w of enc.trainableWeights) expect(tf.tidy(() => (grads[w.name] as tf.Tensor).abs().sum().dataSync()[0])).toBeGreaterThan(0);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    // An unseen misspelling differs from plain <unk>: its n-grams carry information.
    const typo = await enc.prepare('refnd', { sample: 0, field: 'text' });
    const unk = await enc.prepare('zzzzqx', { sample: 1, field: 'text' });
    const pair = enc.collate([typo, unk]);
    const f = tf.tidy(() => enc.encode(pair, { training: false }).features.arraySync());
    expect(f[0]?.[1]).not.toEqual(f[1]?.[1]);
    const copy = encoders.create('text/rnn', JSON.parse(JSON.stringify(enc.getConfig())) as JsonObject);
    copy.setState(JSON.parse(JSON.stringify(enc.getState())) as JsonObject);
    copy.build(createRng(2));
    copy.weights.forEach((w, i) => w.assign(enc.weights[i] as tf.Variable));
    const pair2 = copy.collate([typo, unk]);
    const f2 = tf.tidy(() => copy.encode(pair2, { training: false }).features.arraySync());
    expect(f2).toEqual(f);
    tf.dispose([batch, pair, pair2]);
    enc.dispose();
    copy.dispose();
  });

  it('refuses bad input and bad configuration with typed errors naming sample and field', async () => {
    const enc = encoders.create('text/rnn');
    await expect(enc.prepare(42 as unknown as string, { sample: 'row-7', field: 'message' })).rejects.toThrow(InvalidInputError);
    await expect(enc.prepare(null as unknown as string, { sample: 'row-7', field: 'message' })).rejects.toThrow(/sample "row-7", field "message": expected text \(a string\), got null/);
    expect(() => enc.build(createRng(1))).toThrow(/call fit\(\) \(or setState\(\)\) before build\(\)/);
    expect(() => enc.setState({})).toThrow(ModelFormatError);
    expect(() => encoders.create('text/rnn', { cell: 'rnn' })).toThrow(ConfigError);
    expect(() => encoders.create('text/rnn', { hiddenSize: 0 })).toThrow(/hiddenSize: must be an integer >= 1, got 0/);
    expect(() => encoders.create('text/rnn', { dropout: 1.5 })).toThrow(/dropout/);
    expect(() => encoders.create('text/rnn', { tokenizer: { type: 'subword' } })).toThrow(/tokenizer\.path/);
    expect(() => encoders.create('text/rnn', { tokenizer: { maxLength: -1 } })).toThrow(/tokenizer\.maxLength/);
  });
});
