import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { SkippedSample } from '@mmfuse/core';
import { FusionModel, learningRateAt } from '@mmfuse/fusion';
import type { EpochMetrics } from '@mmfuse/fusion';
import { prepareCalls, tinyConfig, xorSamples } from './helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'mmfuse-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const losses = (h: { epochs: EpochMetrics[] }) => h.epochs.map((e) => e.trainLoss);

describe('training loop', () => {
  it('the same seed gives the same metrics; another seed does not', async () => {
    const run = async (seed: number) => {
      const m = FusionModel.create(tinyConfig({ epochs: 3, dropout: 0.1, modalityDropout: 0.3, seed }));
      const h = await m.fit(xorSamples(48, 5), { progress: 'none' });
      m.dispose();
      return h;
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(losses(a)).toEqual(losses(b));
    expect(a.epochs.map((e) => e.trainAccuracy)).toEqual(b.epochs.map((e) => e.trainAccuracy));
    expect(losses(a)).not.toEqual(losses(c));
  });

  it('resumes after an interruption exactly where it stopped (mid-epoch), giving the uninterrupted run', async () => {
    const config = { ...tinyConfig({ epochs: 4, dropout: 0.1, modalityDropout: 0.2 }), training: { ...tinyConfig().training, epochs: 4, validationSplit: 0.2 } };
    const data = xorSamples(60, 9);
    const full = FusionModel.create(config);
    const reference = await full.fit(data, { progress: 'none' });

    const dir = path.join(work, 'ckpt');
    const controller = new AbortController();
    const first = FusionModel.create(config);
    let epochsSeen = 0;
    const h1 = await first.fit(data, {
      progress: 'none', checkpointDir: dir, signal: controller.signal,
      onEpoch: () => { epochsSeen++; if (epochsSeen === 2) setTimeout(() => controller.abort(), 0); },
      log: () => undefined,
    });
    expect(h1.interrupted).toBe(true);
    expect(readdirSync(dir)).toEqual(['last']);
    first.dispose();

    const second = FusionModel.create(config);
    const h2 = await second.fit(data, { progress: 'none', checkpointDir: dir, resume: true, log: () => undefined });
    expect(h2.interrupted).toBe(false);
    expect(losses(h2)).toEqual(losses(reference));
    expect(h2.epochs.map((e) => e.valLoss)).toEqual(reference.epochs.map((e) => e.valLoss));
    const probe = [{ a: [1], b: [1] }, { a: [-1], b: [1] }];
    expect(await second.predictBatch(probe)).toEqual(await full.predictBatch(probe));
    // The checkpoint is itself a loadable model folder.
    const fromCkpt = await FusionModel.load(path.join(dir, 'last'));
    expect(fromCkpt.labels).toEqual(['diff', 'same']);
    fromCkpt.dispose(); second.dispose(); full.dispose();
  });

  it('a resumed run ends with the best epoch\'s weights when that epoch came before the interruption (best.bin)', async () => {
    const base = tinyConfig({ epochs: 8, seed: 3 });
    const config = { ...base, training: { ...base.training, learningRate: 3e-2 } };
    const data = xorSamples(48, 3);
    const validation = xorSamples(16, 4);
    const full = FusionModel.create(config);
    const reference = await full.fit(data, { validation, progress: 'none' });
    const best = reference.bestEpoch as number;
    expect(best).toBeLessThan(7); // the case under test: the weights the run ends with are from before epoch 7

    const dir = path.join(work, 'ckpt-best');
    const controller = new AbortController();
    const first = FusionModel.create(config);
    const h1 = await first.fit(data, { validation, progress: 'none', checkpointDir: dir, signal: controller.signal, log: () => undefined, callbacks: [{ onEpochEnd: (m) => { if (m.epoch === 7) controller.abort(); } }] });
    expect(h1.interrupted).toBe(true);
    expect(readdirSync(path.join(dir, 'last')).sort()).toEqual(['best.bin', 'metrics.json', 'model.json', 'optimizer.bin', 'trainer.json', 'weights.bin']);
    first.dispose();

    const lines: string[] = [];
    const second = FusionModel.create(config);
    await second.fit(data, { validation, progress: 'none', checkpointDir: dir, resume: true, log: (l) => lines.push(l) });
    expect(lines).toContain(`restored the weights of epoch ${best} (best validation loss ${reference.epochs[best - 1]?.valLoss?.toFixed(4)})`);
    const values = (m: FusionModel) => m.state.namedWeights().map(([, w]) => Array.from(w.dataSync()));
    expect(values(second)).toEqual(values(full));
    second.dispose(); full.dispose();
  });

  it('keeps tf.memory().numTensors stable over training steps and predictions', async () => {
    const m = FusionModel.create(tinyConfig({ epochs: 1, dropout: 0.1, modalityDropout: 0.3 }));
    const data = xorSamples(40, 4);
    await m.fit(data, { progress: 'none' });
    const before = tf.memory().numTensors;
    await m.fit(data, { progress: 'none', epochs: 2 });
    expect(tf.memory().numTensors).toBe(before);
    await m.predict({ a: [1], b: [1, 1] });
    const afterOne = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await m.predict({ a: [1], b: [1, 1] });
      await m.predictBatch([{ a: [1] }, { b: [2] }, { a: [0.5, 0.2], b: [1] }]);
      await m.evaluate(data.slice(0, 10));
    }
    expect(tf.memory().numTensors).toBe(afterOne);
    expect(afterOne).toBe(before);
    m.dispose();
  });

  it('skips bad samples through onSkip (naming sample and field) and trains on the rest', async () => {
    const data: { id: string; fields: Record<string, unknown> }[] = xorSamples(30, 6);
    data.push({ id: 'bad-a', fields: { a: [1, Number.NaN], b: [1], label: 'same' } });
    data.push({ id: 'no-label', fields: { a: [1], b: [1] } });
    data.push({ id: 'no-input', fields: { label: 'same' } });
    const skipped: SkippedSample[] = [];
    const m = FusionModel.create(tinyConfig({ epochs: 1 }));
    const h = await m.fit(data, { progress: 'none', onSkip: (s) => skipped.push(s) });
    expect(h.trainSamples).toBe(30);
    expect(skipped.map((s) => [s.sample, s.field])).toEqual([['bad-a', 'a'], ['no-label', 'label'], ['no-input', undefined]]);
    expect(skipped[0]?.message).toMatch(/sample "bad-a", field "a": item 1 is null, not a finite number|item 1/);
    const r = await m.evaluate([...xorSamples(5, 1), { id: 'x', fields: { a: [1], b: [1], label: 'unknown-label' } }]);
    expect(r.n).toBe(5);
    expect(r.skipped[0]?.reason).toMatch(/not among the training labels/);
    await expect(m.predict({ c: [1] })).rejects.toThrow(/none of the inputs "a", "b" is present/);
    m.dispose();
  });

  it('caches prepared inputs on disk: a second run does not prepare again', async () => {
    const cacheDir = path.join(work, 'cache');
    const data = xorSamples(20, 8);
    const m1 = FusionModel.create(tinyConfig({ epochs: 1 }));
    prepareCalls.count = 0;
    await m1.fit(data, { progress: 'none', cacheDir });
    expect(prepareCalls.count).toBe(40);
    const m2 = FusionModel.create(tinyConfig({ epochs: 1 }));
    prepareCalls.count = 0;
    const h2 = await m2.fit(data, { progress: 'none', cacheDir });
    expect(prepareCalls.count).toBe(0);
    expect(h2.trainSamples).toBe(20);
    m1.dispose(); m2.dispose();
  });

  it('stops early on the validation split and restores the best epoch', async () => {
    const cfg = tinyConfig({ epochs: 30 });
    const m = FusionModel.create({ ...cfg, training: { ...cfg.training, learningRate: 0.05, validationSplit: 0.3, earlyStoppingPatience: 2 } });
    const lines: string[] = [];
    const h = await m.fit(xorSamples(40, 10), { progress: 'lines', log: (l) => lines.push(l) });
    expect(h.validationSamples).toBe(12);
    expect(h.epochs.every((e) => e.valLoss !== undefined && e.valMacroF1 !== undefined)).toBe(true);
    if (h.stoppedEarly) {
      expect(h.epochs.length).toBeLessThan(30);
      const best = Math.min(...h.epochs.map((e) => e.valLoss as number));
      expect(h.epochs[(h.bestEpoch as number) - 1]?.valLoss).toBe(best);
    }
    expect(lines.some((l) => /^epoch 1\/30 loss \d/.test(l))).toBe(true);
    m.dispose();
  });

  it('resuming a run that stopped early trains no further and ends with the same (best) weights', async () => {
    const cfg = tinyConfig({ epochs: 30 });
    const config = { ...cfg, training: { ...cfg.training, learningRate: 0.05, validationSplit: 0.3, earlyStoppingPatience: 2 } };
    // Labels unrelated to the inputs: the validation loss soon rises, and training stops early.
    const data = xorSamples(40, 10).map((r, i) => ({ ...r, fields: { ...r.fields, label: (i * 7) % 3 === 0 ? 'same' : 'diff' } }));
    const dir = path.join(work, 'ckpt-early');
    const first = FusionModel.create(config);
    const h = await first.fit(data, { progress: 'none', checkpointDir: dir });
    expect(h.stoppedEarly).toBe(true);
    const lines: string[] = [];
    const second = FusionModel.create(config);
    const h2 = await second.fit(data, { progress: 'lines', checkpointDir: dir, resume: true, log: (l) => lines.push(l) });
    expect(lines[0]).toBe(`resuming from ${dir}: it had stopped early after epoch ${h.epochs.length} (step ${h.steps})`);
    expect(lines.some((l) => /^epoch \d+\/30 /.test(l))).toBe(false);
    expect(h2.epochs).toEqual(h.epochs);
    const values = (m: FusionModel) => m.state.namedWeights().map(([, w]) => Array.from(w.dataSync()));
    expect(values(second)).toEqual(values(first));
    first.dispose(); second.dispose();
  });

  it('averageEpochs without validation: the weights are the mean of the last N epochs of the same trajectory', async () => {
    const cfg = tinyConfig({ epochs: 6 });
    const data = xorSamples(24, 3);
    // The plain run's weights at every epoch end.
    const start = tf.memory().numTensors;
    const plain = FusionModel.create(cfg);
    const snapshots: Float32Array[][] = [];
    await plain.fit(data, { progress: 'none', callbacks: [{ onEpochEnd: () => { snapshots.push(plain.state.namedWeights().map(([, w]) => w.dataSync().slice() as Float32Array)); } }] });
    const held = tf.memory().numTensors - start; // what a trained model of this config holds
    const before = tf.memory().numTensors;
    const averaged = FusionModel.create({ ...cfg, training: { ...cfg.training, averageEpochs: 3 } });
    const lines: string[] = [];
    const h = await averaged.fit(data, { progress: 'none', log: (l) => lines.push(l) });
    expect(tf.memory().numTensors - before).toBe(held); // averaging leaves no tensor behind
    expect(h.averaged).toEqual({ from: 4, to: 6, kept: true });
    expect(lines).toContain('averaged the weights of epochs 4-6');
    const got = averaged.state.namedWeights().map(([, w]) => w.dataSync());
    let moved = 0;
    got.forEach((g, i) => {
      const last3 = snapshots.slice(3).map((s) => s[i] as Float32Array);
      for (let j = 0; j < g.length; j++) {
        const mean = ((last3[0]?.[j] ?? 0) + (last3[1]?.[j] ?? 0) + (last3[2]?.[j] ?? 0)) / 3;
        expect(Math.abs((g[j] as number) - mean)).toBeLessThan(1e-6);
        moved = Math.max(moved, Math.abs((g[j] as number) - ((snapshots[5]?.[i] as Float32Array)[j] as number)));
      }
    });
    expect(moved).toBeGreaterThan(1e-4); // the mean is not the last epoch's weights
    plain.dispose(); averaged.dispose();
    expect(tf.memory().numTensors).toBe(start);
    expect(() => FusionModel.create({ ...cfg, training: { ...cfg.training, averageEpochs: 0 } })).toThrow(/training\.averageEpochs/);
  });

  it('averageEpochs with validation: the window ends at the best epoch and is kept only when its validation loss is lower', async () => {
    const cfg = tinyConfig({ epochs: 12 });
    const m = FusionModel.create({ ...cfg, training: { ...cfg.training, learningRate: 0.05, validationSplit: 0.3, earlyStoppingPatience: 3, averageEpochs: 4 } });
    const snapshots: Float32Array[][] = [];
    const lines: string[] = [];
    const h = await m.fit(xorSamples(40, 10), { progress: 'none', log: (l) => lines.push(l), callbacks: [{ onEpochEnd: () => { snapshots.push(m.state.namedWeights().map(([, w]) => w.dataSync().slice() as Float32Array)); } }] });
    const a = h.averaged;
    expect(a).toBeDefined();
    if (a === undefined) return;
    const best = h.bestEpoch as number;
    expect(a.to).toBe(best);
    expect(a.from).toBe(Math.max(1, best - 3));
    expect(a.kept).toBe((a.validationLoss as number) < (h.epochs[best - 1]?.valLoss as number));
    expect(lines.some((l) => l.startsWith(`averaged the weights of epochs ${a.from}-${a.to} (validation loss`))).toBe(true);
    // The model holds the mean of the window when kept, else the best epoch's weights.
    const window = snapshots.slice(a.from - 1, a.to);
    m.state.namedWeights().forEach(([, w], i) => {
      const g = w.dataSync();
      for (let j = 0; j < g.length; j++) {
        const want = a.kept ? window.reduce((acc, s) => acc + ((s[i] as Float32Array)[j] as number), 0) / window.length : ((snapshots[best - 1]?.[i] as Float32Array)[j] as number);
        expect(Math.abs((g[j] as number) - want)).toBeLessThan(1e-6);
      }
    });
    m.dispose();
  });

  it('warmup then cosine schedule', () => {
    const s = { base: 1, warmupSteps: 4, totalSteps: 14, min: 0, schedule: 'cosine' as const };
    expect([0, 1, 2, 3].map((i) => learningRateAt(i, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRateAt(4, s)).toBe(1);
    expect(learningRateAt(9, s)).toBeCloseTo(0.5, 10);
    expect(learningRateAt(14, s)).toBeCloseTo(0, 10);
    expect(learningRateAt(9, { ...s, schedule: 'constant' })).toBe(1);
  });
});
