import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { FusionModel, normalizeConfig } from '@mmfuse/fusion';
import { tinyConfig, xorSamples } from './helpers.js';

describe('FusionModel on a task only fusion can solve (label = a xor b)', () => {
  it('fused accuracy is near perfect while each modality alone stays near chance', async () => {
    const model = FusionModel.create(tinyConfig());
    const epochs: number[] = [];
    const history = await model.fit(xorSamples(192, 1), { progress: 'none', onEpoch: (m) => epochs.push(m.trainLoss) });
    expect(history.epochs).toHaveLength(25);
    expect(epochs.at(-1)).toBeLessThan(epochs[0] as number);
    const report = await model.evaluate(xorSamples(128, 2));
    expect(report.n).toBe(128);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(report.macroF1).toBeGreaterThanOrEqual(0.95);
    expect(report.ablation?.a?.accuracy).toBeLessThan(0.7);
    expect(report.ablation?.b?.accuracy).toBeLessThan(0.7);
    expect(report.confusion.labels).toEqual(['diff', 'same']);
    expect(report.confusion.matrix.flat().reduce((x, y) => x + y, 0)).toBe(128);
    const p = await model.predict({ a: [1], b: [-1] });
    expect(p.label).toBe('diff');
    expect(p.modalitiesUsed).toEqual(['a', 'b']);
    expect(Object.keys(p.contributions ?? {})).toEqual(['a', 'b']);
    // Removing either input destroys the answer, so each contribution is large.
    expect(p.contributions?.a).toBeGreaterThan(0.2);
    const only = await model.predict({ a: [1] });
    expect(only.modalitiesUsed).toEqual(['a']);
    // Prepared once, predicted without decoding again: the same answers as predictBatch.
    const requests = [{ a: [1], b: [1] }, { b: [-1] }, { a: 'bad' }];
    const prepared = await model.prepareInputs(requests);
    expect(prepared[2]).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', sample: 2, field: 'a' } });
    expect((prepared[2] as { error: unknown }).error).toBeInstanceOf(InvalidInputError);
    const ok = prepared.flatMap((p) => (p.ok ? [p.value] : []));
    expect(ok).toHaveLength(2);
    const batch = await model.predictBatch(requests);
    expect(await model.predictPrepared(ok)).toEqual(batch.slice(0, 2).map((o) => (o.ok ? o.value : o.error)));
    // The refused request keeps the typed error of the encoder that refused it.
    expect(batch[2]).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', sample: 2, field: 'a' } });
    expect((batch[2] as { error: unknown }).error).toBeInstanceOf(InvalidInputError);
    expect(model.summary()).toMatchObject({ trained: true, labels: ['diff', 'same'], inputs: [{ field: 'a', encoder: 'vec/linear' }, { field: 'b' }] });
    model.dispose();
  });
});

describe('normalizeConfig', () => {
  it('fills the documented defaults', () => {
    const c = normalizeConfig({ inputs: { text: { type: 'text', encoder: { kind: 'rnn' } } }, output: { field: 'label', type: 'category' } });
    expect(c.fusion).toEqual({ strategy: 'transformer', dModel: 128, layers: 2, heads: 4, ffDim: 256, dropout: 0.1, modalityDropout: 0.1 });
    expect(c.training.epochs).toBe(10);
    expect(c.training.clipNorm).toBe(1);
  });
  it('names the key path of a bad value', () => {
    const base = { inputs: { text: { type: 'text', encoder: { kind: 'rnn' } } }, output: { field: 'label', type: 'category' } };
    expect(() => normalizeConfig({ ...base, fusion: { heads: 5 } })).toThrow(/fusion\.heads: must divide dModel 128, got 5/);
    expect(() => normalizeConfig({ ...base, fusion: { dmodel: 5 } })).toThrow(ConfigError);
    expect(() => normalizeConfig({ ...base, training: { learningRate: -1 } })).toThrow(/training\.learningRate/);
    expect(() => normalizeConfig({ ...base, inputs: {} })).toThrow(/^inputs:/);
    expect(() => normalizeConfig({ ...base, output: { field: 'text', type: 'category' } })).toThrow(/output\.field/);
    expect(() => FusionModel.create({ ...base, inputs: { t: { type: 'text', encoder: { kind: 'nope' } } } } as never)).toThrow(/inputs\.t\.encoder: unknown encoder kind "text\/nope"/);
    expect(() => normalizeConfig({ ...base, inputs: { text: { type: 'text', encoder: { kind: 'rnn' }, project: 'no' } } })).toThrow(/inputs\.text\.project: must be true or false/);
  });

  it('project: false uses an encoder at its own width, and refuses a width that is not dModel', async () => {
    const cfg = tinyConfig({ epochs: 1 });
    const m = FusionModel.create({ ...cfg, inputs: { a: { type: 'vec', encoder: { kind: 'linear', dim: 16 }, project: false }, b: cfg.inputs.b } });
    await m.fit(xorSamples(16, 1), { progress: 'none', shuffle: false });
    expect(m.state.namedWeights().some(([n]) => n.startsWith('fusion.alignment.projection0'))).toBe(false);
    expect(m.state.namedWeights().some(([n]) => n.startsWith('fusion.alignment.projection1'))).toBe(true);
    m.dispose();
    const bad = FusionModel.create({ ...cfg, inputs: { a: { type: 'vec', encoder: { kind: 'linear', dim: 8 }, project: false }, b: cfg.inputs.b } });
    await expect(bad.fit(xorSamples(16, 1), { progress: 'none' })).rejects.toThrow(/inputs\.a\.project: is false, so the encoder's output width 8 must equal fusion\.dModel 16/);
  });
});
