// The energy+nearest out-of-scope score (config `output.outOfScope.score`): after training the model keeps
// its in-scope training samples' fused vectors, fits the score's reference on the in-scope validation
// samples, and every runtime (tfjs, the saved folder, onnxruntime through the exported graph) answers with
// the same score, recomputed here from the model's own logits and fused vectors.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError } from '@mmfuse/core';
import { FusionModel, OnnxFusionModel, energyOf, percentileOf, toBatchInput } from '@mmfuse/fusion';
import { runMain } from './in-process.js';

const INTENTS: Record<string, string[]> = {
  card_lost: ['i lost my card', 'my card was stolen', 'card missing', 'someone stole my card', 'lost card please block it', 'where did my card go i lost it', 'block my stolen card', 'my wallet and card are gone', 'i cannot find my card', 'report a lost card'],
  refund: ['i want a refund', 'give me my money back', 'refund my order', 'how do i get a refund', 'money back please', 'refund for the broken item', 'i was charged twice refund', 'request a refund now', 'where is my refund', 'refund status'],
  transfer: ['send money to my friend', 'transfer funds to savings', 'how do i make a transfer', 'move money between accounts', 'wire money abroad', 'my transfer is pending', 'transfer limit', 'cancel a transfer', 'send a payment', 'international transfer fee'],
};
const jsonl = (from: number, to: number): string => Object.entries(INTENTS).flatMap(([label, texts]) => texts.slice(from, to).map((text) => JSON.stringify({ text, label }))).join('\n') + '\n';
const YAML = [
  'inputs:',
  '  text: { type: text, encoder: { kind: ngram, dim: 16, buckets: 500 } }',
  'fusion: { strategy: late, dModel: 16 }',
  'output: { field: label, type: category, outOfScope: { threshold: auto, maxRejectedCorrect: 0.2, score: energy+nearest } }',
  'data: { train: train.jsonl, validation: valid.jsonl }',
  'training: { epochs: 12, batchSize: 8, learningRate: 0.02, seed: 3, earlyStoppingPatience: null }',
].join('\n') + '\n';
const REQUESTS = ['i lost my card yesterday', 'refund please', 'what is the weather tomorrow', 'tell me a joke', 'send money to my mum'];

let dir: string;
let trainLog = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-oos-score-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(0, 7));
  writeFileSync(path.join(dir, 'valid.jsonl'), jsonl(7, 10));
  writeFileSync(path.join(dir, 'model.yaml'), YAML);
  const r = await runMain(['train', 'model.yaml', '--out', 'model', '--json'], dir);
  if (r.code !== 0) throw new Error(`train failed (${r.code}): ${r.stderr}`);
  trainLog = r.stderr;
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The score recomputed from the model's parts: logits, fused vectors, the memory and the saved reference. */
function expectedScores(model: FusionModel, values: unknown[][]): { scope: number[]; nearest: number[] } {
  const state = model.state;
  const c = model.calibration!;
  const memory = state.scopeMemory!;
  const { logits, fused } = tf.tidy(() => {
    const out = state.requireNetwork().forwardWithEncoders(toBatchInput(values, state.fields.length), { training: false });
    return { logits: out.logits.arraySync(), fused: out.fused.arraySync() };
  });
  const nearest = fused.map((f) => {
    const n = Math.hypot(...f);
    let best = -Infinity;
    for (let r = 0; r < memory.rows; r++) {
      let dot = 0;
      for (let j = 0; j < memory.dim; j++) dot += ((f[j] as number) / n) * (memory.data[r * memory.dim + j] as number);
      best = Math.max(best, dot);
    }
    return best;
  });
  const scope = logits.map((l, i) => (percentileOf(c.score!.energy, energyOf(l, c.temperature)) + percentileOf(c.score!.nearest, nearest[i] as number)) / 2);
  return { scope, nearest };
}

describe('the energy+nearest out-of-scope score', () => {
  it('keeps the in-scope training samples and a reference fitted on the validation samples', async () => {
    const model = await FusionModel.load(path.join(dir, 'model'));
    const c = model.calibration!;
    expect(c.score?.kind).toBe('energy+nearest');
    expect(c.score!.energy).toHaveLength(9);
    expect(c.score!.nearest).toHaveLength(9);
    expect(c.thresholdSource).toBe('validation');
    expect(trainLog).toMatch(/out of scope when the energy\+nearest score is below [01]\.\d{3} \(chosen on validation/);
    expect(model.state.scopeMemory?.rows).toBe(21);
    expect(model.state.scopeMemory?.dim).toBe(16);
    // Stored in float16: 21 × 16 × 2 bytes on top of the network's weights.
    const saved = JSON.parse(readFileSync(path.join(dir, 'model', 'model.json'), 'utf8'));
    expect(saved.weights.at(-1)).toMatchObject({ name: 'outOfScope.memory', dtype: 'float16', shape: [21, 16] });
    model.dispose();
  });

  it('predict answers with the score computed from the logits, the fused vector and the memory; a training request is its own nearest sample', async () => {
    const model = await FusionModel.load(path.join(dir, 'model'));
    const requests = [...REQUESTS, INTENTS.refund![0] as string];
    const prepared = await model.prepareInputs(requests.map((text) => ({ text })));
    const values = prepared.map((o) => { if (!o.ok) throw o.error; return o.value.values; });
    const want = expectedScores(model, values);
    const preds = await model.predictBatch(requests.map((text) => ({ text })), { contributions: false });
    preds.forEach((o, i) => {
      if (!o.ok) throw o.error;
      expect(o.value.scopeScore).toBeCloseTo(want.scope[i] as number, 6);
      expect(o.value.outOfScope).toBe((o.value.scopeScore as number) < (model.calibration!.outOfScopeThreshold as number));
    });
    // A training text's nearest sample is itself (float16 storage: within 1e-3), more similar than any validation request.
    expect(want.nearest.at(-1)).toBeGreaterThan(0.999);
    // A per-call threshold applies to the score too: 0 answers everything, 1 hands everything over.
    expect((await model.predict({ text: 'tell me a joke' }, { outOfScopeThreshold: 0 })).outOfScope).toBe(false);
    expect((await model.predict({ text: 'refund please' }, { outOfScopeThreshold: 1 })).outOfScope).toBe(true);
    model.dispose();
  });

  it('onnxruntime answers as tfjs: the graph computes the nearest similarity from the memory it carries', async () => {
    expect((await runMain(['export', '--model', 'model', '--format', 'onnx', '--out', 'model.onnx'], dir)).code).toBe(0);
    const model = await FusionModel.load(path.join(dir, 'model'));
    const onnx = await OnnxFusionModel.load(path.join(dir, 'model.onnx'));
    expect(onnx.metadata.nearest).toEqual({ name: 'nearest', samples: 21 });
    const prepared = await model.prepareInputs(REQUESTS.map((text) => ({ text })));
    const values = prepared.map((o) => { if (!o.ok) throw o.error; return o.value.values; });
    const want = expectedScores(model, values);
    const got = await onnx.outputRowsWithNearest(values);
    got.nearest!.forEach((n: number, i: number) => expect(Math.abs(n - (want.nearest[i] as number))).toBeLessThan(1e-4));
    const a = await model.predictBatch(REQUESTS.map((text) => ({ text })), { contributions: false });
    const b = await onnx.predictBatch(REQUESTS.map((text) => ({ text })), { contributions: false });
    a.forEach((o, i) => {
      const p = (o as { value: { scopeScore?: number; outOfScope?: boolean } }).value;
      const q = (b[i] as { value: { scopeScore?: number; outOfScope?: boolean } }).value;
      expect(q.scopeScore).toBeCloseTo(p.scopeScore as number, 6);
      expect(q.outOfScope).toBe(p.outOfScope);
    });
    // eval's out-of-scope share agrees across runtimes.
    const samples = Object.entries(INTENTS).flatMap(([label, texts]) => texts.slice(7).map((text) => ({ fields: { text, label } })));
    expect((await onnx.evaluate(samples, { ablation: false })).outOfScope).toBe((await model.evaluate(samples, { ablation: true })).outOfScope);
    onnx.dispose();
    model.dispose();
  });

  it('predictions do not leak tensors', async () => {
    const model = await FusionModel.load(path.join(dir, 'model'));
    await model.predict({ text: 'refund please' });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await model.predict({ text: `refund please ${i}` });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('a folder whose calibration has the score but no memory, or a malformed score, is refused with ModelFormatError', async () => {
    const copy = path.join(dir, 'broken');
    cpSync(path.join(dir, 'model'), copy, { recursive: true });
    const j = JSON.parse(readFileSync(path.join(copy, 'model.json'), 'utf8')) as Record<string, any>;
    const reseal = (): void => {
      const { integrity: _i, ...rest } = j;
      j.integrity = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
      writeFileSync(path.join(copy, 'model.json'), JSON.stringify(j));
    };
    const energy = j.calibration.score.energy;
    j.calibration.score.energy = [...energy].reverse();
    reseal();
    await expect(FusionModel.load(copy)).rejects.toThrow(ModelFormatError);
    await expect(FusionModel.load(copy)).rejects.toThrow(/score \(energy\+nearest with sorted/);
    j.calibration.score.energy = energy;
    // Drop the memory entry (the bytes after the network's weights stay; the size check names the mismatch).
    j.weights = j.weights.slice(0, -1);
    reseal();
    await expect(FusionModel.load(copy)).rejects.toThrow(ModelFormatError);
    expect(statSync(path.join(copy, 'weights.bin')).size).toBeGreaterThan(0);
  });

  it('compress: int8 keeps the memory; structured pruning refits it by fine-tuning, and without a fine-tune is refused', async () => {
    expect((await runMain(['compress', '--model', 'model', '--quantize', 'int8', '--out', 'int8'], dir)).code).toBe(0);
    const refused = await runMain(['compress', '--model', 'model', '--prune', '0.5', '--out', 'pruned-raw'], dir);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/energy\+nearest[\s\S]*--finetune-epochs/);
    const tuned = await runMain(['compress', '--model', 'model', '--prune', '0.5', '--data', 'train.jsonl', '--validation', 'valid.jsonl', '--finetune-epochs', '1', '--out', 'pruned'], dir);
    expect(tuned.code, tuned.stderr).toBe(0);
    for (const folder of ['int8', 'pruned']) {
      const m = await FusionModel.load(path.join(dir, folder));
      expect(m.state.scopeMemory?.rows).toBe(21);
      const p = await m.predict({ text: 'tell me a joke' });
      expect(p.scopeScore).toBeGreaterThanOrEqual(0);
      expect(p.scopeScore).toBeLessThanOrEqual(1);
      m.dispose();
    }
  }, 300_000);

  it('an unknown score name is refused by the config, naming the key', async () => {
    writeFileSync(path.join(dir, 'bad.yaml'), YAML.replace('score: energy+nearest', 'score: knn'));
    const r = await runMain(['train', 'bad.yaml', '--out', 'bad-model'], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/output\.outOfScope\.score/);
  });
});
