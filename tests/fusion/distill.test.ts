// Knowledge distillation: a smaller student learns from a trained text + voice teacher's softened outputs,
// including a voice-only student (a subset of the teacher's inputs) and unlabeled samples the teacher labels.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import { FusionModel, checkStudent, distill, outputRows, teacherSoftTargets } from '@mmfuse/fusion';
import type { Sample } from '@mmfuse/fusion';
import type { SkippedSample } from '@mmfuse/core';
import { botConfig, trainBot, writeBotData } from './compress-helpers.js';

let work: string;
let train: Sample[];
let test: Sample[];
let teacher: FusionModel;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'mmfuse-distill-'));
  train = writeBotData(work, 'tr', 48, 21);
  test = writeBotData(work, 'te', 24, 22, ['voice']);
  teacher = await trainBot(botConfig({ epochs: 6 }), train);
});

afterAll(() => {
  teacher?.dispose();
  rmSync(work, { recursive: true, force: true });
});

/** A smaller voice-only config: one conv block fewer channels, narrower fusion. */
function voiceStudent(epochs: number) {
  const cfg = botConfig({ inputs: ['audio'], dModel: 16, epochs });
  (cfg.inputs.audio!.encoder as Record<string, unknown>).channels = [4, 4];
  return { ...cfg, fusion: { ...cfg.fusion, layers: 1, heads: 2, ffDim: 16 } };
}

describe('distillation', () => {
  it('a voice-only student learns from the text + voice teacher, with unlabeled clips the teacher labels', async () => {
    const student = FusionModel.create(voiceStudent(8));
    const unlabeled = writeBotData(work, 'un', 24, 23, ['voice', 'both']).map((s) => ({ ...s, fields: { text: s.fields.text, audio: s.fields.audio } }));
    const skipped: SkippedSample[] = [];
    const result = await distill(teacher.state, student.state, train, { unlabeled, temperature: 2, alpha: 0.7, progress: 'none', log: () => {}, onSkip: (s) => skipped.push(s) });
    expect(result.pseudoLabeled).toBe(24);
    expect(result.taught).toBe(48 + 24);
    expect(result.teacherSkipped).toEqual([]);
    // Text-only training samples have no input for this student: skipped and reported, the rest trains.
    expect(skipped.length).toBe(16);
    expect(skipped.every((s) => /none of the inputs "audio" is present/.test(s.reason))).toBe(true);
    expect(result.history.trainSamples).toBe(32 + 24);
    expect(result.history.epochs.at(-1)!.losses).toHaveProperty('distill');
    expect(student.inputs.map((i) => i.field)).toEqual(['audio']);
    expect(student.labels).toEqual(teacher.labels);
    const report = await student.evaluate(test, { ablation: false });
    expect(report.n).toBe(24);
    expect(report.accuracy).toBeGreaterThan(0.5); // four tones, chance 0.25
    const p = await student.predict({ audio: test[0]!.fields.audio });
    expect(p.modalitiesUsed).toEqual(['audio']);
    student.dispose();
  });

  it('without a validation set, holds training.validationSplit out of the labeled samples only: no sample the teacher labels is in it', async () => {
    const cfg = botConfig({ dModel: 16, epochs: 1 });
    const student = FusionModel.create({ ...cfg, training: { ...cfg.training, validationSplit: 0.25 } });
    const unlabeled = writeBotData(work, 'un2', 24, 24).map((s) => ({ ...s, fields: { text: s.fields.text, audio: s.fields.audio } }));
    const result = await distill(teacher.state, student.state, train, { unlabeled, progress: 'none', log: () => {} });
    // 12 of the 48 labeled samples validate; the 36 others and the 24 the teacher labeled train.
    expect(result.history.validationSamples).toBe(12);
    expect(result.history.trainSamples).toBe(36 + 24);
    expect(result.taught).toBe(36 + 24);
    student.dispose();
  });

  it('soft targets alone (alpha 1) pull the student toward the teacher\'s answers', async () => {
    const student = FusionModel.create(voiceStudent(8));
    await distill(teacher.state, student.state, train, { alpha: 1, temperature: 1, progress: 'none', log: () => {} });
    const voiceOf = test.map((s) => ({ audio: s.fields.audio }));
    const t = await teacher.predictBatch(voiceOf, { contributions: false });
    const s = await student.predictBatch(voiceOf, { contributions: false });
    const agree = t.filter((o, i) => o.ok && s[i]!.ok && o.value.label === (s[i] as { value: { label: unknown } }).value.label).length / t.length;
    expect(agree).toBeGreaterThan(0.5);
    student.dispose();
  });

  it('an ensemble teaches with the mean of its softened outputs', async () => {
    const second = await trainBot({ ...botConfig({ epochs: 6 }), training: { ...botConfig({ epochs: 6 }).training, seed: 11 } }, train);
    try {
      // Independently: each teacher's head outputs on what predict prepares, softened, mapped by label name, averaged.
      const requests = test.map((s) => ({ ...s.fields }));
      const expected = await Promise.all([teacher, second].map(async (t) => {
        const prepared = (await t.prepareInputs(requests)).map((o) => (o.ok ? o.value.values : []));
        return (await outputRows(t.state, prepared)).map((row) => {
          const z = Array.from(row, (v) => v / 2);
          const max = Math.max(...z);
          const e = z.map((v) => Math.exp(v - max));
          const sum = e.reduce((a, b) => a + b, 0);
          return Object.fromEntries(t.labels.map((l, i) => [l, (e[i] as number) / sum]));
        });
      }));
      const got = await teacherSoftTargets([teacher.state, second.state], test, { temperature: 2 });
      const tensors = tf.memory().numTensors;
      await teacherSoftTargets([teacher.state, second.state], test, { temperature: 2 });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(got.skipped).toEqual([]);
      expect(got.labels).toEqual(teacher.labels);
      got.probabilities.forEach((p, i) => {
        expect(p).toBeDefined();
        p!.forEach((v, c) => expect(v).toBeCloseTo(((expected[0]![i]![got.labels[c]!] as number) + (expected[1]![i]![got.labels[c]!] as number)) / 2, 6));
      });
      // The two teachers disagree somewhere, so the mean is not either one's.
      expect(got.probabilities.some((p, i) => Math.abs(p![0]! - (expected[0]![i]![got.labels[0]!] as number)) > 1e-3)).toBe(true);

      const student = FusionModel.create(voiceStudent(2));
      const result = await distill([teacher.state, second.state], student.state, train, { progress: 'none', log: () => {} });
      expect(result.taught).toBe(48);
      expect(result.history.epochs.at(-1)!.losses).toHaveProperty('distill');
      student.dispose();
      // Teachers that know different labels cannot be averaged.
      const firstLabel = teacher.labels[0];
      const fewer = await trainBot(botConfig({ epochs: 1 }), train.filter((x) => x.fields.label !== firstLabel));
      await expect(teacherSoftTargets([teacher.state, fewer.state], test)).rejects.toThrow(/teacher 2 knows the labels .*an ensemble's teachers must know the same labels/);
      fewer.dispose();
      const none = FusionModel.create(voiceStudent(1));
      await expect(distill([], none.state, train)).rejects.toThrow(/teacher: needs at least one teacher/);
      none.dispose();
    } finally {
      second.dispose();
    }
  });

  it('refuses students that cannot learn from the teacher', async () => {
    const other = (edit: (c: ReturnType<typeof voiceStudent>) => unknown) => {
      const cfg = voiceStudent(1);
      const m = FusionModel.create(edit(cfg) as ReturnType<typeof voiceStudent>);
      try { checkStudent(teacher.state, m.state); } finally { m.dispose(); }
    };
    expect(() => other((c) => ({ ...c, inputs: { speech: c.inputs.audio } }))).toThrow(/the teacher has no input "speech"/);
    expect(() => other((c) => ({ ...c, output: { field: 'intent', type: 'category' } }))).toThrow(ConfigError);
    expect(() => other((c) => ({ ...c, output: { field: 'label', type: 'multi-label' } }))).toThrow(/must be the teacher's output/);
    const untrained = FusionModel.create(botConfig());
    const s = FusionModel.create(voiceStudent(1));
    expect(() => checkStudent(untrained.state, s.state)).toThrow(/no weights yet/);
    untrained.dispose();
    s.dispose();
    const bad = FusionModel.create(voiceStudent(1));
    await expect(distill(teacher.state, bad.state, train, { alpha: 2 })).rejects.toThrow(/alpha: must be a number in \[0, 1\], got 2/);
    await expect(distill(teacher.state, bad.state, train, { temperature: 0 })).rejects.toThrow(/temperature/);
    bad.dispose();
  });
});
