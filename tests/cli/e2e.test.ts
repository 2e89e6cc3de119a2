// The CLI as a user drives it: spawned `mmfuse` processes train a tiny model on generated data, evaluate
// it, predict from every subset of its modalities, inspect it, and refuse bad input with exit code 1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from 'mmfuse';
import { MODALITIES, subsets, writeProject } from './fixtures.js';
import type { Sample } from './fixtures.js';
import { lastJson, runCli, startCli } from './helpers.js';
import { SYSTEM, canRunWith } from '../system.js';

let dir: string;
let trained: any;
let samples: { train: Sample[]; valid: Sample[] };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-e2e-'));
  samples = await writeProject(dir);
  const r = await runCli(['train', 'model.yaml', '--out', 'model', '--epochs', '2', '--seed', '7', '--json'], { cwd: dir });
  if (r.code !== 0) throw new Error(`train failed (${r.code}): ${r.stderr}`);
  trained = lastJson(r);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same CLI in this process (for the variants; the main paths above run as spawned processes). */
async function inProcess(argv: string[], cwd = dir): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd });
  return { code, stdout, stderr };
}

function checkPrediction(p: any, used: string[]): void {
  expect(p.modalitiesUsed).toEqual(MODALITIES.filter((m) => used.includes(m)));
  expect(Object.keys(p.probabilities).sort()).toEqual(['no', 'yes']);
  const probs = Object.values(p.probabilities) as number[];
  expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  // The label is the most probable class.
  expect(p.probabilities[p.label]).toBe(Math.max(...probs));
  expect(Object.keys(p.contributions).sort()).toEqual([...used].sort());
  for (const v of Object.values(p.contributions) as number[]) expect(Number.isFinite(v)).toBe(true);
}

describe('mmfuse train / eval / predict / inspect (spawned)', () => {
  it('trains: writes the model folder, the JSON summary and a self-contained HTML report', () => {
    expect(trained.model).toBe(path.join(dir, 'model'));
    expect(trained.labels).toEqual(['no', 'yes']);
    expect(trained.trainSamples).toBe(16);
    expect(trained.epochs).toBe(2);
    expect(trained.history.map((h: any) => h.epoch)).toEqual([1, 2]);
    for (const h of trained.history) {
      expect(h.metrics.trainLoss).toBeGreaterThan(0);
      expect(h.metrics.valLoss).toBeGreaterThan(0);
    }
    for (const f of ['model.json', 'weights.bin', 'run.json']) expect(existsSync(path.join(dir, 'model', f)), f).toBe(true);
    const validation = trained.evaluations[0];
    expect(validation).toMatchObject({ set: 'validation', n: 6 });
    expect(trained.evaluations[1]).toMatchObject({ set: 'test', n: 6 });
    // Bad samples are skipped and listed with their set, manifest line, field and reason; the rest trained.
    const skipped = trained.skipped.map((s: any) => [s.set, s.line, s.field ?? null]);
    expect(skipped).toEqual([
      ['train', 9, MODALITIES.includes('audio') ? 'audio' : 'image'],
      ['test', 1, MODALITIES.includes('image') ? 'image' : 'audio'],
      ['test', 2, null],
      ['test', 3, 'label'],
    ]);
    expect(trained.skipped[0]).toMatchObject({ file: path.join(dir, 'train.jsonl'), sample: 'bad-train', code: expect.stringMatching(/^(INVALID_INPUT|UNSUPPORTED_FORMAT)$/) });
    const report = readFileSync(trained.report, 'utf8');
    expect(trained.report).toBe(path.join(dir, 'model.report.html'));
    expect(report).toContain('data-series="trainLoss"');
    expect(report).toContain('data-series="valLoss"');
    expect(report).toContain('<div class="confusion-scroll"><table class="confusion">');
    expect(report).toContain('<table class="per-class">');
    expect(report).toContain('Evaluation: validation (valid.jsonl)');
    expect(report).toContain('Evaluation: test (eval.jsonl)');
    expect(report).not.toMatch(/<script|src=|href=/i);
    // The confusion matrix in the report is the one in the JSON.
    const cells = [...report.matchAll(/<td data-count="(\d+)" style="background/g)].map((m) => Number(m[1]));
    expect(cells).toEqual([...validation.confusion.matrix.flat(), ...trained.evaluations[1].confusion.matrix.flat()]);
  });

  it('trains from a minimal config (in process): defaults, a report of the training data, no tensor left', async () => {
    writeFileSync(path.join(dir, 'minimal.yaml'), 'inputs:\n  text: { type: text, encoder: { kind: rnn, embeddingDim: 8, hiddenSize: 8 } }\noutput: { field: label }\nfusion: { dModel: 16, heads: 2, layers: 1 }\ndata: { train: train.jsonl }\n');
    const before = tf.memory().numTensors;
    const r = await inProcess(['train', 'minimal.yaml', '--out', 'minimal-model', '--epochs', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    // Text only: the line with a corrupt audio file is fine here. 10% of 17 is held out for validation.
    expect(out.evaluations).toHaveLength(1);
    expect(out.evaluations[0]).toMatchObject({ set: 'train', n: 17 });
    expect(out.epochs).toBe(1);
    expect(r.stderr).toMatch(/no validation or test manifest; the report scores the training data\n.*training data: accuracy/);
    expect(readFileSync(out.report, 'utf8')).toContain('Evaluation: train (train.jsonl)');
  });

  it('stops training on SIGTERM after the current step, saving the model so far (exit 1)', async () => {
    const run = await startCli(['train', 'model.yaml', '--out', 'interrupted', '--epochs', '500', '--json'], /epoch 1\/500 /, { cwd: dir });
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code, run.stderr()).toBe(1);
    expect(run.stderr()).toMatch(/SIGTERM: stopping after the current step/);
    const out = JSON.parse(run.stdout().trim().split('\n').at(-1) as string);
    expect(out.interrupted).toBe(true);
    expect(out.epochs).toBeGreaterThanOrEqual(1);
    expect(out.epochs).toBeLessThan(500);
    expect(existsSync(path.join(dir, 'interrupted', 'weights.bin'))).toBe(true);
    expect(readFileSync(path.join(dir, 'interrupted.report.html'), 'utf8')).toContain('of 500 (interrupted)');
  });

  it('evaluates: metrics that agree with the confusion matrix, and the bad samples with line, field and reason', async () => {
    const r = await runCli(['eval', '--model', 'model', '--data', 'eval.jsonl', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const e = lastJson(r);
    for (const key of ['accuracy', 'macroF1', 'n', 'perClass', 'confusion', 'skipped']) expect(e).toHaveProperty(key);
    expect(e.n).toBe(6);
    expect(e.confusion.labels).toEqual(['no', 'yes']);
    const m = e.confusion.matrix as number[][];
    expect(m.flat().reduce((a, b) => a + b, 0)).toBe(6);
    expect(e.accuracy).toBeCloseTo((m[0]![0]! + m[1]![1]!) / 6, 10);
    expect(e.perClass.no.support).toBe(3);
    expect(e.perClass.yes.support).toBe(3);
    const f1s = [e.perClass.no.f1, e.perClass.yes.f1];
    expect(e.macroF1).toBeCloseTo((f1s[0] + f1s[1]) / 2, 10);
    expect(e.skipped.map((s: any) => [s.line, s.field ?? null])).toEqual([[1, MODALITIES.includes('image') ? 'image' : 'audio'], [2, null], [3, 'label']]);
    expect(e.skipped[0]).toMatchObject({ file: path.join(dir, 'eval.jsonl'), sample: 'missing-file', code: 'INVALID_INPUT' });
    expect(e.skipped[0].reason).toMatch(/does not exist/);
    expect(e.skipped[1].reason).toMatch(/not valid JSON/);
    expect(e.skipped[2].reason).toMatch(/"maybe" was not among the training labels/);
    // The same run, for people: a table, and each skipped line on stderr.
    const human = await inProcess(['eval', '--model', 'model', '--data', 'eval.jsonl']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^n: 6 {3}accuracy: [\d.]+ {3}macro F1: [\d.]+ {3}skipped: 3/);
    expect(human.stderr).toMatch(/skipped eval\.jsonl:3 field "label"/);
  });

  it('predicts from every subset of the modalities', async () => {
    const s = samples.valid[0] as Sample;
    const flag = { text: ['--text', s.text], audio: ['--audio', s.audio], image: ['--image', s.image] };
    const sets = subsets(MODALITIES);
    const results = await Promise.all(sets.map((set) => runCli(['predict', '--model', 'model', ...set.flatMap((m) => flag[m]), '--json'], { cwd: dir })));
    results.forEach((r, i) => {
      expect(r.code, `${sets[i]}: ${r.stderr}`).toBe(0);
      checkPrediction(lastJson(r), sets[i] as string[]);
    });
    // Files are relative to the working folder, wherever that is; --input names a field.
    const fromElsewhere = await inProcess(['predict', '--model', path.join(dir, 'model'), '--input', `text=${s.text}`, ...(MODALITIES.includes('image') ? ['--image', path.join(dir, s.image)] : []), '--json'], tmpdir());
    expect(fromElsewhere.code, fromElsewhere.stderr).toBe(0);
    checkPrediction(JSON.parse(fromElsewhere.stdout), MODALITIES.includes('image') ? ['text', 'image'] : ['text']);
    const human = await inProcess(['predict', '--model', 'model', '--text', s.text]);
    expect(human.stdout).toMatch(/^label: (yes|no)\nprobabilities:\n {2}(yes|no): [\d.]+\n {2}(yes|no): [\d.]+\ncontributions:\n {2}text: -?[\d.e-]+\nout of scope: (no|yes \(no label fits well enough\))\nmodalities used: text\n$/);
  });

  it.skipIf(!MODALITIES.includes('audio') || !canRunWith(SYSTEM.ffmpeg, 'the MP3 / Ogg Opus predict test'))('predicts from an MP3 and an Ogg Opus of a WAV as from the WAV (format found from the bytes)', async () => {
    const s = samples.valid[0] as Sample;
    const wav = JSON.parse((await inProcess(['predict', '--model', 'model', '--audio', s.audio, '--json'])).stdout) as { label: string };
    for (const [ext, codec] of [['mp3', ['-c:a', 'libmp3lame', '-b:a', '128k']], ['opus', ['-c:a', 'libopus', '-b:a', '64k']]] as const) {
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', path.join(dir, s.audio), ...codec, path.join(dir, `clip.${ext}`)]);
      const r = await inProcess(['predict', '--model', 'model', '--audio', `clip.${ext}`, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { label: string }).label).toBe(wav.label);
    }
  });

  it('predicts a manifest as JSONL, one line per sample, bad ones with their error', async () => {
    const before = tf.memory().numTensors;
    const r = await inProcess(['predict', '--model', 'model', '--data', 'eval.jsonl', '--json']);
    expect(r.code).toBe(0);
    // Loading, predicting and disposing the model leaves no tensor behind.
    expect(tf.memory().numTensors).toBe(before);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toEqual({ n: 9, predicted: 7, failed: 2 });
    const rows = lines.slice(0, -1);
    expect(rows.map((x) => x.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rows[0]).toMatchObject({ id: 'missing-file', error: { code: 'INVALID_INPUT' } });
    expect(rows[1].error.reason).toMatch(/not valid JSON/);
    // Prediction needs no target, so the unknown label does not matter here.
    checkPrediction(rows[2], [...MODALITIES]);
    rows.slice(3).forEach((row, i) => { expect(row.id).toBe(`va-${i}`); checkPrediction(row, [...MODALITIES]); });
  });

  it('streams a manifest longer than one model call in order, bad lines in place', async () => {
    const good = samples.valid.map((v) => JSON.stringify({ id: v.id, text: v.text, image: v.image }));
    const lines = Array.from({ length: 150 }, (_, i) => ([63, 64, 65, 130].includes(i) ? (i === 64 ? '{oops' : JSON.stringify({ id: `bad-${i}`, image: 'images/none.png' })) : (good[i % good.length] as string)));
    writeFileSync(path.join(dir, 'long.jsonl'), `${lines.join('\n')}\n`);
    const r = await inProcess(['predict', '--model', 'model', '--data', 'long.jsonl', '--json']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.at(-1)).toEqual({ n: 150, predicted: 146, failed: 4 });
    expect(rows.slice(0, -1).map((x) => x.line)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(rows.filter((x) => x.error !== undefined).map((x) => x.line)).toEqual([64, 65, 66, 131]);
    expect(rows[65].error).toMatchObject({ sample: 'bad-65', field: 'image', file: path.join(dir, 'long.jsonl'), line: 66 });
  });

  it('refuses bad input with exit 1 and a typed error naming the field', async () => {
    writeFileSync(path.join(dir, 'broken.png'), Buffer.from('not an image at all'));
    const badImage = await runCli(['predict', '--model', 'model', '--image', 'broken.png', '--json'], { cwd: dir });
    expect(badImage.code).toBe(1);
    expect(lastJson(badImage).error).toMatchObject({ code: 'INVALID_INPUT', field: 'image' });
    expect(badImage.stderr).toMatch(/error \[INVALID_INPUT\]: .*field "image"/);
    const before = tf.memory().numTensors;
    const noFile = await inProcess(['predict', '--model', 'model', '--image', 'nope.png', '--text', 'x', '--json']);
    expect(noFile.code).toBe(1);
    expect(JSON.parse(noFile.stdout).error.message).toMatch(/field "image".*does not exist/);
    expect(tf.memory().numTensors).toBe(before);
    const notAModel = await inProcess(['eval', '--model', 'images', '--data', 'eval.jsonl', '--json']);
    expect(notAModel.code).toBe(1);
    expect(JSON.parse(notAModel.stdout).error.code).toBe('MODEL_FORMAT');
    const wrongModality = await inProcess(['predict', '--model', 'model', ...(MODALITIES.includes('audio') ? ['--input', 'nope=1'] : ['--audio', 'a.wav']), '--json']);
    expect(wrongModality.code).toBe(2);
    expect(wrongModality.stderr).toMatch(/this model has no/);
  });

  it('inspects the model folder (in process)', async () => {
    const r = await inProcess(['inspect', 'model', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const i = JSON.parse(r.stdout);
    expect(i.labels).toEqual(['no', 'yes']);
    expect(Object.keys(i.config.inputs)).toEqual(MODALITIES);
    expect(i.config.fusion).toMatchObject({ strategy: 'transformer', dModel: 16, layers: 1, heads: 2 });
    expect(i.config.training.seed).toBe(7);
    expect(i.config.training.epochs).toBe(2);
    expect(i.summary.parameters).toBeGreaterThan(0);
    expect(i.engine).toEqual({ now: 'wasm', trainedWith: 'wasm' });
    expect(i.run.evaluations[0]).toMatchObject({ name: 'validation', n: 6 });
    expect(i.sizeBytes).toBe(Object.values(i.files as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(i.files['weights.bin']).toBe(i.summary.parameters * 4);
    const human = await inProcess(['inspect', 'model']);
    expect(human.stdout).toMatch(/^model: {3}.*\ninputs: {2}text \(text, rnn\)/);
  });
});
