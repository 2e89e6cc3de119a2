// An out-of-scope intent (config `output.outOfScope.labels`): the model learns off-topic requests as one
// more label, and a prediction of it is out of scope whatever its probability — in `predict` (tfjs and
// onnxruntime), through the saved model, and in the validation-chosen threshold, which is fitted on the
// in-scope answers only. A label no training sample has is refused before training, naming the key.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import { runMain } from './in-process.js';
import type { InProcessResult } from './in-process.js';

const INTENTS: Record<string, string[]> = {
  card_lost: ['i lost my card', 'my card was stolen', 'card missing', 'someone stole my card', 'lost card please block it', 'where did my card go i lost it', 'block my stolen card', 'my wallet and card are gone', 'i cannot find my card', 'report a lost card'],
  refund: ['i want a refund', 'give me my money back', 'refund my order', 'how do i get a refund', 'money back please', 'refund for the broken item', 'i was charged twice refund', 'request a refund now', 'where is my refund', 'refund status'],
  off_topic: ['tell me a joke', 'what is the weather tomorrow', 'who won the football game', 'sing me a song', 'what is the capital of france', 'help with my homework', 'recommend a movie', 'how tall is everest', 'write a poem', 'play some music'],
};
const jsonl = (from: number, to: number): string => Object.entries(INTENTS).flatMap(([label, texts]) => texts.slice(from, to).map((text) => JSON.stringify({ text, label }))).join('\n') + '\n';
const yaml = (labels: string): string => [
  'inputs:',
  '  text: { type: text, encoder: { kind: ngram, dim: 16, buckets: 500 } }',
  'fusion: { strategy: late, dModel: 16 }',
  `output: { field: label, type: category, outOfScope: { threshold: auto, labels: ${labels} } }`,
  'data: { train: train.jsonl, validation: valid.jsonl }',
  'training: { epochs: 12, batchSize: 8, learningRate: 0.02, seed: 3, earlyStoppingPatience: null }',
].join('\n') + '\n';

let dir: string;
let trained: any;

const cli = (argv: string[]): Promise<InProcessResult> => runMain(argv, dir);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-oos-labels-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(0, 7));
  writeFileSync(path.join(dir, 'valid.jsonl'), jsonl(7, 10));
  writeFileSync(path.join(dir, 'model.yaml'), yaml('[off_topic]'));
  const r = await cli(['train', 'model.yaml', '--out', 'model', '--json']);
  if (r.code !== 0) throw new Error(`train failed (${r.code}): ${r.stderr}`);
  trained = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an out-of-scope label', () => {
  it('is saved with the calibration, and the threshold is chosen on the in-scope validation answers', () => {
    expect(trained.calibration.outOfScopeLabels).toEqual(['off_topic']);
    const saved = JSON.parse(readFileSync(path.join(dir, 'model', 'model.json'), 'utf8'));
    expect(saved.calibration.outOfScopeLabels).toEqual(['off_topic']);
    expect(typeof saved.calibration.outOfScopeThreshold).toBe('number');
  });

  it('a prediction of it is out of scope whatever its probability, in tfjs and in onnxruntime', async () => {
    for (const runtime of ['tfjs', 'onnx']) {
      if (runtime === 'onnx') expect((await cli(['export', '--model', 'model', '--format', 'onnx', '--out', 'model.onnx'])).code).toBe(0);
      const extra = runtime === 'onnx' ? ['--runtime', 'onnx'] : [];
      // Threshold 0: no probability is below it, so only the label can make a prediction out of scope.
      const lines = (await cli(['predict', '--model', runtime === 'onnx' ? 'model.onnx' : 'model', '--data', 'valid.jsonl', '--oos-threshold', '0', '--json', ...extra])).stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'label' in l);
      expect(lines).toHaveLength(9);
      for (const p of lines) expect(p.outOfScope).toBe(p.label === 'off_topic');
      // The off-topic validation requests are learned well enough that some are answered with the label.
      expect(lines.filter((p) => p.label === 'off_topic').length).toBeGreaterThan(0);
    }
  });

  it('FusionModel: the label survives save and load; a saved label that is not an output label is refused', async () => {
    const m = await FusionModel.load(path.join(dir, 'model'));
    expect(m.calibration?.outOfScopeLabels).toEqual(['off_topic']);
    const p = await m.predict({ text: 'tell me a joke' }, { outOfScopeThreshold: null });
    expect(p.outOfScope).toBe(p.label === 'off_topic');
    m.dispose();
    const copy = path.join(dir, 'stray');
    cpSync(path.join(dir, 'model'), copy, { recursive: true });
    const j = JSON.parse(readFileSync(path.join(copy, 'model.json'), 'utf8')) as Record<string, any>;
    j.calibration.outOfScopeLabels = ['weather'];
    const { integrity: _i, ...rest } = j;
    j.integrity = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    writeFileSync(path.join(copy, 'model.json'), JSON.stringify(j));
    await expect(FusionModel.load(copy)).rejects.toThrow(ModelFormatError);
    await expect(FusionModel.load(copy)).rejects.toThrow(/"weather"/);
  });

  it('holds from the first epoch: a checkpoint answers by the label before validation refits the threshold', async () => {
    const m = FusionModel.create({
      inputs: { text: { type: 'text', encoder: { kind: 'ngram', dim: 16, buckets: 500 } } },
      fusion: { strategy: 'late', dModel: 16 },
      output: { field: 'label', outOfScope: { labels: ['off_topic'] } },
      training: { epochs: 1, batchSize: 8, seed: 3 },
    });
    const rows = (from: number, to: number) => Object.entries(INTENTS).flatMap(([label, texts]) => texts.slice(from, to).map((text, i) => ({ id: `${label}${from + i}`, fields: { text, label } })));
    await m.fit(rows(0, 7), { validation: rows(7, 10), progress: 'none', log: () => undefined, checkpointDir: path.join(dir, 'checkpoints') });
    m.dispose();
    const last = await FusionModel.load(path.join(dir, 'checkpoints', 'last'));
    try {
      expect(last.calibration?.outOfScopeLabels).toEqual(['off_topic']);
      // No threshold yet (it is chosen on validation after the last epoch): only the label decides.
      expect(last.calibration?.outOfScopeThreshold).toBeNull();
      for (const text of ['tell me a joke', 'i lost my card', 'refund please', 'sing me a song']) {
        const p = await last.predict({ text });
        expect(p.outOfScope === true).toBe(p.label === 'off_topic');
      }
    } finally {
      last.dispose();
    }
  });

  it('a label that no training sample has is refused before training, naming the key', async () => {
    writeFileSync(path.join(dir, 'typo.yaml'), yaml('[off_topik]'));
    const r = await cli(['train', 'typo.yaml', '--out', 'typo', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/output\.outOfScope\.labels/);
    expect(r.stderr + r.stdout).toMatch(/"off_topik"/);
    expect(r.stderr + r.stdout).not.toMatch(/epoch 1/);
  });
});
