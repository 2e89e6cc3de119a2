// The relational hint (`relationalHintLoss`, `distill`'s `hint`): a student's encoding of one input learns which
// samples a teacher's frozen embedding input (here text/use) puts close together. The term's value against a
// direct computation, its gradient, its checks, and a student without the sentence encoder taught through it.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import { FusionModel, distill, relationalHintLoss } from '@mmfuse/fusion';
import type { FusionModelConfig, LossContext, Sample, TrainingSample } from '@mmfuse/fusion';
import '@mmfuse/text-rnn';

/** The smallest LossContext the term reads: input `text` encoded for some batch rows. */
function context(features: number[][][], mask: number[][], rows: number[], batch: number): { ctx: LossContext; f: tf.Tensor3D; m: tf.Tensor2D } {
  const f = tf.tensor3d(features);
  const m = tf.tensor2d(mask);
  const samples = Array.from({ length: batch }, (_, i) => ({ id: `s${i}`, index: i, line: i + 1, values: [], target: 0 }) as unknown as TrainingSample);
  const ctx = { state: { fields: ['text', 'audio'] }, samples, encoded: { text: { rows, output: { features: f, mask: m } } } } as unknown as LossContext;
  return { ctx, f, m };
}

const cosine = (a: number[], b: number[]): number => {
  const dot = a.reduce((s, v, i) => s + v * (b[i] as number), 0);
  return dot / Math.sqrt(a.reduce((s, v) => s + v * v, 0) * b.reduce((s, v) => s + v * v, 0));
};

describe('relationalHintLoss', () => {
  // A batch of 4 whose rows 0, 2, 3 have the text input (encoded rows 0, 1, 2); sample 3 has no reference vector.
  const features = [
    [[1, 0, 2], [3, 1, 0], [9, 9, 9]], // third step is padding
    [[0, 1, 1], [1, 1, 0], [2, 0, 1]],
    [[-1, 2, 0], [5, 5, 5], [7, 7, 7]], // one real step
  ];
  const mask = [[1, 1, 0], [1, 1, 1], [1, 0, 0]];
  const refs: Record<number, number[]> = { 0: [1, 0, 0, 1], 2: [0, 1, 1, 0.5] };

  it('is the mean squared difference of the pooled encodings\' cosines and the references\' cosines', () => {
    const { ctx, f, m } = context(features, mask, [0, 2, 3], 4);
    // rows [0, 2, 3] of the batch → encoded rows 0, 1, 2; sample 3 (encoded row 2) has no reference: left out.
    const refs3: Record<number, number[]> = { 0: refs[0]!, 2: refs[2]!, 1: [0, 0, 1, 1] };
    const term = relationalHintLoss({ input: 'text', target: (s) => refs3[s.index] });
    const value = tf.tidy(() => term.compute(ctx).dataSync()[0]!);
    const pooled = (r: number): number[] => {
      const steps = features[r]!.filter((_, t) => mask[r]![t] === 1);
      return [0, 1, 2].map((d) => steps.reduce((s, st) => s + (st[d] as number), 0) / steps.length);
    };
    const s = [pooled(0), pooled(1)]; // encoded rows 0 and 1 = batch rows 0 and 2
    const t = [refs[0]!, refs[2]!];
    let want = 0;
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) want += (cosine(s[a]!, s[b]!) - cosine(t[a]!, t[b]!)) ** 2;
    expect(value).toBeCloseTo(want / 4, 5);
    expect(value).toBeGreaterThan(0.01);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(() => { term.compute(ctx); });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([f, m]);
  });

  it('sends gradient to the real steps of the rows with a reference only; zero with fewer than two such rows', () => {
    const { ctx, f, m } = context(features, mask, [0, 2, 3], 4);
    const term = relationalHintLoss({ input: 'text', target: (s) => refs[s.index] });
    const g = tf.grad((x: tf.Tensor) => term.compute({ ...ctx, encoded: { text: { rows: [0, 2, 3], output: { features: x as tf.Tensor3D, mask: m } } } } as LossContext))(f);
    const gv = g.arraySync() as number[][][];
    expect(Math.max(...gv[0]![0]!.map(Math.abs))).toBeGreaterThan(1e-4);
    const zero = (v: number[]): boolean => v.every((x) => x === 0); // -0 too
    // Encoded rows: 0 = batch row 0 (a padding step), 1 = batch row 2, 2 = batch row 3 (no reference).
    expect(zero(gv[0]![2]!)).toBe(true); // padding
    expect(gv[1]!.some((v) => !zero(v))).toBe(true);
    expect(gv[2]!.every(zero)).toBe(true); // no reference
    const one = relationalHintLoss({ input: 'text', target: (s) => (s.index === 0 ? refs[0] : undefined) });
    expect(tf.tidy(() => one.compute(ctx).dataSync()[0])).toBe(0);
    expect(() => relationalHintLoss({ input: 'text', target: () => undefined }).compute({ ...ctx, state: { fields: ['audio'] } } as unknown as LossContext)).toThrow(/"text" is not an input/);
    const mixed = relationalHintLoss({ input: 'text', target: (s) => (s.index === 0 ? [1, 2] : [1, 2, 3]) });
    expect(() => tf.tidy(() => mixed.compute(ctx))).toThrow(ConfigError);
    tf.dispose([f, m, g]);
  });
});

describe('distill with a hint from the teacher\'s sentence encoder', () => {
  const rows: [string, string][] = [
    ['I lost my card', 'card_lost'], ['my card was stolen', 'card_lost'], ['cannot find my debit card', 'card_lost'], ['someone took my wallet and card', 'card_lost'],
    ['I want my money back', 'refund'], ['please refund the order', 'refund'], ['return this and pay me back', 'refund'], ['can I get a refund', 'refund'],
    ['where is my parcel', 'order_status'], ['has my order shipped', 'order_status'], ['when will the package arrive', 'order_status'], ['track my delivery', 'order_status'],
  ];
  const data: Sample[] = rows.map(([text, label], i) => ({ id: `r${i}`, fields: { text, label } }));
  const text = { type: 'text', encoder: { kind: 'ngram', dim: 16 } };
  const teacherConfig = {
    inputs: { text, sentence: { type: 'text', field: 'text', encoder: { kind: 'use' } } },
    fusion: { strategy: 'late', dModel: 16 },
    output: { field: 'label', type: 'category' },
    training: { epochs: 20, batchSize: 12, learningRate: 0.01, seed: 3 },
  } as FusionModelConfig;
  const studentConfig = { ...teacherConfig, inputs: { text }, training: { ...teacherConfig.training, epochs: 15 } } as FusionModelConfig;

  it('adds the hint term, which falls as the student trains; names a wrong input', async () => {
    const teacher = FusionModel.create(teacherConfig);
    await teacher.fit(data, { progress: 'none', log: () => {} });
    const student = FusionModel.create(studentConfig);
    try {
      const result = await distill(teacher.state, student.state, data, { hint: { input: 'text', from: 'sentence', weight: 5 }, progress: 'none', log: () => {} });
      const hints = result.history.epochs.map((e) => e.losses?.hint as number);
      expect(hints.every((h) => Number.isFinite(h) && h >= 0)).toBe(true);
      expect(hints.at(-1)!).toBeLessThan(hints[0]! / 2);
      const p = await student.predict({ text: 'my card is gone' });
      expect(p.modalitiesUsed).toEqual(['text']);
      const other = FusionModel.create(studentConfig);
      await expect(distill(teacher.state, other.state, data, { hint: { input: 'voice', from: 'sentence' }, progress: 'none', log: () => {} })).rejects.toThrow(/student has no input "voice"/);
      await expect(distill(teacher.state, other.state, data, { hint: { input: 'text', from: 'words' }, progress: 'none', log: () => {} })).rejects.toThrow(/no teacher has the input "words"/);
      await expect(distill(teacher.state, other.state, data, { hint: { input: 'text', from: 'sentence', weight: -1 }, progress: 'none', log: () => {} })).rejects.toMatchObject({ name: ConfigError.name, path: 'hint.weight' });
      // text/ngram prepares token ids, not a frozen embedding: it cannot be a hint's source.
      await expect(distill(teacher.state, other.state, data, { hint: { input: 'text', from: 'text' }, progress: 'none', log: () => {} })).rejects.toThrow(/does not prepare a frozen embedding/);
      other.dispose();
    } finally {
      teacher.dispose();
      student.dispose();
    }
  });
});
