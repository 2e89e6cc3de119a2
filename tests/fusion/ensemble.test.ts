// training.ensemble: N members, member k trained with seed + k on the same data, answering with the mean of
// their logits; saved and loaded as one model folder; one teacher for `distill`; int8 / float16 storage and
// magnitude pruning of every member; checkpoints and resume (each member its own). Structured pruning and further training of an ensemble:
// tests/fusion/prune.test.ts.
// ONNX export of an ensemble: tests/onnx/export.test.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { FusionModel, distill, energyOf, percentileOf, pruneMagnitude, quantizeState, teacherSoftTargets, toBatchInput } from '@mmfuse/fusion';
import type { FusionModelConfig, Prediction } from '@mmfuse/fusion';
import { tinyConfig, xorSamples } from './helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'mmfuse-ensemble-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const train = xorSamples(48, 3);
const validation = xorSamples(16, 4);
const requests = xorSamples(12, 5).map((s) => ({ a: s.fields.a, b: s.fields.b }));

function config(ensemble: number | undefined, seed = 7, extra: Partial<FusionModelConfig['output']> = {}): FusionModelConfig {
  const c = tinyConfig({ epochs: 4, dropout: 0.1, seed });
  return {
    ...c,
    output: { ...c.output, calibration: 'none', ...extra },
    training: { ...c.training, ...(ensemble === undefined ? {} : { ensemble }) },
  } as FusionModelConfig;
}

const weights = (m: FusionModel, prefix = ''): [string, Float32Array][] =>
  m.state.namedWeights().filter(([n]) => n.startsWith(prefix)).map(([n, w]) => [n.slice(prefix.length), w.dataSync() as Float32Array]);

/** An ensemble of 2 of the tiny config, trained. */
async function trainedPair(): Promise<FusionModel> {
  const m = FusionModel.create(config(2));
  await m.fit(train, { validation, progress: 'none' });
  return m;
}

/** Member 1's weights among `names` are exactly member 0's (those without a `members.` prefix) under `members.1.`. */
function expectMemberOneMirrors(names: string[]): void {
  const own = names.filter((n) => !n.startsWith('members.'));
  expect(own.length).toBeGreaterThan(0);
  expect(names.filter((n) => n.startsWith('members.1.')).sort()).toEqual(own.map((n) => `members.1.${n}`).sort());
}

async function probabilities(m: FusionModel): Promise<number[][]> {
  const prepared = (await m.prepareInputs(requests)).map((o) => { if (!o.ok) throw new Error('unprepared'); return o.value; });
  const predictions = await m.predictPrepared(prepared, { contributions: false });
  return predictions.map((p: Prediction) => m.labels.map((l) => (p.probabilities as Record<string, number>)[l] as number));
}

describe('training.ensemble', () => {
  it('member k is the model seed + k trains alone, and the ensemble answers with the mean of their logits', async () => {
    const start = tf.memory().numTensors;
    const singles: FusionModel[] = [];
    for (const seed of [7, 8, 9]) {
      const m = FusionModel.create(config(undefined, seed));
      await m.fit(train, { validation, progress: 'none' });
      singles.push(m);
    }
    const lines: string[] = [];
    const ensemble = FusionModel.create(config(3));
    const h = await ensemble.fit(train, { validation, progress: 'none', log: (l) => lines.push(l) });

    // Bit for bit: member 0 under the usual names, members 1 and 2 under members.<k>.
    expect(weights(ensemble).filter(([n]) => !n.startsWith('members.'))).toEqual(weights(singles[0] as FusionModel));
    expect(weights(ensemble, 'members.1.')).toEqual(weights(singles[1] as FusionModel));
    expect(weights(ensemble, 'members.2.')).toEqual(weights(singles[2] as FusionModel));
    expect(h.ensemble?.members.map((s) => s.seed)).toEqual([7, 8, 9]);
    expect(h.ensemble?.members.map((s) => s.epochs)).toEqual([4, 4, 4]);
    expect(h.ensemble?.validation?.accuracy).toBeGreaterThanOrEqual(0);
    expect(lines.some((l) => l.startsWith('member 2/3: training with seed 8'))).toBe(true);
    expect(lines.some((l) => /^ensemble of 3: validation loss \d/.test(l))).toBe(true);
    const summary = ensemble.summary();
    expect(summary.ensemble).toBe(3);
    expect(summary.parameters).toBe(3 * singles[0]!.summary().parameters);

    // softmax(mean of logits) = the normalized geometric mean of the members' probabilities (no calibration).
    const got = await probabilities(ensemble);
    const each = await Promise.all(singles.map((m) => probabilities(m)));
    got.forEach((row, r) => {
      const logMean = row.map((_, j) => each.reduce((a, p) => a + Math.log((p[r] as number[])[j] as number), 0) / each.length);
      const z = logMean.map((v) => Math.exp(v));
      const sum = z.reduce((a, v) => a + v, 0);
      row.forEach((p, j) => expect(Math.abs(p - (z[j] as number) / sum)).toBeLessThan(1e-5));
    });

    // One folder, loaded whole: the same answers; no tensor left behind by repeated predictions.
    const dir = path.join(work, 'ens3');
    await ensemble.save(dir);
    const loaded = await FusionModel.load(dir);
    expect(loaded.summary().ensemble).toBe(3);
    expect(loaded.config.training.ensemble).toBe(3);
    expect(await probabilities(loaded)).toEqual(got);
    const held = tf.memory().numTensors;
    await probabilities(loaded);
    expect(tf.memory().numTensors).toBe(held);
    for (const m of [...singles, ensemble, loaded]) m.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('calibration and the energy+nearest out-of-scope memory are fitted on the ensemble, and travel with it', async () => {
    const c = config(2, 7, { calibration: 'temperature', outOfScope: { threshold: 'auto', maxRejectedCorrect: 0.05, score: 'energy+nearest' } });
    const m = FusionModel.create(c);
    await m.fit(train, { validation, progress: 'none' });
    expect(m.calibration?.temperature).toBeGreaterThan(0);
    // The memory holds each member's unit-length fused vector side by side: 2 x dModel values per sample.
    expect(m.state.scopeMemory?.dim).toBe(2 * 16);
    const dir = path.join(work, 'ens2-oos');
    await m.save(dir);
    const loaded = await FusionModel.load(dir);
    expect(loaded.state.scopeMemory?.dim).toBe(32);
    const a = await m.predict(requests[0] as Record<string, unknown>);
    const b = await loaded.predict(requests[0] as Record<string, unknown>);
    expect(b.label).toBe(a.label);
    // The loaded model's score recomputed from its parts: the ensemble's logits, its fused vector (unit length:
    // the members' unit vectors side by side over sqrt(2)), the float16 memory and the saved reference.
    const state = loaded.state;
    const cal = loaded.calibration!;
    const memory = state.scopeMemory!;
    const prepared = (await loaded.prepareInputs([requests[0] as Record<string, unknown>])).map((o) => { if (!o.ok) throw o.error; return o.value.values; });
    const { logits, fused } = tf.tidy(() => {
      const out = state.requireNetwork().forwardWithEncoders(toBatchInput(prepared, state.fields.length), { training: false });
      return { logits: out.logits.arraySync()[0] as number[], fused: out.fused.arraySync()[0] as number[] };
    });
    expect(fused).toHaveLength(32);
    expect(Math.abs(Math.hypot(...fused) - 1)).toBeLessThan(1e-5);
    let nearest = -Infinity;
    for (let r = 0; r < memory.rows; r++) nearest = Math.max(nearest, fused.reduce((acc, v, j) => acc + v * (memory.data[r * memory.dim + j] as number), 0));
    const want = (percentileOf(cal.score!.energy, energyOf(logits, cal.temperature)) + percentileOf(cal.score!.nearest, nearest)) / 2;
    expect(b.scopeScore).toBeCloseTo(want, 5);
    m.dispose(); loaded.dispose();
  });

  it('an aborted ensemble keeps the members that finished, and its saved config says how many', async () => {
    const controller = new AbortController();
    const m = FusionModel.create(config(3));
    const lines: string[] = [];
    const h = await m.fit(train, {
      validation, progress: 'none', signal: controller.signal, log: (l) => lines.push(l),
      // Abort in member 3's second epoch.
      callbacks: [{ onEpochEnd: (e, run) => { if (run.state.config.training.seed === 9 && e.epoch === 2) controller.abort(); } }],
    });
    expect(h.interrupted).toBe(true);
    expect(m.summary().ensemble).toBe(2);
    expect(lines).toContain('member 3/3 was interrupted and is left out: the model is the ensemble of the 2 member(s) that finished');
    const dir = path.join(work, 'ens-aborted');
    await m.save(dir);
    const loaded = await FusionModel.load(dir);
    expect(loaded.config.training.ensemble).toBe(2);
    expect(await probabilities(loaded)).toEqual(await probabilities(m));
    m.dispose(); loaded.dispose();
  });

  it("a callback's stop ends the ensemble's training: the stopped member stays, no further one is trained", async () => {
    const m = FusionModel.create(config(3));
    const seeds: number[] = [];
    const h = await m.fit(train, {
      validation, progress: 'none', log: () => {},
      callbacks: [{ onEpochEnd: (e, run) => { seeds.push(run.state.config.training.seed); if (run.state.config.training.seed === 8 && e.epoch === 2) run.stop('budget spent'); } }],
    });
    expect(h.stopReason).toBe('budget spent');
    expect(h.interrupted).toBe(false);
    expect(m.summary().ensemble).toBe(2);
    expect(h.ensemble?.members.map((s) => [s.seed, s.epochs])).toEqual([[7, 4], [8, 2]]);
    expect(seeds).not.toContain(9);
    m.dispose();
  });

  it('a model.json that claims more members than its weights hold is refused before any member is built', async () => {
    const one = FusionModel.create(config(undefined));
    await one.fit(train, { progress: 'none' });
    const dir = path.join(work, 'claims-three');
    await one.save(dir);
    one.dispose();
    const j = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    j.config.training.ensemble = 3;
    const { integrity: _i, ...rest } = j;
    j.integrity = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
    const start = tf.memory().numTensors;
    await expect(FusionModel.load(dir)).rejects.toThrow(/its config describes 3 fusion networks of at least \d+ values .* but the file holds \d+/);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('teaches one student as one teacher: its soft targets are softmax(mean of the members\' logits / T)', async () => {
    const ensemble = FusionModel.create(config(3));
    await ensemble.fit(train, { validation, progress: 'none' });
    const start = tf.memory().numTensors;
    const samples = xorSamples(12, 5);
    // No calibration: the ensemble's probabilities are softmax(z) for its mean logits z, so softmax(z / T) is
    // p^(1/T) normalized.
    const p = await probabilities(ensemble);
    const t = await teacherSoftTargets(ensemble.state, samples, { temperature: 2 });
    expect(t.labels).toEqual(ensemble.labels);
    expect(t.skipped).toEqual([]);
    t.probabilities.forEach((row, r) => {
      const z = (p[r] as number[]).map((v) => Math.sqrt(v));
      const sum = z.reduce((a, v) => a + v, 0);
      (row as number[]).forEach((v, j) => expect(Math.abs(v - (z[j] as number) / sum)).toBeLessThan(1e-5));
    });
    // The student is one model of the members' config, trained on those targets.
    const student = FusionModel.create(config(undefined, 11));
    const result = await distill(ensemble.state, student.state, train, { validation, temperature: 2, alpha: 0.5, progress: 'none', log: () => {} });
    expect(result.taught).toBe(train.length);
    expect(result.history.epochs.length).toBe(4);
    expect(student.summary().ensemble).toBeUndefined();
    expect(student.summary().parameters * 3).toBe(ensemble.summary().parameters);
    student.dispose();
    expect(tf.memory().numTensors).toBe(start);
    ensemble.dispose();
  });

  it('int8 storage and magnitude pruning take an ensemble: every member alike, reloaded as quantized', async () => {
    const m = await trainedPair();
    const float = await probabilities(m);
    const floatDir = path.join(work, 'ens-float');
    await m.save(floatDir);
    const start = tf.memory().numTensors;
    const report = await quantizeState(m.state, { dtype: 'int8', minSize: 64 });
    const int8 = report.weights.filter((w) => w.dtype === 'int8').map((w) => w.name);
    // Member 1's weights are stored as member 0's are, each with its own scales.
    expectMemberOneMirrors(int8);
    expect(report.weights.length).toBe(m.state.namedWeights().length);
    const quantized = await probabilities(m);
    const moved = Math.max(...quantized.flatMap((row, r) => row.map((p, j) => Math.abs(p - ((float[r] as number[])[j] as number)))));
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(0.05);
    const dir = path.join(work, 'ens-int8');
    await m.save(dir);
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    for (const name of int8) expect(json.weights.find((w: { name: string }) => w.name === name)).toMatchObject({ dtype: 'int8' });
    expect(readFileSync(path.join(dir, 'weights.bin')).byteLength).toBeLessThan(readFileSync(path.join(floatDir, 'weights.bin')).byteLength);
    const loaded = await FusionModel.load(dir);
    expect(loaded.summary().ensemble).toBe(2);
    (await probabilities(loaded)).forEach((row, r) => row.forEach((p, j) => expect(Math.abs(p - ((quantized[r] as number[])[j] as number))).toBeLessThan(1e-6)));
    // Magnitude pruning zeroes the same share in every member's kernels.
    const pruned = pruneMagnitude(loaded.state, { ratio: 0.5, minSize: 64 });
    expectMemberOneMirrors(pruned.weights.map((w) => w.name));
    for (const w of pruned.weights) expect(w.zeros).toBeGreaterThanOrEqual(Math.floor(w.size / 2));
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(start);
    m.dispose();
  });

  it('a trained ensemble that fails while training further keeps every member, as it was, and no tensor', async () => {
    const m = await trainedPair();
    const before = await probabilities(m);
    const start = tf.memory().numTensors;
    const boom = { onEpochStart: () => { throw new Error('boom'); } };
    await expect(m.fit(train, { epochs: 1, progress: 'none', callbacks: [boom] })).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(start);
    expect(m.state.members).toBe(2);
    expect(await probabilities(m)).toEqual(before);
    m.dispose();
  });

  it('a trained ensemble interrupted while training further keeps every member', async () => {
    const m = await trainedPair();
    const abort = new AbortController();
    const lines: string[] = [];
    // Stop in member 2's first step: member 1 has trained further, member 2 keeps what it had.
    const stopper = { onStep: (_i: unknown, run: { member?: { index: number } }) => { if (run.member?.index === 2) abort.abort(); } };
    await m.fit(train, { epochs: 2, progress: 'none', signal: abort.signal, callbacks: [stopper], log: (l) => lines.push(l) });
    expect(m.state.members).toBe(2);
    expect(lines).toContain('member 2/2 was interrupted: it keeps the weights it had then, and the members after it were not trained further');
    m.dispose();
  });

  it('is checked in the config', () => {
    expect(() => FusionModel.create(config(0))).toThrow(/training\.ensemble/);
    expect(() => FusionModel.create(config(17))).toThrow(/training\.ensemble/);
  });

  it('resumes from checkpoints after an interruption inside member 3, giving the uninterrupted ensemble', async () => {
    const start = tf.memory().numTensors;
    // 8 epochs at a high rate: the validation loss turns up before the end, so members end with an earlier epoch's weights.
    const c = config(3);
    const cfg = { ...c, training: { ...c.training, epochs: 8, learningRate: 3e-2 } } as FusionModelConfig;
    const reference = FusionModel.create(cfg);
    const full = await reference.fit(train, { validation, progress: 'none' });
    const members = full.ensemble?.members ?? [];
    // Member 3 ends with the weights of an epoch before the one the interruption below falls in.
    const best3 = members[2]?.bestEpoch as number;
    expect(best3).toBeLessThan(7);

    const dir = path.join(work, 'ckpt-ensemble');
    const abort = new AbortController();
    const first = FusionModel.create(cfg);
    // Abort in member 3's 7th epoch, after its first step: the checkpoint is taken inside that epoch.
    const stopper = { onStep: (i: { epoch: number; batch: number }, run: { member?: { index: number } }) => { if (run.member?.index === 3 && i.epoch === 7 && i.batch === 1) abort.abort(); } };
    const h1 = await first.fit(train, { validation, progress: 'none', checkpointDir: dir, signal: abort.signal, callbacks: [stopper], log: () => undefined });
    expect(h1.interrupted).toBe(true);
    expect(first.state.members).toBe(2); // member 3 was left out of the model the interrupted run holds
    first.dispose();
    expect(readdirSync(dir).sort()).toEqual(['last', 'member-2', 'member-3']);
    // Its checkpoint: inside epoch 7, with the best epoch's weights beside the current ones.
    const member3 = JSON.parse(readFileSync(path.join(dir, 'member-3', 'last', 'trainer.json'), 'utf8')) as { state: { epoch: number; batch: number }; best?: { epoch: number } };
    expect([member3.state.epoch, member3.state.batch, member3.best?.epoch]).toEqual([6, 1, best3]);
    expect(existsSync(path.join(dir, 'member-3', 'last', 'best.bin'))).toBe(true);

    const lines: string[] = [];
    const second = FusionModel.create(cfg);
    const h2 = await second.fit(train, { validation, progress: 'none', checkpointDir: dir, resume: true, log: (l) => lines.push(l) });
    expect(h2.interrupted).toBe(false);
    expect(lines).toContain(`resuming from ${dir}: its 8 epochs were done (step 24)`);
    expect(lines).toContain(`member 2/3: resuming from ${path.join(dir, 'member-2')}: its 8 epochs were done (step 24)`);
    expect(lines).toContain(`member 3/3: resuming from ${path.join(dir, 'member-3')}: epoch 7, step 19`);
    expect(lines).toContain(`member 3/3: restored the weights of epoch ${best3} (best validation loss ${members[2]?.valLoss?.toFixed(4)})`);
    expect(second.state.members).toBe(3);
    // Bit for bit the uninterrupted ensemble: every member's weights (the best epoch's), calibration, answers.
    expect(weights(second)).toEqual(weights(reference));
    expect(h2.ensemble?.members).toEqual(members);
    expect(h2.calibration).toEqual(full.calibration);
    expect(await probabilities(second)).toEqual(await probabilities(reference));
    second.dispose(); reference.dispose();

    // A run that does not resume starts the folder afresh: the members' checkpoints of the earlier run go.
    const single = FusionModel.create(config(undefined));
    await single.fit(train, { progress: 'none', checkpointDir: dir, epochs: 1 });
    expect(readdirSync(dir)).toEqual(['last']);
    single.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('a trained ensemble trained further resumes from its checkpoints too, giving the uninterrupted fine-tune', async () => {
    const start = tf.memory().numTensors;
    const reference = await trainedPair();
    await reference.fit(train, { validation, epochs: 3, progress: 'none' });

    const m = await trainedPair();
    const dir = path.join(work, 'ckpt-further');
    const abort = new AbortController();
    const stopper = { onStep: (i: { epoch: number; batch: number }, run: { member?: { index: number } }) => { if (run.member?.index === 2 && i.epoch === 2 && i.batch === 2) abort.abort(); } };
    const h1 = await m.fit(train, { validation, epochs: 3, progress: 'none', checkpointDir: dir, signal: abort.signal, callbacks: [stopper], log: () => undefined });
    expect(h1.interrupted).toBe(true);
    expect(m.state.members).toBe(2);
    const lines: string[] = [];
    await m.fit(train, { validation, epochs: 3, progress: 'none', checkpointDir: dir, resume: true, log: (l) => lines.push(l) });
    expect(lines).toContain(`resuming from ${dir}: its 3 epochs were done (step 9)`);
    expect(lines).toContain(`member 2/2: resuming from ${path.join(dir, 'member-2')}: epoch 2, step 5`);
    expect(weights(m)).toEqual(weights(reference));
    expect(await probabilities(m)).toEqual(await probabilities(reference));
    m.dispose(); reference.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses a checkpoint folder whose member folder holds something not mmfuse\'s, and leaves it untouched', async () => {
    const dir = path.join(work, 'ckpt-foreign');
    mkdirSync(path.join(dir, 'member-2'), { recursive: true });
    writeFileSync(path.join(dir, 'member-2', 'notes.txt'), 'mine');
    const m = FusionModel.create(config(2));
    await expect(m.fit(train, { progress: 'none', checkpointDir: dir })).rejects.toThrow(/checkpoint folder/);
    expect(readFileSync(path.join(dir, 'member-2', 'notes.txt'), 'utf8')).toBe('mine');
    m.dispose();
  });
});
