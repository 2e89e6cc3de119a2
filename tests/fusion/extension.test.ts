// The training loop's extension points through the public API: a custom loss term (seeing the step's
// logits, encoder outputs with their `aux` tensors, and a forward pass with inputs hidden), distillation
// from a teacher's probabilities, and callbacks (order of hooks; stopping after an epoch or a step).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { FusionModel, distillationLoss, stopGradient } from '@mmfuse/fusion';
import type { LossContext, LossTerm, TrainingCallback } from '@mmfuse/fusion';
import { tinyConfig, xorSamples } from './helpers.js';

/** tinyConfig with encoders that return `aux.energy`. */
function auxConfig(epochs: number) {
  const cfg = tinyConfig({ epochs });
  return { ...cfg, training: { ...cfg.training, learningRate: 0.03 }, inputs: { a: { type: 'vec', encoder: { kind: 'linear', dim: 8, aux: true } }, b: { type: 'vec', encoder: { kind: 'linear', dim: 8, aux: true } } } };
}

/** Mean squared feature of encoder `a` on a probe batch (what the aux term below penalizes). */
function energyOf(model: FusionModel): number {
  const enc = model.state.encoders[0] as ModalityEncoder;
  const values = xorSamples(16, 99).map((s) => Float32Array.from(s.fields.a as number[]));
  return tf.tidy(() => enc.encode(enc.collate(values), { training: false }).features.square().mean().dataSync()[0] as number);
}

describe('loss terms', () => {
  it('adds a weighted term built from an encoder\'s aux output; the term trains the weights; no tensor leaks', async () => {
    const seen: { fields: string[]; auxShape: number[]; rows: number; hidden: number[]; subset: number[] }[] = [];
    const energy: LossTerm = {
      name: 'energy',
      weight: 5,
      compute(ctx: LossContext) {
        const a = ctx.encoded.a;
        if (a === undefined) return tf.scalar(0);
        if (seen.length < 3) {
          const hidden = ctx.forward({ hide: ['a'] });
          seen.push({ fields: Object.keys(ctx.encoded), auxShape: a.output.aux?.energy?.shape ?? [], rows: a.rows.length, hidden: hidden.shape, subset: ctx.forward({ rows: [0, 1], training: false }).shape });
          expect(() => ctx.forward({ hide: ['nope'] })).toThrow(ConfigError);
        }
        return (a.output.aux?.energy as tf.Tensor).mean() as tf.Scalar;
      },
    };
    const data = xorSamples(48, 5);
    const plain = FusionModel.create(auxConfig(6));
    await plain.fit(data, { progress: 'none' });
    const withTerm = FusionModel.create(auxConfig(6));
    const history = await withTerm.fit(data, { progress: 'none', lossTerms: [energy] });
    // The context: every input's encoder output with its aux tensor, and forward passes with inputs hidden.
    expect(seen[0]?.fields.sort()).toEqual(['a', 'b']);
    expect(seen[0]?.auxShape).toEqual([seen[0]?.rows, expect.any(Number)]);
    expect(seen[0]?.hidden).toEqual([16, 2]);
    expect(seen[0]?.subset).toEqual([2, 2]);
    // trainLoss is the head loss plus the weighted term; each component is reported.
    for (const e of history.epochs) {
      expect(Object.keys(e.losses ?? {})).toEqual(['head', 'energy']);
      expect(e.trainLoss).toBeCloseTo((e.losses?.head as number) + 5 * (e.losses?.energy as number), 4);
    }
    // The term moved the encoder: its features carry less energy than without it.
    expect(energyOf(withTerm)).toBeLessThan(0.75 * energyOf(plain));
    // No tensor is left behind by the term, the extra forward passes or the kept component values.
    const before = tf.memory().numTensors;
    await withTerm.fit(data, { progress: 'none', lossTerms: [energy], epochs: 1 });
    expect(tf.memory().numTensors).toBe(before);
    plain.dispose(); withTerm.dispose();
  });

  it('distils from a teacher\'s probabilities alone (head loss weight 0), and mixes them with hard labels', async () => {
    const train = xorSamples(192, 1);
    const truth = new Map(train.map((s) => [s.id, s.fields.label as string]));
    // The teacher knows the answer with 0.9 confidence; labels are in output order (diff, same).
    const teacher = distillationLoss({ teacher: (s) => (truth.get(s.id) === 'diff' ? [0.9, 0.1] : [0.1, 0.9]), temperature: 2 });
    const student = FusionModel.create(tinyConfig());
    const h = await student.fit(train, { progress: 'none', lossTerms: [teacher], headLossWeight: 0 });
    expect(h.epochs.every((e) => e.losses?.distill !== undefined)).toBe(true);
    const report = await student.evaluate(xorSamples(128, 2), { ablation: false });
    expect(report.accuracy).toBeGreaterThanOrEqual(0.9);
    // A teacher of the wrong width is refused with a ConfigError naming the sample.
    const bad = FusionModel.create(tinyConfig({ epochs: 1 }));
    await expect(bad.fit(train.slice(0, 16), { progress: 'none', lossTerms: [distillationLoss({ teacher: () => [1, 0, 0] })] })).rejects.toThrow(/teacher gave 3 probabilities for sample "s\d+"; the output has 2 labels/);
    await expect(bad.fit(train.slice(0, 16), { progress: 'none', lossTerms: [{ name: 'head', compute: () => tf.scalar(0) }] })).rejects.toThrow(ConfigError);
    student.dispose(); bad.dispose();
  });

  it('runs a consistency term between two forward passes with different inputs hidden (stopGradient on the target side)', async () => {
    // Pull b-only logits towards a-only logits on samples that have both.
    const consistency: LossTerm = {
      name: 'consistency',
      compute(ctx) {
        const rows = ctx.samples.flatMap((s, r) => (s.values[0] !== undefined && s.values[1] !== undefined ? [r] : []));
        if (rows.length === 0) return tf.scalar(0);
        const onlyB = ctx.forward({ hide: ['a'], rows });
        const onlyA = stopGradient(ctx.forward({ hide: ['b'], rows }));
        return onlyB.sub(onlyA).square().mean() as tf.Scalar;
      },
    };
    const m = FusionModel.create(tinyConfig({ epochs: 3 }));
    const h = await m.fit(xorSamples(48, 3), { progress: 'none', lossTerms: [consistency] });
    expect(h.epochs.map((e) => e.losses?.consistency).every((v) => v !== undefined && Number.isFinite(v) && v >= 0)).toBe(true);
    m.dispose();
  });
});

describe('callbacks', () => {
  it('are called in order, and one can stop the run after an epoch (best weights restored) or a step', async () => {
    const events: string[] = [];
    const rung: TrainingCallback = {
      onTrainStart: (run) => { events.push(`start ${run.epochs}x${run.stepsPerEpoch}`); },
      onEpochStart: (info) => { events.push(`epoch ${info.epoch}`); },
      onStep: (info) => { events.push(`step ${info.step}`); },
      onEpochEnd: (m, run) => { events.push(`end ${m.epoch}`); if (m.epoch === 2) run.stop('rung 1 of the search'); },
      onTrainEnd: (h) => { events.push(`done ${h.epochs.length} ${h.stopReason}`); },
    };
    const cfg = tinyConfig({ epochs: 10 });
    const m = FusionModel.create({ ...cfg, training: { ...cfg.training, validationSplit: 0.25 } });
    const lines: string[] = [];
    const h = await m.fit(xorSamples(40, 4), { progress: 'none', callbacks: [rung], log: (l) => lines.push(l) });
    expect(h.epochs).toHaveLength(2);
    expect(h).toMatchObject({ stopReason: 'rung 1 of the search', interrupted: false, stoppedEarly: false, steps: 4 });
    expect(events).toEqual(['start 10x2', 'epoch 1', 'step 1', 'step 2', 'end 1', 'epoch 2', 'step 3', 'step 4', 'end 2', 'done 2 rung 1 of the search']);
    expect(lines).toContain('stopped at epoch 2, step 4: rung 1 of the search');
    // As with early stopping, the weights of the best validation epoch are put back.
    expect(h.bestEpoch).toBeDefined();
    expect(lines.some((l) => l.startsWith(`restored the weights of epoch ${h.bestEpoch}`))).toBe(h.bestEpoch !== 2);
    // Stopped inside an epoch: the finished epochs count, the unfinished one does not.
    const midway: TrainingCallback = { onStep: (info, run) => { if (info.step === 3) run.stop('time budget'); } };
    const m2 = FusionModel.create(tinyConfig({ epochs: 10 }));
    const h2 = await m2.fit(xorSamples(40, 4), { progress: 'none', callbacks: [midway], log: () => undefined });
    expect(h2.epochs).toHaveLength(1);
    expect(h2).toMatchObject({ stopReason: 'time budget', steps: 3, interrupted: false });
    m.dispose(); m2.dispose();
  });
});
