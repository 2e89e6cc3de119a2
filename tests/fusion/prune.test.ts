// Structured pruning: the pruned (smaller) model computes exactly what the original computes with the
// removed units' weights zeroed, for every fusion strategy and for the text/rnn (GRU and 2-layer LSTM) and
// audio/cnn encoders' units; the config and shapes shrink; it saves, loads and fine-tunes; an ensemble member by
// member, each by its own units. Magnitude pruning.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import { FusionModel, loadState, normalizeConfig, planStructuredPruning, prepareSet, pruneMagnitude, pruneStructured, runTraining, saveState, zeroPrunedUnits } from '@mmfuse/fusion';
import type { FusionState, Sample } from '@mmfuse/fusion';
import '@mmfuse/vision-cnn';
import { writeSamples } from '../cli/fixtures.js';
import { botConfig, logitsOf, maxAbsDiff, trainBot, writeBotData } from './compress-helpers.js';

let work: string;
let train: Sample[];
let test: Sample[];

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'mmfuse-prune-'));
  train = writeBotData(work, 'tr', 48, 11);
  test = writeBotData(work, 'te', 24, 12);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const params = (s: FusionState): number => s.namedWeights().reduce((a, [, v]) => a + v.size, 0);

describe.each([
  { strategy: 'transformer' as const, cell: 'gru' as const, textLayers: 1 },
  { strategy: 'cross-attention' as const, cell: 'lstm' as const, textLayers: 2 },
  { strategy: 'late' as const, cell: 'gru' as const, textLayers: 2 },
])('structured pruning, $strategy fusion, $textLayers-layer $cell text encoder', ({ strategy, cell, textLayers }) => {
  let model: FusionModel;
  let dir: string;

  beforeAll(async () => {
    model = await trainBot(botConfig({ strategy, cell, textLayers, epochs: 2 }), train);
    dir = path.join(work, `${strategy}-${cell}`);
    await model.save(dir);
  });

  afterAll(() => model?.dispose());

  it('gives a smaller model equal to the original with the removed units zeroed', async () => {
    const values = (await prepareSet(model.state, test)).values;
    const plan = planStructuredPruning(model.state, { ratio: 0.5, importance: 'norm' });
    expect(plan.skippedInputs).toEqual([]);
    const names = plan.groups.map((g) => g.name);
    if (strategy === 'late') expect(names).toContain('fusion.hidden');
    else expect(names.filter((n) => n.endsWith('.heads')).length).toBe(strategy === 'transformer' ? 2 : 4);
    expect(names).toContain('encoders.audio:conv1.channels');
    expect(names.filter((n) => n.startsWith('encoders.text:')).length).toBe(2 * textLayers);
    for (const g of plan.groups) expect(g.kept.length).toBe(Math.max(1, Math.round(g.size / 2)));

    const pruned = pruneStructured(model.state, plan);
    const masked = await loadState(dir);
    zeroPrunedUnits(masked, plan);
    const original = await logitsOf(model.state, values);
    const expected = await logitsOf(masked, values);
    const got = await logitsOf(pruned, values);
    expect(maxAbsDiff(original, expected)).toBeGreaterThan(1e-3); // the units removed did something
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);

    // The architecture itself is smaller.
    const fusionParams = (st: FusionState) => st.namedWeights().filter(([n]) => n.startsWith('fusion.strategy.')).reduce((acc, [, v]) => acc + v.size, 0);
    expect(fusionParams(pruned)).toBeLessThan(0.6 * fusionParams(model.state));
    expect(params(pruned)).toBeLessThan(params(model.state)); // the embedding tables are not pruned
    const sizes = new Map(model.state.namedWeights().map(([n, v]) => [n, v.size]));
    for (const [n, v] of pruned.namedWeights()) expect(v.size).toBeLessThanOrEqual(sizes.get(n)!);
    const cfg = pruned.config;
    expect(cfg.inputs.text!.encoder.hiddenSize).toBe(12);
    expect(cfg.inputs.audio!.encoder.channels).toEqual([3, 4]);
    if (strategy === 'late') expect(cfg.fusion.blockShapes).toEqual({ hidden: { ffDim: 24 } });
    else expect(Object.values(cfg.fusion.blockShapes!).every((b) => b.heads === 2 && b.ffDim === 24)).toBe(true);
    expect(normalizeConfig(cfg)).toEqual(cfg);

    // It saves and loads as any model (float32: version 1), with the same outputs.
    await saveState(pruned, path.join(work, `${strategy}-pruned`));
    const loaded = await loadState(path.join(work, `${strategy}-pruned`));
    expect(await logitsOf(loaded, values)).toEqual(got);
    expect(JSON.parse(readFileSync(path.join(work, `${strategy}-pruned`, 'model.json'), 'utf8')).version).toBe(1);
    for (const s of [pruned, masked, loaded]) s.dispose();
  });
});

describe('structured pruning of image/cnn channels (batch norm)', () => {
  it('gives the masked computation too', async () => {
    const dir = path.join(work, 'images');
    const rows = await writeSamples(dir, 'im', 16);
    const samples = rows.map((r) => ({ id: r.id, fields: { image: path.join(dir, r.image), text: r.text, label: r.label } }));
    const model = await trainBot({
      inputs: {
        image: { type: 'image', encoder: { kind: 'cnn', blocks: [6, 8], width: 16, height: 16 } },
        text: { type: 'text', encoder: { kind: 'rnn', embeddingDim: 8, hiddenSize: 8 } },
      },
      fusion: { dModel: 16, layers: 1, heads: 2, ffDim: 16, dropout: 0, modalityDropout: 0 },
      output: { field: 'label' },
      training: { epochs: 2, batchSize: 8, validationSplit: 0, earlyStoppingPatience: null },
    }, samples);
    const dirModel = path.join(work, 'image-model');
    await model.save(dirModel);
    const values = (await prepareSet(model.state, samples)).values;
    const plan = planStructuredPruning(model.state, { ratio: 0.5, importance: 'norm' });
    expect(plan.groups.map((g) => g.name)).toEqual(expect.arrayContaining(['encoders.image:block0.channels', 'encoders.image:block1.channels']));
    const pruned = pruneStructured(model.state, plan);
    expect(pruned.config.inputs.image!.encoder.blocks).toEqual([3, 4]);
    const masked = await loadState(dirModel);
    zeroPrunedUnits(masked, plan);
    expect(maxAbsDiff(await logitsOf(pruned, values), await logitsOf(masked, values))).toBeLessThan(1e-4);
    for (const s2 of [pruned, masked]) s2.dispose();
    model.dispose();
  });
});

describe('importance and fine-tuning', () => {
  let model: FusionModel;

  beforeAll(async () => {
    model = await trainBot(botConfig({ epochs: 3 }), train);
  });

  afterAll(() => model?.dispose());

  it('taylor importance: a unit that does nothing scores 0 and goes first', async () => {
    const data = await prepareSet(model.state, train);
    const named = new Map(model.state.namedWeights());
    // Silence feed-forward neuron 5 of block 0 and head 1 of block 1.
    tf.tidy(() => {
      const zeroCol = (name: string, cols: number[]) => {
        const v = named.get(name)!;
        const vals = (v.dataSync() as Float32Array).slice();
        const width = v.shape[v.rank - 1] as number;
        for (let i = 0; i < vals.length; i++) if (cols.includes(i % width)) vals[i] = 0;
        v.assign(tf.tensor(vals, v.shape));
      };
      zeroCol('fusion.strategy.block0.ff.linear1.kernel', [5]);
      zeroCol('fusion.strategy.block0.ff.linear1.bias', [5]);
      const hd = 8;
      const head = [0, 1, 2].flatMap((p) => Array.from({ length: hd }, (_, k) => p * 32 + hd + k));
      zeroCol('fusion.strategy.block1.attn.inKernel', head);
      zeroCol('fusion.strategy.block1.attn.inBias', head);
    });
    const plan = planStructuredPruning(model.state, { ratio: 0.25, data });
    expect(plan.importance).toBe('taylor');
    const ffn = plan.groups.find((g) => g.name === 'fusion.block0.ffn')!;
    expect(ffn.scores[5]).toBe(0);
    expect(ffn.kept).not.toContain(5);
    const heads = plan.groups.find((g) => g.name === 'fusion.block1.heads')!;
    expect(heads.scores[1]).toBe(0);
    expect(heads.kept).toEqual([0, 2, 3]);
    expect(() => planStructuredPruning(model.state, { ratio: 0.5, importance: 'taylor' })).toThrow(/taylor importance needs training data/);
    expect(() => planStructuredPruning(model.state, { ratio: 1 })).toThrow(ConfigError);
  });

  it('the pruned model fine-tunes with the fusion trainer and keeps no tensors behind', async () => {
    const plan = planStructuredPruning(model.state, { ratio: 0.5, importance: 'norm' });
    const pruned = pruneStructured(model.state, plan);
    const history = await runTraining(pruned, train, { epochs: 2, validation: test, progress: 'none', log: () => {} });
    expect(history.epochs.length).toBe(2);
    expect(history.epochs[1]!.valAccuracy).toBeGreaterThan(0.25);
    pruned.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) pruneStructured(model.state, plan).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('magnitude pruning zeroes the smallest values of kernels and tables; shapes and biases stay', async () => {
    const dir = path.join(work, 'magnitude-src');
    await model.save(dir);
    const state = await loadState(dir);
    const report = pruneMagnitude(state, { ratio: 0.5 });
    expect(report.weights.length).toBeGreaterThan(5);
    for (const w of report.weights) expect(w.zeros).toBeGreaterThanOrEqual(Math.floor(w.size / 2));
    expect(report.zeros / report.parameters).toBeGreaterThan(0.45);
    const before = new Map(model.state.namedWeights().map(([n, v]) => [n, v.shape.join('x')]));
    for (const [n, v] of state.namedWeights()) expect(v.shape.join('x')).toBe(before.get(n));
    const bias = state.namedWeights().find(([n]) => n === 'fusion.head.linear.bias')![1];
    expect(Array.from(bias.dataSync())).toEqual(Array.from(model.state.namedWeights().find(([n]) => n === 'fusion.head.linear.bias')![1].dataSync()));
    state.dispose();
  });
});

describe('structured pruning of an ensemble (training.ensemble)', () => {
  it('prunes each member by its own units to one shape, equals the masked ensemble, saves, loads and trains further', async () => {
    const config = botConfig({ strategy: 'late', epochs: 2 });
    const model = await trainBot({ ...config, training: { ...config.training, ensemble: 2 } }, train);
    const dir = path.join(work, 'ensemble');
    await model.save(dir);
    const values = (await prepareSet(model.state, test)).values;
    const start = tf.memory().numTensors;

    const plan = planStructuredPruning(model.state, { ratio: 0.5, importance: 'norm' });
    expect(model.state.members).toBe(2); // planning puts the members back
    expect(plan.members).toHaveLength(1);
    const other = plan.members![0]!;
    // The same groups and kept counts (one shape), each ranked on its own member's weights.
    expect(other.groups.map((g) => [g.name, g.kept.length])).toEqual(plan.groups.map((g) => [g.name, g.kept.length]));
    expect(other.groups.map((g) => g.scores)).not.toEqual(plan.groups.map((g) => g.scores));
    expect(plan.groups.map((g) => g.name)).toEqual(expect.arrayContaining(['fusion.hidden', 'encoders.audio:conv1.channels']));

    const pruned = pruneStructured(model.state, plan);
    expect(pruned.members).toBe(2);
    expect(pruned.otherMembers[0]!.config.fusion.blockShapes).toEqual(pruned.config.fusion.blockShapes);
    expect(pruned.config.inputs.audio!.encoder.channels).toEqual([3, 4]);
    expect(params(pruned)).toBeLessThan(params(model.state));
    // Exact: the pruned ensemble answers as the original one with every member's removed units zeroed.
    const masked = await loadState(dir);
    zeroPrunedUnits(masked, plan);
    const expected = await logitsOf(masked, values);
    expect(maxAbsDiff(await logitsOf(model.state, values), expected)).toBeGreaterThan(1e-3);
    const got = await logitsOf(pruned, values);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
    // A plan for another number of members is refused.
    expect(() => pruneStructured(model.state, { ...plan, members: [] })).toThrow(/the pruning plan is for one model, and this model is an ensemble of 2/);

    const prunedDir = path.join(work, 'ensemble-pruned');
    await saveState(pruned, prunedDir);
    const loaded = await loadState(prunedDir);
    expect(loaded.members).toBe(2);
    expect(maxAbsDiff(await logitsOf(loaded, values), got)).toBeLessThan(1e-6);

    // Training further (the fine-tune after pruning) continues every member from its own weights.
    const before = loaded.namedWeights().map(([n, v]) => [n, (v.dataSync() as Float32Array).slice()] as const);
    const lines: string[] = [];
    const history = await runTraining(loaded, train, { epochs: 1, validation: test, progress: 'none', log: (l) => lines.push(l) });
    expect(loaded.members).toBe(2);
    expect(history.ensemble?.members).toHaveLength(2);
    expect(lines).toContain('member 2/2: training further with seed 6');
    const after = new Map(loaded.namedWeights().map(([n, v]) => [n, v.dataSync() as Float32Array]));
    for (const prefix of ['fusion.', 'members.1.fusion.']) {
      const moved = before.filter(([n]) => n.startsWith(prefix)).some(([n, v]) => maxAbsDiff(Array.from(v), Array.from(after.get(n)!)) > 0);
      expect(moved).toBe(true);
    }
    for (const s of [pruned, masked, loaded]) s.dispose();
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });
});
