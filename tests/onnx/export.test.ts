// ONNX export: the exported graph, run by onnxruntime-node, gives mmfuse's head outputs within 1e-4 for
// every fusion strategy and every built-in encoder, with inputs missing from some rows, from whole batches
// and hidden for contributions; the files pass the ONNX checker (Debian python3-onnx).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, EngineError, ModelFormatError, registerEncoderOnce } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, PrepareContext, Rng, TensorMap } from '@mmfuse/core';
import { FusionModel, OnnxFusionModel, exportOnnx, outputRows, planStructuredPruning, pruneStructured, quantizeColumns, readOnnxMetadata, saveState } from '@mmfuse/fusion';
import '../../examples/tabular-plugin.js';
import type { FusionModelConfig, Prediction } from '@mmfuse/fusion';
import { fixtures, fusion, maxDiff, onnxChecker, output, samples, trainTiny, training, withMissing } from './helpers.js';

const text = { type: 'text', encoder: { kind: 'rnn', embeddingDim: 8, hiddenSize: 6, cell: 'lstm', bidirectional: true, charNgrams: { buckets: 50 } } };
const audio = { type: 'audio', encoder: { kind: 'cnn', sampleRateHz: 8000, nMels: 16, nFft: 200, hopLength: 80, channels: [4, 6], normalization: 'global' }, maxTokens: 4 };
const image = { type: 'image', encoder: { kind: 'cnn', width: 16, height: 16, blocks: [4, 6], residual: true } };

/** Every head output of `requests` (with each input hidden in turn too) equal within 1e-4 on both runtimes. */
async function expectSameOutputs(model: FusionModel, onnx: OnnxFusionModel, requests: Record<string, unknown>[]): Promise<void> {
  const prepared = (await model.prepareInputs(requests)).map((o) => { if (!o.ok) throw o.error; return o.value.values; });
  expect(maxDiff(await outputRows(model.state, prepared), await onnx.outputRows(prepared))).toBeLessThan(1e-4);
  for (let m = 0; m < model.state.fields.length; m++) {
    expect(maxDiff(await outputRows(model.state, prepared, m), await onnx.outputRows(prepared, m))).toBeLessThan(1e-4);
  }
  // A batch where one input is absent from every row (its graph inputs are zero-filled and masked out).
  for (const field of model.state.fields) {
    const without = prepared.map((v) => v.map((x, m) => (model.state.fields[m] === field ? undefined : x)));
    const kept = without.filter((v) => v.some((x) => x !== undefined));
    expect(maxDiff(await outputRows(model.state, kept), await onnx.outputRows(kept))).toBeLessThan(1e-4);
  }
}

function expectSamePredictions(a: Prediction[], b: Prediction[]): void {
  expect(b.length).toBe(a.length);
  a.forEach((p, i) => {
    const q = b[i] as Prediction;
    expect(q.label).toEqual(p.label);
    expect(q.modalitiesUsed).toEqual(p.modalitiesUsed);
    expect(q.outOfScope).toEqual(p.outOfScope);
    for (const [l, v] of Object.entries(p.probabilities ?? {})) expect(Math.abs((q.probabilities?.[l] ?? NaN) - v)).toBeLessThan(1e-4);
    expect(Object.keys(q.contributions ?? {})).toEqual(Object.keys(p.contributions ?? {}));
    for (const [f, v] of Object.entries(p.contributions ?? {})) expect(Math.abs((q.contributions?.[f] ?? NaN) - v)).toBeLessThan(1e-4);
  });
}

async function checkModel(config: FusionModelConfig, inputs: string[], transform?: (m: FusionModel) => Promise<FusionModel>): Promise<void> {
  const data = await samples(12, 5, inputs);
  const trained = await trainTiny(config, data);
  let model = trained;
  try {
    if (transform !== undefined) model = await transform(trained);
    const { bytes } = exportOnnx(model.state);
    const checked = onnxChecker(bytes);
    expect(checked.message).toBe('');
    expect(checked.ok).toBe(true);
    const onnx = await OnnxFusionModel.load(bytes, { threads: 1 });
    try {
      const requests = withMissing(data, inputs);
      await expectSameOutputs(model, onnx, requests);
      const a = (await model.predictBatch(requests)).map((o) => { if (!o.ok) throw o.error; return o.value; });
      const b = (await onnx.predictBatch(requests)).map((o) => { if (!o.ok) throw o.error; return o.value; });
      expectSamePredictions(a, b);
    } finally {
      onnx.dispose();
    }
  } finally {
    model.dispose();
    if (model !== trained) trained.dispose();
  }
}

/** The model with half of every group's units pruned (structured, by weight norm), saved and loaded back. */
async function pruneHalf(m: FusionModel): Promise<FusionModel> {
  const pruned = pruneStructured(m.state, planStructuredPruning(m.state, { ratio: 0.5, importance: 'norm' }));
  expect(pruned.members).toBe(m.state.members);
  expect(Object.keys(pruned.config.fusion.blockShapes ?? {}).length).toBeGreaterThan(0);
  const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-onnx-pruned-'));
  try {
    await saveState(pruned, dir);
    return await FusionModel.load(dir);
  } finally {
    pruned.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ONNX export equals mmfuse', () => {
  it('an ensemble (training.ensemble 3): every member on the same graph inputs, the mean of their logits', async () => {
    await checkModel({ inputs: { text, audio }, fusion: fusion('transformer'), output, training: { ...training, ensemble: 3 } } as FusionModelConfig, ['text', 'audio']);
  });

  it('a structurally pruned ensemble: every member with its own units, in one pruned shape', async () => {
    await checkModel({ inputs: { text, audio }, fusion: fusion('transformer'), output, training: { ...training, ensemble: 2 } } as FusionModelConfig, ['text', 'audio'], pruneHalf);
  });

  it('an ensemble with an energy+nearest out-of-scope score: the same nearest similarity and score', async () => {
    const scored = { ...output, outOfScope: { threshold: 'auto', maxRejectedCorrect: 0.2, score: 'energy+nearest' } };
    await checkModel({ inputs: { text, image }, fusion: fusion('late'), output: scored, training: { ...training, epochs: 2, validationSplit: 0.3, ensemble: 2 } } as FusionModelConfig, ['text', 'image']);
  });

  for (const strategy of ['transformer', 'late', 'cross-attention'] as const) {
    it(`${strategy}: text/rnn (BiLSTM, char n-grams) + audio/cnn (pooled to maxTokens, global stats) + image/cnn (batch norm, residual)`, async () => {
      await checkModel({ inputs: { text, audio, image }, fusion: fusion(strategy), output, training } as FusionModelConfig, ['text', 'audio', 'image']);
    });
  }

  it('text/rnn: 2-layer unidirectional GRU with [CLS], character tokens; audio/phonetic (conv + BiGRU)', async () => {
    const config = {
      inputs: {
        text: { type: 'text', encoder: { kind: 'rnn', tokenizer: { type: 'char', maxLength: 40 }, embeddingDim: 6, hiddenSize: 5, cell: 'gru', bidirectional: false, layers: 2, addCls: true } },
        audio: { type: 'audio', encoder: { kind: 'phonetic', nMels: 16, convChannels: [8, 8], hiddenSize: 6, layers: 2 } },
      },
      fusion: fusion('transformer'), output, training,
    } as FusionModelConfig;
    await checkModel(config, ['text', 'audio']);
  });

  it('text/ngram pooled with learned feature weights + audio/cnn; text/ngram per token beside text/rnn on the same field', async () => {
    const ngram = { type: 'text', encoder: { kind: 'ngram', dim: 8, buckets: 64, wordNgrams: 2, featureWeights: true } };
    await checkModel({ inputs: { text: ngram, audio }, fusion: fusion('transformer'), output, training } as FusionModelConfig, ['text', 'audio']);
    const tokens = { type: 'text', encoder: { kind: 'ngram', dim: 6, buckets: 40, output: 'tokens', charNgrams: { minN: 2, maxN: 3 } } };
    const rnnBeside = { ...text, field: 'text' };
    await checkModel({ inputs: { text: tokens, textRnn: rnnBeside, image }, fusion: fusion('cross-attention'), output, training } as FusionModelConfig, ['text', 'image']);
  });

  it('image/cnn pooled without batch norm, text/rnn one-hot lookup with a bidirectional 2-layer LSTM', async () => {
    const config = {
      inputs: {
        text: { type: 'text', encoder: { kind: 'rnn', embeddingDim: 6, hiddenSize: 4, layers: 2, embeddingLookup: 'onehot' }, maxTokens: 3 },
        image: { type: 'image', encoder: { kind: 'cnn', width: 12, height: 12, blocks: [5], batchNorm: false, output: 'pooled', normalization: 'imagenet' } },
      },
      fusion: fusion('cross-attention'), output, training,
    } as FusionModelConfig;
    await checkModel(config, ['text', 'image']);
  });

  it('text/pretrained (tiny BERT, token steps) and image/pretrained (tiny ViT, patches): the pretrained models run in prepare, chained before the graph', async () => {
    const config = {
      inputs: {
        text: { type: 'text', encoder: { kind: 'pretrained', modelPath: path.join(fixtures, 'text/tiny-bert'), pooling: 'none' } },
        image: { type: 'image', encoder: { kind: 'pretrained', model: path.join(fixtures, 'vision/tiny-vit') }, maxTokens: 5 },
      },
      fusion: fusion('transformer'), output, training,
    } as FusionModelConfig;
    await checkModel(config, ['text', 'image']);
  });

  it('text/use beside text/ngram on one field (the bot\'s text inputs), and at depth 0 (256 wide): the sentence encoder runs in prepare, its vector is a graph input', async () => {
    const config = {
      inputs: { text: { type: 'text', encoder: { kind: 'ngram', dim: 8, buckets: 500 } }, sentence: { type: 'text', field: 'text', encoder: { kind: 'use' } }, pieces: { type: 'text', field: 'text', encoder: { kind: 'use', depth: 0 } }, audio },
      fusion: fusion('late'), output, training,
    } as FusionModelConfig;
    await checkModel(config, ['text', 'audio']);
  });

  it('a third-party plugin (examples/tabular-plugin.ts) exports through its own exportOnnx', async () => {
    const data = Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, fields: { stats: [i % 3, (i * 7) % 5, i / 4], text: i % 2 ? 'card lost' : 'refund please', label: ['card', 'refund', 'order'][i % 3] as string } }));
    const config = { inputs: { stats: { type: 'tabular', encoder: { kind: 'linear', columns: 3, dim: 4 } }, text }, fusion: fusion('transformer'), output, training } as FusionModelConfig;
    const model = await trainTiny(config, data);
    const { bytes } = exportOnnx(model.state);
    expect(onnxChecker(bytes).ok).toBe(true);
    const onnx = await OnnxFusionModel.load(bytes);
    try {
      await expectSameOutputs(model, onnx, withMissing(data, ['stats', 'text']));
    } finally {
      onnx.dispose();
      model.dispose();
    }
  });

  it('int8 export: integer kernels (DynamicQuantizeLinear + MatMulInteger, int8 embedding rows), checker-valid, smaller, close to float32', async () => {
    const data = await samples(12, 4, ['text', 'audio']);
    const config = { inputs: { text: { ...text, encoder: { ...text.encoder, embeddingDim: 32, hiddenSize: 32 } }, audio }, fusion: { ...fusion('transformer'), dModel: 64, ffDim: 128 }, output, training } as FusionModelConfig;
    const model = await trainTiny(config, data);
    const fp32 = exportOnnx(model.state);
    const int8 = exportOnnx(model.state, { quantize: 'int8' });
    expect(int8.metadata.quantize).toBe('int8');
    expect(onnxChecker(int8.bytes).ok).toBe(true);
    const ops = new TextDecoder('latin1').decode(int8.bytes);
    expect(ops).toContain('MatMulInteger');
    expect(ops).toContain('DynamicQuantizeLinear');
    // Recurrent and convolution weights stay float32, so less than 4× here.
    expect(int8.bytes.length).toBeLessThan(0.7 * fp32.bytes.length);
    const a = await OnnxFusionModel.load(fp32.bytes);
    const b = await OnnxFusionModel.load(int8.bytes);
    try {
      const requests = withMissing(data, ['text', 'audio']);
      const pa = (await a.predictBatch(requests)).map((o) => { if (!o.ok) throw o.error; return o.value; });
      const pb = (await b.predictBatch(requests)).map((o) => { if (!o.ok) throw o.error; return o.value; });
      let worst = 0;
      pa.forEach((p, i) => { for (const [l, v] of Object.entries(p.probabilities ?? {})) worst = Math.max(worst, Math.abs(v - ((pb[i] as Prediction).probabilities?.[l] ?? NaN))); });
      expect(worst).toBeLessThan(0.05);
      expect(worst).toBeGreaterThan(0); // really quantized
    } finally {
      a.dispose();
      b.dispose();
      model.dispose();
    }
  });

  it('int8 scheme: per-output-column symmetric scales; weights dequantized from it re-quantize to the same integers', () => {
    const w = Float32Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 4)));
    const q = quantizeColumns(w, 6, 4);
    for (let c = 0; c < 4; c++) {
      let max = 0;
      for (let r = 0; r < 6; r++) max = Math.max(max, Math.abs(w[r * 4 + c] as number));
      expect(q.scales[c]).toBeCloseTo(max / 127, 6);
    }
    const deq = Float32Array.from(q.values, (v, i) => v * (q.scales[i % 4] as number));
    const again = quantizeColumns(deq, 6, 4);
    expect(Array.from(again.values)).toEqual(Array.from(q.values));
  });

  it('evaluation reports (with ablation) are the same on both runtimes, and predictions leak no tensors', async () => {
    const data = await samples(12, 9, ['text', 'audio']);
    const model = await trainTiny({ inputs: { text, audio }, fusion: fusion('transformer'), output, training } as FusionModelConfig, data);
    const onnx = await OnnxFusionModel.fromState(model.state, { threads: 2 });
    try {
      const a = await model.evaluate(data);
      const b = await onnx.evaluate(data);
      expect(b.accuracy).toBe(a.accuracy);
      expect(b.confusion).toEqual(a.confusion);
      expect(b.ablation).toEqual(a.ablation);
      const requests = withMissing(data, ['text', 'audio']);
      await onnx.predictBatch(requests);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await onnx.predictBatch(requests);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      onnx.dispose();
      model.dispose();
    }
  });
});

describe('ONNX runtime and calibration', () => {
  it('carries the temperature and the out-of-scope threshold: the same calibrated probabilities and outOfScope, a per-call threshold too', async () => {
    const data = await samples(12, 11, ['text']);
    const model = await trainTiny({ inputs: { text }, fusion: fusion('late'), output, training: { ...training, epochs: 2, validationSplit: 0.25 } } as FusionModelConfig, data);
    const onnx = await OnnxFusionModel.load(exportOnnx(model.state).bytes, { threads: 1 });
    try {
      expect(model.calibration?.method).toBe('temperature');
      expect(onnx.calibration).toEqual(model.calibration);
      const requests = data.map((d) => ({ text: d.fields.text }));
      for (const threshold of [undefined, 0, 1, null]) {
        const opts = threshold === undefined ? {} : { outOfScopeThreshold: threshold };
        const a = (await model.predictBatch(requests, opts)).map((o) => { if (!o.ok) throw o.error; return o.value; });
        const b = (await onnx.predictBatch(requests, opts)).map((o) => { if (!o.ok) throw o.error; return o.value; });
        expectSamePredictions(a, b);
        if (threshold === 1) expect(b.every((p) => p.outOfScope === true)).toBe(true);
        if (threshold === null) expect(b.every((p) => p.outOfScope === undefined)).toBe(true);
      }
      const [ra, rb] = [await model.evaluate(data), await onnx.evaluate(data)];
      expect(rb.ece).toBeCloseTo(ra.ece as number, 4);
      expect(rb.eceUncalibrated).toBeCloseTo(ra.eceUncalibrated as number, 4);
    } finally {
      onnx.dispose();
      model.dispose();
    }
  });
});

describe('ONNX export: errors and format', () => {
  it('an encoder without exportOnnx is refused with a ConfigError naming the input', async () => {
    class Plain implements ModalityEncoder<number[], Float32Array> {
      readonly kind = 'plain/noexport';
      readonly modality = 'plain';
      readonly outputDim = 4;
      private w?: tf.Variable;
      async prepare(raw: number[], _ctx: PrepareContext): Promise<Float32Array> { return Float32Array.from(raw); }
      build(rng: Rng): void { this.w ??= tf.variable(tf.tensor1d([1, 2, 3, 4].map(() => rng.normal()))); }
      collate(values: readonly Float32Array[]): TensorMap { return { x: tf.tensor2d(values.map((v) => Array.from(v)), [values.length, values[0]?.length ?? 1]) }; }
      encode(batch: TensorMap, _o: EncodeOptions): EncoderOutput {
        const x = batch.x as tf.Tensor2D;
        return { features: x.expandDims(2).mul(this.w as tf.Variable) as tf.Tensor3D, mask: tf.onesLike(x) as tf.Tensor2D };
      }
      get trainableWeights(): tf.Variable[] { return this.w === undefined ? [] : [this.w]; }
      get weights(): tf.Variable[] { return this.trainableWeights; }
      getConfig(): JsonObject { return {}; }
      getState(): JsonObject { return {}; }
      setState(): void {}
      dispose(): void { this.w?.dispose(); }
    }
    registerEncoderOnce('plain/noexport', 'plain', () => new Plain(), 'test: no ONNX export');
    const data = Array.from({ length: 8 }, (_, i) => ({ id: `p${i}`, fields: { p: [i, 1], label: i % 2 ? 'a' : 'b' } }));
    const model = await trainTiny({ inputs: { p: { type: 'plain', encoder: { kind: 'noexport' } } }, fusion: fusion('late'), output, training } as FusionModelConfig, data);
    try {
      let err: unknown;
      try { exportOnnx(model.state); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).path).toBe('inputs.p.encoder');
      expect((err as ConfigError).message).toContain('plain/noexport has no exportOnnx');
    } finally {
      model.dispose();
    }
  });

  it('the file carries its metadata; a graph that mmfuse did not write, or bytes that are not ONNX, are ModelFormatErrors', async () => {
    const data = await samples(8, 2, ['text']);
    const model = await trainTiny({ inputs: { text }, fusion: fusion('late'), output, training } as FusionModelConfig, data);
    const { bytes, metadata } = exportOnnx(model.state);
    model.dispose();
    const meta = JSON.parse(readOnnxMetadata(bytes).mmfuse as string) as typeof metadata;
    expect(meta.inputs.map((i) => [i.field, i.kind, i.present])).toEqual([['text', 'text/rnn', 'text.present']]);
    expect(meta.output.labels).toEqual(['card', 'order', 'refund']);
    await expect(OnnxFusionModel.load(new Uint8Array([1, 2, 3, 4, 5]))).rejects.toBeInstanceOf(ModelFormatError);
    const foreign = await import('node:fs').then((fs) => fs.readFileSync(path.join(fixtures, 'text/tiny-bert/onnx/model.onnx')));
    await expect(OnnxFusionModel.load(new Uint8Array(foreign))).rejects.toThrow(/not exported by mmfuse/);
    await expect(OnnxFusionModel.load('/nonexistent/model.onnx')).rejects.toThrow(/cannot read/);
    expect(EngineError).toBeDefined();
  });
});
