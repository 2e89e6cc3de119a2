// Masking, gradients and all-missing behaviour of the network for every strategy, plus the heads.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRng } from '@mmfuse/core';
import { FusionModel, Alignment, LateFusion, capTokens, compareStrategies, gelu } from '@mmfuse/fusion';
import { tinyConfig, xorSamples } from './helpers.js';

const strategies = ['transformer', 'late', 'cross-attention'] as const;

/** A model with weights (1 epoch of training) and direct access to its network. */
async function trained(strategy: (typeof strategies)[number], epochs = 1): Promise<FusionModel> {
  const m = FusionModel.create(tinyConfig({ strategy, epochs }));
  await m.fit(xorSamples(32, 11), { progress: 'none' });
  return m;
}

describe.each(strategies)('%s fusion', (strategy) => {
  it('every trainable weight (encoders included) gets a non-zero gradient', async () => {
    const m = await trained(strategy);
    const net = m.state.requireNetwork();
    const samples = xorSamples(8, 12).map((s) => [new Float32Array(s.fields.a as number[]), new Float32Array(s.fields.b as number[])]);
    const input = { size: 8, fields: [0, 1].map((k) => ({ rows: [0, 1, 2, 3, 4, 5, 6, 7], values: samples.map((s) => s[k]) })) };
    const vars = net.trainableWeights;
    const { value, grads } = tf.variableGrads(() => net.forward(input, { training: true, rng: createRng(1) }).square().sum() as tf.Scalar, vars);
    const names = new Map(m.state.namedWeights().map(([n, v]) => [v.name, n]));
    const zero = vars.filter((v) => grads[v.name] === undefined || (grads[v.name] as tf.Tensor).abs().max().dataSync()[0] === 0).map((v) => names.get(v.name));
    expect(zero).toEqual([]);
    tf.dispose([value, ...Object.values(grads)]);
    m.dispose();
  });

  it('padding and missing modalities change nothing they should not', async () => {
    const m = await trained(strategy);
    const p = (x: Record<string, unknown>) => m.predict(x, { contributions: false });
    const alone = await m.predictBatch([{ a: [0.7], b: [-0.4] }], { contributions: false });
    // Batched with samples that have longer sequences (more padding for this one) and missing fields.
    const batched = await m.predictBatch([{ a: [0.1, 0.2, 0.3, 0.9], b: [1, 1, 1] }, { a: [0.7], b: [-0.4] }, { b: [0.3] }], { contributions: false });
    const probs = (r: unknown) => ((r as { value?: { probabilities: Record<string, number> } }).value ?? (r as { probabilities: Record<string, number> })).probabilities;
    expect(probs(batched[1]).same).toBeCloseTo(probs(alone[0]).same as number, 5);
    // A sample lacking `a` gives the same answer whether its neighbours have `a` or not.
    const bOnlyAlone = await p({ b: [0.3] });
    expect(probs(batched[2]).same).toBeCloseTo(probs(bOnlyAlone).same as number, 5);
    // Neither input present cannot be asked through predict, but the network itself stays finite.
    const net = m.state.requireNetwork();
    const out = tf.tidy(() => net.forward({ size: 2, fields: [null, null] }, { training: false }).dataSync());
    expect(Array.from(out).every(Number.isFinite)).toBe(true);
    m.dispose();
  });
});

describe('modality dropout', () => {
  it('hides the inputs that read one field together (a field is one modality) and always leaves one field', async () => {
    const base = tinyConfig({ strategy: 'late', epochs: 1, modalityDropout: 0.5 });
    const config = { ...base, inputs: { a: base.inputs.a, a2: { ...base.inputs.a, field: 'a' }, b: base.inputs.b } };
    const m = FusionModel.create(config);
    await m.fit(xorSamples(16, 3), { progress: 'none' });
    const net = m.state.requireNetwork() as unknown as { modalityKeep(batch: unknown, rng: unknown): number[][] };
    const rows = Array.from({ length: 400 }, (_, i) => i);
    const field = { rows, values: rows.map(() => new Float32Array([0.5])) };
    const keep = net.modalityKeep({ size: rows.length, fields: [field, field, field] }, createRng(9));
    const [a, a2, b] = keep as [number[], number[], number[]];
    expect(a).toEqual(a2);
    rows.forEach((r) => expect((a[r] as number) + (b[r] as number)).toBeGreaterThan(0));
    const hiddenA = rows.filter((r) => a[r] === 0).length;
    const hiddenB = rows.filter((r) => b[r] === 0).length;
    // Two fields at p = 0.5, one always kept: each field is hidden in about a third of the rows... here within wide bounds.
    expect(hiddenA).toBeGreaterThan(100);
    expect(hiddenB).toBeGreaterThan(100);
    // A row without field b: the two inputs of field a are the only modality and are never hidden.
    const onlyA = net.modalityKeep({ size: 4, fields: [{ rows: [0, 1, 2, 3], values: [0, 1, 2, 3].map(() => new Float32Array([0.5])) }, { rows: [0, 1, 2, 3], values: [0, 1, 2, 3].map(() => new Float32Array([0.5])) }, null] }, createRng(2));
    expect(onlyA[0]).toEqual([1, 1, 1, 1]);
    expect(onlyA[1]).toEqual([1, 1, 1, 1]);
    m.dispose();
  });
});

describe('strategies compared on the same data and budget (transformer: model.test.ts)', () => {
  it('late and cross-attention both learn a xor b, through compareStrategies', async () => {
    const results = await compareStrategies(tinyConfig({ epochs: 25 }), xorSamples(192, 1), xorSamples(96, 2), { strategies: ['late', 'cross-attention'], fit: { progress: 'none' } });
    expect(results.map((r) => r.strategy)).toEqual(['late', 'cross-attention']);
    for (const r of results) {
      expect(r.report.accuracy, r.strategy).toBeGreaterThanOrEqual(0.9);
      expect(r.parameters).toBeGreaterThan(0);
    }
  });
});

describe('alignment', () => {
  it('capTokens pools each sample over windows of its own length, not the batch\'s padded length', () => {
    // Sample 0: 7 real steps -> windows of ceil(7 / 3) = 3: [1,2,3] [4,5,6] [7]. Sample 1: 2 real steps <= cap: kept.
    const [f, mk] = tf.tidy(() => {
      const x = tf.tensor3d([[[1], [2], [3], [4], [5], [6], [7]], [[10], [20], [99], [99], [99], [99], [99]]]); // [2, 7, 1]
      const r = capTokens(x, tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0, 0]]), 3);
      return [r.features, r.mask];
    });
    expect(Array.from((f as tf.Tensor).dataSync())).toEqual([2, 5, 7, 10, 20, 0]);
    expect((mk as tf.Tensor).arraySync()).toEqual([[1, 1, 1], [1, 1, 0]]);
    tf.dispose([f as tf.Tensor, mk as tf.Tensor]);
  });

  it('capTokens keeps only its two results, and refuses a bad cap or a mask of another shape with a typed error', () => {
    const x = tf.ones([2, 9, 4]) as tf.Tensor3D;
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0, 0]]);
    const before = tf.memory().numTensors;
    const r = capTokens(x, mask, 4);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([r.features, r.mask]);
    expect(capTokens(x, mask, 9).features).toBe(x); // nothing to pool: the inputs themselves
    expect(() => capTokens(x, mask, 0)).toThrow(ConfigError);
    expect(() => capTokens(x, mask, 2.5)).toThrow(/maxTokens.*whole number/);
    const wrong = tf.ones([2, 8]) as tf.Tensor2D;
    expect(() => capTokens(x, wrong, 4)).toThrow(InvalidInputError);
    expect(() => capTokens(x, wrong, 4)).toThrow(/field "mask".*\[2, 8\].*\[2, 9, 4\]/);
    wrong.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, mask]);
  });

  it('a sample\'s tokens are the same alone and batched with a longer one (values and gradients)', () => {
    const al = new Alignment({ inputs: [{ field: 'a', inDim: 3, maxTokens: 4 }], dModel: 8 }, createRng(3));
    const rng = createRng(5);
    const long = Array.from({ length: 23 * 3 }, () => rng.normal());
    const short = Array.from({ length: 9 * 3 }, () => rng.normal());
    const before = tf.memory().numTensors;
    // Summed over the sample's real tokens (what the strategies read), alone and in a batch padded to 23 steps.
    const pooled = (x: tf.Tensor3D, mask: tf.Tensor2D, row: number): tf.Tensor1D => {
      const out = al.apply(0, { features: x, mask }, [...Array(x.shape[0]).keys()], x.shape[0]);
      return out.x.mul(out.mask.expandDims(2)).slice([row, 0, 0], [1, -1, -1]).sum([0, 1]) as tf.Tensor1D;
    };
    const [alone, batched, gradAlone, gradBatched] = tf.tidy(() => {
      const x1 = tf.tensor3d(short, [1, 9, 3]);
      const x2 = tf.tensor3d([...long, ...short, ...new Array<number>(14 * 3).fill(7)], [2, 23, 3]);
      const m2 = tf.tensor2d([...new Array<number>(23).fill(1), ...new Array<number>(9).fill(1), ...new Array<number>(14).fill(0)], [2, 23]);
      const g1 = tf.grad((x: tf.Tensor) => pooled(x as tf.Tensor3D, tf.ones([1, 9]) as tf.Tensor2D, 0).sum())(x1);
      const g2 = tf.grad((x: tf.Tensor) => pooled(x as tf.Tensor3D, m2, 1).sum())(x2).slice([1, 0, 0], [1, 9, 3]);
      return [pooled(x1, tf.ones([1, 9]) as tf.Tensor2D, 0), pooled(x2, m2, 1), g1, g2];
    });
    const close = (a: tf.Tensor, b: tf.Tensor): void => {
      const [x, y] = [a.dataSync(), b.dataSync()];
      expect(x.length).toBe(y.length);
      x.forEach((v, i) => expect(Math.abs(v - (y[i] as number))).toBeLessThan(1e-5));
    };
    close(alone as tf.Tensor, batched as tf.Tensor);
    close(gradAlone as tf.Tensor, gradBatched as tf.Tensor);
    tf.dispose([alone, batched, gradAlone, gradBatched] as tf.Tensor[]);
    expect(tf.memory().numTensors).toBe(before);
    al.dispose();
  });

  it('scatters the present samples into their rows; absent rows are fully masked', () => {
    const al = new Alignment({ inputs: [{ field: 'a', inDim: 2, maxTokens: 2 }], dModel: 4 }, createRng(1));
    const before = tf.memory().numTensors;
    const r = tf.tidy(() => {
      const out = al.apply(0, { features: tf.ones([2, 3, 2]) as tf.Tensor3D, mask: tf.tensor2d([[1, 1, 1], [1, 0, 0]]) }, [0, 2], 3);
      return [out.x, out.mask];
    });
    expect(r[0]?.shape).toEqual([3, 2, 4]);
    expect((r[1] as tf.Tensor).arraySync()).toEqual([[1, 1], [0, 0], [1, 0]]);
    tf.dispose(r);
    expect(tf.memory().numTensors).toBe(before);
    al.dispose();
  });
});

describe('heads', () => {
  it('multi-label: learns which of two labels apply', async () => {
    const data = xorSamples(96, 21).map((s) => {
      const a = (s.fields.a as number[])[0] as number > 0; const b = (s.fields.b as number[])[0] as number > 0;
      return { id: s.id, fields: { a: s.fields.a, b: s.fields.b, label: [...(a ? ['A'] : []), ...(b ? ['B'] : [])] } };
    });
    const cfg = tinyConfig({ epochs: 15 });
    const m = FusionModel.create({ ...cfg, output: { field: 'label', type: 'multi-label' }, training: { ...cfg.training, labelSmoothing: 0.05, classWeights: 'balanced' } });
    await m.fit(data, { progress: 'none' });
    expect(m.labels).toEqual(['A', 'B']);
    const p = await m.predict({ a: [1], b: [-1] });
    expect(p.label).toEqual(['A']);
    const r = await m.evaluate(data.slice(0, 40));
    expect(r.accuracy).toBeGreaterThan(0.9);
    m.dispose();
  });

  it('regression: predicts a + b in the original units', async () => {
    const data = xorSamples(96, 22).map((s) => ({ id: s.id, fields: { a: s.fields.a, b: s.fields.b, y: 10 + 3 * ((s.fields.a as number[])[0] as number) + ((s.fields.b as number[])[0] as number) } }));
    data.push({ id: 'two-values', fields: { a: [1], b: [1], y: [1, 2] as unknown as number } });
    const cfg = tinyConfig({ epochs: 20 });
    const m = FusionModel.create({ ...cfg, output: { field: 'y', type: 'regression' } });
    const skipped: string[] = [];
    await m.fit(data, { progress: 'none', onSkip: (s) => skipped.push(`${s.sample}: ${s.reason}`) });
    expect(skipped).toEqual(['two-values: expected 1 value(s), got 2']);
    const p = await m.predict({ a: [1], b: [1] });
    expect(p.value?.[0]).toBeGreaterThan(12);
    expect(p.value?.[0]).toBeLessThan(16);
    const r = await m.evaluate(data.slice(0, 30));
    expect(r.regression?.r2).toBeGreaterThan(0.8);
    m.dispose();
  });

  it('category with label smoothing and explicit class weights trains', async () => {
    const cfg = tinyConfig({ epochs: 20 });
    const m = FusionModel.create({ ...cfg, training: { ...cfg.training, labelSmoothing: 0.1, classWeights: { same: 2, diff: 1 } } });
    const h = await m.fit(xorSamples(96, 23), { progress: 'none' });
    expect(h.epochs.at(-1)?.trainAccuracy).toBeGreaterThan(0.8);
    m.dispose();
  });
});

describe('late fusion over one-step inputs (pooled encoders)', () => {
  // The masked mean of a one-step input takes a shorter path (x × mask); it must give what the general masked mean
  // gives, bitwise, forward and backward, with a row whose input is absent (mask 0) in the batch.
  const general = (x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D => x.mul(mask.expandDims(2)).sum(1).div(mask.sum(1, true).maximum(1)) as tf.Tensor2D;
  it('equals the general masked mean, values and gradients, and keeps the tensor count', async () => {
    const rng = createRng(3);
    const late = new LateFusion({ modalities: 2, dModel: 4, ffDim: 6, dropout: 0 }, rng);
    const data = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + 0.4) * 2);
    const xs = [tf.tensor3d(data(12), [3, 1, 4]), tf.tensor3d(data(12).map((v) => -v / 3), [3, 1, 4])];
    const masks = [tf.tensor2d([[1], [0], [1]]), tf.tensor2d([[1], [1], [0]])];
    const reference = (a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor => {
      const z = tf.concat([general(a, masks[0] as tf.Tensor2D), general(b, masks[1] as tf.Tensor2D)], 1);
      return late.norm.apply(late.out.apply(gelu(late.hidden.apply(z))));
    };
    const viaLate = (a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor => late.apply([{ x: a, mask: masks[0] as tf.Tensor2D }, { x: b, mask: masks[1] as tf.Tensor2D }], 3, { training: false });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const [y, yRef] = [viaLate(xs[0] as tf.Tensor3D, xs[1] as tf.Tensor3D), reference(xs[0] as tf.Tensor3D, xs[1] as tf.Tensor3D)];
      expect(Array.from(y.dataSync())).toEqual(Array.from(yRef.dataSync()));
      const loss = (f: (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor3D, b as tf.Tensor3D).square().sum() as tf.Scalar;
      const g = tf.grads(loss(viaLate))(xs);
      const gRef = tf.grads(loss(reference))(xs);
      for (const k of [0, 1]) expect(Array.from((g[k] as tf.Tensor).dataSync())).toEqual(Array.from((gRef[k] as tf.Tensor).dataSync()));
      // the absent rows get no gradient
      expect(Array.from((g[0] as tf.Tensor).slice([1, 0, 0], [1, 1, 4]).dataSync())).toEqual([0, 0, 0, 0]);
    });
    expect(tf.memory().numTensors).toBe(before);
    // the shorter path is the one taken: no count, no division
    const profile = await tf.profile(() => viaLate(xs[0] as tf.Tensor3D, xs[1] as tf.Tensor3D));
    const kernels = profile.kernels.map((k) => k.name);
    expect(kernels).not.toContain('RealDiv');
    expect(kernels).not.toContain('Maximum');
    tf.dispose(profile.result as tf.Tensor);
    tf.dispose([...xs, ...masks]);
    late.dispose();
  });
});
