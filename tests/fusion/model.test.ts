import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
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
  });
});
