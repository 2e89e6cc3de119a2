// Temperature scaling, the out-of-scope threshold, their save/load (format version 2) and two inputs
// reading one field (`inputs.<name>.field`).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, ModelFormatError, createRng } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { FusionModel, chooseThreshold, energyOf, expectedCalibrationError, fitCalibration, fitTemperature, manifestFields, meanNll, normalizeConfig, percentileOf, scaledSoftmax, scopeScore } from '@mmfuse/fusion';
import type { FusionModelConfig, Sample } from '@mmfuse/fusion';
import './helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'mmfuse-calibration-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('calibration functions', () => {
  it('fitTemperature recovers the temperature that generated the labels, and minimizes the NLL', () => {
    const rng = createRng(7);
    const rows: number[][] = [];
    const truth: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const z = Array.from({ length: 5 }, () => rng.normal(0, 3));
      const p = scaledSoftmax(z, 2.5);
      let u = rng.next();
      let k = 0;
      while (k < 4 && u >= (p[k] as number)) { u -= p[k] as number; k++; }
      rows.push(z);
      truth.push(k);
    }
    const t = fitTemperature(rows, truth);
    expect(t).toBeGreaterThan(2.2);
    expect(t).toBeLessThan(2.8);
    for (const other of [t * 0.9, t * 1.1, 1]) expect(meanNll(rows, truth, t)).toBeLessThanOrEqual(meanNll(rows, truth, other));
    // Scaling calibrates: the expected calibration error falls.
    const before = expectedCalibrationError(rows.map((r) => scaledSoftmax(r, 1)), truth);
    const after = expectedCalibrationError(rows.map((r) => scaledSoftmax(r, t)), truth);
    expect(after).toBeLessThan(before);
    expect(fitTemperature([], [])).toBe(1);
  });

  it('expectedCalibrationError and chooseThreshold by hand', () => {
    // Two samples in the 0.9 bin (one right), one in the 0.6 bin (right): (|0.5 - 0.9| * 2 + |1 - 0.6|) / 3.
    const ece = expectedCalibrationError([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]], [0, 0, 0]);
    expect(ece).toBeCloseTo((2 * 0.4 + 0.4) / 3, 10);
    expect(expectedCalibrationError([], [])).toBe(0);
    const top = [0.2, 0.5, 0.9, 0.3, 0.8, 0.95, 0.6, 0.7, 0.4, 0.99];
    const correct = [false, true, true, false, true, true, true, true, true, true];
    // Correct scores sorted: 0.4 0.5 0.6 0.7 0.8 0.9 0.95 0.99; rejecting at most 25% of them (2) → 0.6.
    expect(chooseThreshold(top, correct, 0.25)).toBe(0.6);
    expect(chooseThreshold(top, correct, 0)).toBe(0.4);
    expect(chooseThreshold(top, correct.map(() => false), 0.1)).toBeNull();
    const fitted = fitCalibration([[2, 0], [0, 2], [0.5, 0]], [0, 1, 1], { calibration: 'none', threshold: 0.7, maxRejectedCorrect: 0.01 });
    expect(fitted).toMatchObject({ method: 'none', temperature: 1, outOfScopeThreshold: 0.7, thresholdSource: 'config' });
    expect(fitted.validation?.rejected).toBeCloseTo(1 / 3, 10);
  });
});

// Three intents of typed requests; "weather" and "pizza" requests are out of scope.
const INTENTS: Record<string, string[]> = {
  card_lost: ['i lost my card', 'my card was stolen', 'card missing', 'someone stole my card', 'lost card please block it', 'where did my card go i lost it', 'block my stolen card', 'my wallet and card are gone', 'i cannot find my card', 'report a lost card'],
  refund: ['i want a refund', 'give me my money back', 'refund my order', 'how do i get a refund', 'money back please', 'refund for the broken item', 'i was charged twice refund', 'request a refund now', 'where is my refund', 'refund status'],
  hours: ['when are you open', 'opening hours', 'are you open on sunday', 'what time do you close', 'store hours today', 'open late tonight', 'closing time', 'hours on holidays', 'when do you open tomorrow', 'what are your hours'],
};
const samples = (offset: number, n: number): Sample[] => Object.entries(INTENTS).flatMap(([label, texts]) => texts.slice(offset, offset + n).map((text, i) => ({ id: `${label}-${offset + i}`, fields: { text, intent: label } })));

const CONFIG: FusionModelConfig = {
  inputs: {
    text: { type: 'text', encoder: { kind: 'ngram', dim: 16, buckets: 500 } },
    words: { type: 'text', field: 'text', encoder: { kind: 'rnn', embeddingDim: 8, hiddenSize: 8, cell: 'gru' } },
  },
  fusion: { strategy: 'late', dModel: 16, modalityDropout: 0.2 },
  output: { field: 'intent' },
  training: { epochs: 6, batchSize: 8, learningRate: 0.02, seed: 3, earlyStoppingPatience: null },
};

describe('a calibrated category model with two inputs on one field', () => {
  let model: FusionModel;
  const dir = path.join(work, 'model');

  it('trains both encoders from one field, fits a temperature and an out-of-scope threshold on validation data', async () => {
    model = FusionModel.create(CONFIG);
    expect(model.inputs).toEqual([{ field: 'text', modality: 'text', encoder: 'text/ngram', input: { kind: 'text', maxBytes: 1048576 }, inputs: ['text', 'words'] }]);
    expect(manifestFields(model.config, { withTarget: true, inputs: model.inputs })).toEqual({ text: 'string', intent: 'label' });
    const lines: string[] = [];
    const history = await model.fit(samples(0, 7), { validation: samples(7, 3), progress: 'none', log: (l) => lines.push(l) });
    const c = model.calibration;
    expect(c?.method).toBe('temperature');
    expect(c?.temperature).toBeGreaterThan(0);
    expect(c?.thresholdSource).toBe('validation');
    expect(c?.validation?.n).toBe(9);
    expect(history.calibration).toEqual(c);
    expect(lines.some((l) => l.startsWith('calibration: temperature'))).toBe(true);
    // At most 1% of the correct validation answers fall below the threshold: with 9 samples, none.
    expect(c?.validation?.rejectedCorrect).toBe(0);
    const p = await model.predict({ text: 'my card was stolen yesterday' });
    expect(p.modalitiesUsed).toEqual(['text', 'words']);
    expect(Object.keys(p.contributions ?? {})).toEqual(['text', 'words']);
    expect(typeof p.outOfScope).toBe('boolean');
    expect(p.outOfScope).toBe((p.probabilities?.[p.label as string] as number) < (c?.outOfScopeThreshold as number));
    // The probabilities are softmax(logits / T): the argmax (so accuracy) is that of the raw logits.
    const sum = Object.values(p.probabilities ?? {}).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 6);
  });

  it('a threshold given at prediction overrides the model\'s; null turns it off', async () => {
    const [all, none, off] = await Promise.all([
      model.predict({ text: 'refund please' }, { outOfScopeThreshold: 1 }),
      model.predict({ text: 'refund please' }, { outOfScopeThreshold: 0 }),
      model.predict({ text: 'refund please' }, { outOfScopeThreshold: null }),
    ]);
    expect(all.outOfScope).toBe(true);
    expect(none.outOfScope).toBe(false);
    expect(off.outOfScope).toBeUndefined();
    await expect(model.predict({ text: 'x' }, { outOfScopeThreshold: 2 })).rejects.toThrow(/outOfScopeThreshold: must be a probability in \[0, 1\] or null, got 2/);
    const batch = await model.predictBatch([{ text: 'what is the weather on mars' }, { text: 42 }], { outOfScopeThreshold: 1 });
    expect(batch[0]?.ok && batch[0].value.outOfScope).toBe(true);
    expect(batch[1]?.ok).toBe(false);
    const report = await model.evaluate(samples(7, 3), { ablation: false });
    // The ECE of the validation samples with and without the temperature is what the fit logged.
    expect(report.ece).toBeCloseTo(model.calibration?.validation?.eceAfter as number, 6);
    expect(report.eceUncalibrated).toBeCloseTo(model.calibration?.validation?.eceBefore as number, 6);
    expect(report.outOfScope).toBeCloseTo(model.calibration?.validation?.rejected as number, 6);
  });

  it('saves the calibration as format version 2 and loads it back with identical predictions', async () => {
    await model.save(dir);
    const file = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(file.version).toBe(2);
    expect(file.calibration).toEqual(model.calibration);
    const loaded = await FusionModel.load(dir);
    expect(loaded.calibration).toEqual(model.calibration);
    const probe = { text: 'when do you close on sunday' };
    const [a, b] = [await model.predict(probe), await loaded.predict(probe)];
    expect(b.label).toBe(a.label);
    expect(b.outOfScope).toBe(a.outOfScope);
    for (const [l, v] of Object.entries(a.probabilities ?? {})) expect(b.probabilities?.[l]).toBeCloseTo(v, 6);
    const before = tf.memory().numTensors;
    await loaded.predictBatch([probe, probe]);
    expect(tf.memory().numTensors).toBe(before);
    loaded.dispose();
  });

  it('refuses a malformed saved calibration, and a calibration in a version 1 file', async () => {
    const { createHash } = await import('node:crypto');
    const rewrite = (name: string, edit: (j: Record<string, unknown>) => void): string => {
      const copy = path.join(work, name);
      rmSync(copy, { recursive: true, force: true });
      const j = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
      edit(j);
      const { integrity: _i, ...rest } = j;
      j.integrity = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
      cpSync(dir, copy, { recursive: true });
      writeFileSync(path.join(copy, 'model.json'), JSON.stringify(j));
      return copy;
    };
    await expect(FusionModel.load(rewrite('bad-temperature', (j) => { (j.calibration as Record<string, unknown>).temperature = -1; }))).rejects.toThrow(ModelFormatError);
    await expect(FusionModel.load(rewrite('v1-with-calibration', (j) => { j.version = 1; }))).rejects.toThrow(/format version 1 has a "calibration"/);
    model.dispose();
  });

  it('a format version 1 folder (saved before calibration) loads uncalibrated: raw softmax, no outOfScope', async () => {
    const fixture = path.resolve(import.meta.dirname, '../fixtures/fusion/v1-model');
    const m = await FusionModel.load(fixture);
    expect(m.calibration).toBeUndefined();
    const p = await m.predict({ a: [1, 0.9], b: [-1] });
    expect(p.outOfScope).toBeUndefined();
    // A threshold can still be given at prediction.
    expect((await m.predict({ a: [-1] }, { outOfScopeThreshold: 1 })).outOfScope).toBe(true);
    m.dispose();
  });

  it('config: a fixed threshold, calibration none, and the checks of field and output', async () => {
    const m = FusionModel.create({ ...CONFIG, inputs: { text: CONFIG.inputs.text! }, output: { field: 'intent', calibration: 'none', outOfScope: { threshold: 0.5 } }, training: { ...CONFIG.training, epochs: 2 } });
    await m.fit(samples(0, 7), { validation: samples(7, 3), progress: 'none' });
    expect(m.calibration).toMatchObject({ method: 'none', temperature: 1, outOfScopeThreshold: 0.5, thresholdSource: 'config' });
    m.dispose();
    const off = FusionModel.create({ ...CONFIG, inputs: { text: CONFIG.inputs.text! }, output: { field: 'intent', outOfScope: { threshold: null } }, training: { ...CONFIG.training, epochs: 1 } });
    await off.fit(samples(0, 7), { validation: samples(7, 3), progress: 'none' });
    expect(off.calibration?.outOfScopeThreshold).toBeNull();
    expect((await off.predict({ text: 'refund' })).outOfScope).toBeUndefined();
    off.dispose();
    expect(() => normalizeConfig({ inputs: { a: { type: 'text', encoder: { kind: 'ngram' } } }, output: { field: 'y', type: 'regression', calibration: 'temperature' } })).toThrow(/output\.calibration: applies to category outputs only, not regression/);
    expect(() => normalizeConfig({ inputs: { a: { type: 'text', encoder: { kind: 'ngram' } } }, output: { field: 'y', outOfScope: { threshold: 1.5 } } })).toThrow(ConfigError);
    expect(() => normalizeConfig({ inputs: { a: { type: 'text', field: 'y', encoder: { kind: 'ngram' } } }, output: { field: 'y' } })).toThrow(/inputs\.a\.field: "y" is the target field/);
    expect(() => FusionModel.create({ inputs: { a: { type: 'text', encoder: { kind: 'ngram' } }, b: { type: 'vec', field: 'a', encoder: { kind: 'linear' } } }, output: { field: 'y' } })).toThrow(/inputs\.b\.field: reads field "a" as json, but input "a" reads it as text/);
    // The field is kept only when it differs from the input's name.
    expect(normalizeConfig({ inputs: { a: { type: 'text', field: 'a', encoder: { kind: 'ngram' } } }, output: { field: 'y' } }).inputs.a).toEqual({ type: 'text', encoder: { kind: 'ngram' } });
    expect(normalizeConfig({ inputs: { a: { type: 'text', encoder: { kind: 'ngram' } } }, output: { field: 'y' } }).output).toEqual({ field: 'y', type: 'category' });
  });
});

describe('the energy+nearest out-of-scope score (outputs/scope.ts)', () => {
  it('energy is T · logsumexp(logits / T), stable for large logits; percentiles count values ≤ x', () => {
    const row = [2, -1, 0.5];
    expect(energyOf(row, 1)).toBeCloseTo(Math.log(Math.exp(2) + Math.exp(-1) + Math.exp(0.5)), 12);
    expect(energyOf(row, 0.5)).toBeCloseTo(0.5 * Math.log(Math.exp(4) + Math.exp(-2) + Math.exp(1)), 12);
    expect(energyOf([1000, 1000], 1)).toBeCloseTo(1000 + Math.log(2), 9);
    expect(percentileOf([], 3)).toBe(0);
    expect(percentileOf([1, 2, 2, 3], 0.5)).toBe(0);
    expect(percentileOf([1, 2, 2, 3], 2)).toBe(0.75);
    expect(percentileOf([1, 2, 2, 3], 9)).toBe(1);
  });

  it('fitCalibration: the reference comes from the in-scope samples only, the threshold from their correct answers', () => {
    // Class 2 is an out-of-scope label. Rows: [logits], truth, nearest similarity.
    const rows = [[5, 0, 0], [4, 0, 0], [0, 3, 0], [0, 6, 0], [0, 0, 9], [1, 0, 0]];
    const truth = [0, 0, 1, 1, 2, 1];
    const nearest = [0.9, 0.8, 0.7, 0.95, 0.1, 0.2];
    const c = fitCalibration(rows, truth, { calibration: 'none', threshold: 'auto', maxRejectedCorrect: 0.25, score: 'energy+nearest' }, [2], nearest);
    expect(c.score?.kind).toBe('energy+nearest');
    // The out-of-scope row (truth 2) is not in the reference: five in-scope rows, sorted.
    expect(c.score!.nearest).toEqual([0.2, 0.7, 0.8, 0.9, 0.95]);
    expect(c.score!.energy).toEqual([0, 1, 2, 3, 5].map((k) => Number(energyOf(rows[k] as number[], 1).toPrecision(6))).sort((a, b) => a - b));
    // Correct in-scope answers: rows 0, 1, 2, 3 (row 5 is wrong); their scores, lowest first; 25% of 4 → the 2nd lowest.
    const scores = [0, 1, 2, 3].map((i) => scopeScore(c.score!, rows[i] as number[], nearest[i] as number, 1)).sort((a, b) => a - b);
    expect(c.outOfScopeThreshold).toBe(scores[1]);
    expect(c.validation?.rejectedCorrect).toBe(0.25);
    // Without the similarities the score cannot be fitted.
    expect(() => fitCalibration(rows, truth, { calibration: 'none', threshold: 'auto', maxRejectedCorrect: 0.25, score: 'energy+nearest' }, [2])).toThrow(/nearest similarity/);
  });
});
