// An input may read another name's field (`inputs.<name>.field`, e.g. a `sentence` input reading `text`, as
// the bot and the Banking77 recipe do). Every path that prepares raw samples for a model must hand that input
// its source field's value. Distillation, compression's sample preparation and the per-epoch re-preparation
// of training inputs used to look the input up under its own name: the teacher answered without that input,
// so students learned from wrong soft targets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import { FusionModel, PrepareCache, distill, outputRows, prepareAll, prepareSet } from '@mmfuse/fusion';
import type { FusionModelConfig, Sample } from '@mmfuse/fusion';
import { writeBotData } from './compress-helpers.js';

let work: string;
let train: Sample[];
let teacher: FusionModel;

/** Text only, through one input named `words` that reads the samples' `text` field. */
function wordsConfig(epochs: number): FusionModelConfig {
  return {
    inputs: { words: { type: 'text', field: 'text', encoder: { kind: 'ngram', dim: 16, buckets: 512 } } },
    fusion: { strategy: 'late', dModel: 16, ffDim: 16, dropout: 0, modalityDropout: 0 },
    output: { field: 'label', type: 'category' },
    training: { epochs, batchSize: 16, learningRate: 0.02, warmupSteps: 0, seed: 3, validationSplit: 0, earlyStoppingPatience: null },
  };
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'mmfuse-source-field-'));
  train = writeBotData(work, 'tr', 32, 31, ['text']).map((s) => ({ ...s, fields: { text: s.fields.text, label: s.fields.label } }));
  teacher = FusionModel.create(wordsConfig(4));
  await teacher.fit(train, { progress: 'none', log: () => {} });
});

afterAll(() => {
  teacher?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('an input that reads another field (inputs.<name>.field)', () => {
  it('the teacher of a distillation reads it: every training sample gets soft targets', async () => {
    const student = FusionModel.create(wordsConfig(1));
    const result = await distill(teacher.state, student.state, train, { progress: 'none', log: () => {} });
    expect(result.teacherSkipped).toEqual([]);
    expect(result.taught).toBe(train.length);
    student.dispose();
  });

  it('compression steps prepare it: the values equal the ones predict prepares', async () => {
    const set = await prepareSet(teacher.state, train);
    expect(set.skipped).toEqual([]);
    expect(set.values).toHaveLength(train.length);
    const prepared = await teacher.prepareInputs(train.map((s) => ({ text: s.fields.text })));
    const rows = await outputRows(teacher.state, set.values);
    const expected = await outputRows(teacher.state, prepared.map((o) => (o.ok ? o.value.values : [])));
    expect(rows.map((r) => Array.from(r))).toEqual(expected.map((r) => Array.from(r)));
  });

  it('training refuses to go on when no sample\'s source field can be read, naming the field and the input', async () => {
    const m = FusionModel.create(wordsConfig(1));
    const bad = train.map((s) => ({ ...s, fields: { ...s.fields, text: 42 } }));
    await expect(m.fit(bad, { progress: 'none', log: () => {} })).rejects.toThrow(/field "text" \(input "words"\) could not be read in any of the 32 train samples that have it/);
    m.dispose();
  });

  it('augmentEachEpoch prepares it again from its source field', async () => {
    const m = FusionModel.create(wordsConfig(2));
    const lines: string[] = [];
    await m.fit(train, { progress: 'none', log: (l) => lines.push(l), augmentEachEpoch: ['words'] });
    expect(lines.filter((l) => /kept their unaugmented inputs/.test(l))).toEqual([]);
    m.dispose();
  });

  it('prepareAll refuses options without the source fields (a plain JavaScript caller)', async () => {
    const { sources: _dropped, ...rest } = teacher.state.prepareOptions(new PrepareCache());
    await expect(prepareAll(train, rest as never)).rejects.toThrow(ConfigError);
    await expect(prepareAll(train, rest as never)).rejects.toThrow(/sources: must list the field each of the 1 inputs reads, got undefined/);
  });
});
