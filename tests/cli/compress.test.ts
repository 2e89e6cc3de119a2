// `mmfuse compress` and `mmfuse distill` as a user runs them (in process: the same `main` the binary runs;
// one spawned run checks the binary's exit codes): quantize, prune + fine-tune, magnitude, an ensemble, a
// voice-only student, usage errors (exit 2) and output folders that are not ours (refused, untouched).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from 'mmfuse';
import { FusionModel } from '@mmfuse/fusion';
import { writeBotData } from '../fusion/compress-helpers.js';
import { jsonl } from './fixtures.js';
import { lastJson, runCli } from './helpers.js';

let dir: string;

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string; json: any }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
  const last = stdout.trim().split('\n').at(-1);
  return { code, stdout, stderr, json: last !== undefined && last.startsWith('{') ? JSON.parse(last) : undefined };
}

/** Manifest rows with audio paths relative to `dir`. */
function rows(samples: ReturnType<typeof writeBotData>): Record<string, unknown>[] {
  return samples.map((s) => ({ id: s.id, ...s.fields, ...(typeof s.fields.audio === 'string' ? { audio: path.relative(dir, s.fields.audio) } : {}) }));
}

const teacherYaml = [
  'inputs:',
  '  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 32, hiddenSize: 16, charNgrams: { buckets: 2000 } }, preprocessing: { tokenizer: { maxLength: 12 } } }',
  '  audio: { type: audio, encoder: { kind: cnn, channels: [6, 8], dropout: 0 }, preprocessing: { sampleRateHz: 8000, nMels: 16, nFft: 200, hopLength: 80 }, maxTokens: 8 }',
  'fusion: { dModel: 32, layers: 1, heads: 4, ffDim: 48, dropout: 0, modalityDropout: 0.2 }',
  'output: { field: label }',
  'training: { epochs: 6, batchSize: 16, learningRate: 0.01, warmupSteps: 2, seed: 3, earlyStoppingPatience: null }',
  'data: { train: train.jsonl, validation: valid.jsonl, test: test.jsonl }',
].join('\n');

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-compress-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows(writeBotData(dir, 'tr', 48, 31))));
  writeFileSync(path.join(dir, 'valid.jsonl'), jsonl(rows(writeBotData(dir, 'va', 12, 32))));
  writeFileSync(path.join(dir, 'test.jsonl'), jsonl(rows(writeBotData(dir, 'te', 24, 33))));
  writeFileSync(path.join(dir, 'calls.jsonl'), jsonl(rows(writeBotData(dir, 'un', 12, 34, ['voice'])).map(({ label: _l, ...r }) => r)));
  writeFileSync(path.join(dir, 'model.yaml'), `${teacherYaml}\n`);
  const r = await cli(['train', 'model.yaml', '--out', 'teacher', '--json']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mmfuse compress', () => {
  it('--quantize int8: a smaller folder that loads and scores as the original', async () => {
    const r = await cli(['compress', '--model', 'teacher', '--quantize', 'int8', '--out', 'int8', '--test', 'test.jsonl', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.sizeBytes.ratio).toBeLessThan(0.45);
    expect(r.json.steps[0]).toMatchObject({ step: 'quantize', dtype: 'int8' });
    expect(r.json.evaluation.agreement).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(r.json.evaluation.after.accuracy - r.json.evaluation.before.accuracy)).toBeLessThanOrEqual(0.1);
    expect(readdirSync(path.join(dir, 'int8')).sort()).toEqual(['compress.json', 'model.json', 'weights.bin']);
    const e = await cli(['eval', '--model', 'int8', '--data', 'test.jsonl', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.json.accuracy).toBeCloseTo(r.json.evaluation.after.accuracy, 10);
  });

  it('--quantize float16 with --calibrate keeps float32 where the answers move', async () => {
    const r = await cli(['compress', '--model', 'teacher', '--quantize', 'float16', '--calibrate', 'valid.jsonl', '--tolerance', '0', '--out', 'fp16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.steps[0].calibration).toMatchObject({ metric: 'accuracy', tolerance: 0 });
    expect(r.json.sizeBytes.ratio).toBeLessThan(0.7);
  });

  it('--prune 0.5 with a fine-tune: a smaller architecture that loads; then an existing model folder is replaced', async () => {
    const args = ['compress', '--model', 'teacher', '--prune', '0.5', '--data', 'train.jsonl', '--validation', 'valid.jsonl', '--finetune-epochs', '2', '--test', 'test.jsonl', '--out', 'pruned', '--json'];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    const step = r.json.steps[0];
    expect(step).toMatchObject({ step: 'prune', method: 'structured', importance: 'taylor' });
    expect(step.parametersAfter).toBeLessThan(step.parametersBefore);
    expect(step.finetune.epochs).toBe(2);
    const model = await FusionModel.load(path.join(dir, 'pruned'));
    expect(model.config.fusion.blockShapes).toEqual({ block0: { heads: 2, ffDim: 24 } });
    expect(model.config.inputs.text!.encoder.hiddenSize).toBe(8);
    expect(model.config.training.epochs).toBe(6); // the fine-tune's settings are not written into the config
    model.dispose();
    // The pruned model (2 of 4 heads: attention narrower than dModel) exports to ONNX with the same answers.
    const exported = await cli(['export', '--model', 'pruned', '--format', 'onnx', '--out', 'pruned.onnx', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    for (const text of ['i want my money back', 'where is my card']) {
      const a = await cli(['predict', '--model', 'pruned', '--text', text, '--json']);
      const b = await cli(['predict', '--model', 'pruned.onnx', '--text', text, '--json']);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(Object.keys(b.json.probabilities).sort()).toEqual(Object.keys(a.json.probabilities).sort());
      for (const [k, v] of Object.entries(a.json.probabilities as Record<string, number>)) expect(Math.abs(b.json.probabilities[k] - v)).toBeLessThan(1e-4);
    }
    // Again into the same (our own) folder, combined with int8.
    const again = await cli([...args.slice(0, -1), '--quantize', 'int8', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json.steps.map((s: { step: string }) => s.step)).toEqual(['prune', 'quantize']);
  });

  it('--prune-method magnitude: zeros, same shapes, and says it is size-only', async () => {
    const r = await cli(['compress', '--model', 'teacher', '--prune', '0.6', '--prune-method', 'magnitude', '--out', 'sparse', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/size-only/);
    expect(r.json.steps[0].zeros / r.json.steps[0].parameters).toBeGreaterThan(0.5);
    expect(r.json.sizeBytes.ratio).toBeGreaterThan(0.95);
  });

  it('an ensemble (training.ensemble): --quantize int8 stores every member; structured --prune prunes and fine-tunes every member', async () => {
    writeFileSync(path.join(dir, 'ensemble.yaml'), `${teacherYaml.replace('epochs: 6,', 'epochs: 3, ensemble: 2,')}\n`);
    const t = await cli(['train', 'ensemble.yaml', '--out', 'ensemble', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.json.ensemble.members.map((m: { seed: number }) => m.seed)).toEqual([3, 4]);
    expect(JSON.parse(readFileSync(path.join(dir, 'ensemble', 'run.json'), 'utf8')).ensemble.members).toHaveLength(2);
    expect((await cli(['inspect', 'ensemble'])).stdout).toMatch(/^members: 2 \(an ensemble/m);
    // The training report says whose curves it shows and how each member trained.
    const report = readFileSync(path.join(dir, 'ensemble.report.html'), 'utf8');
    expect(report).toContain('epochs run (member 1; its curves are below)');
    expect(report).toMatch(/<th scope="row">member 2<\/th><td>seed 4, 3 epochs/);
    expect(report).toMatch(/<th scope="row">ensemble validation<\/th><td>loss \d/);
    const r = await cli(['compress', '--model', 'ensemble', '--quantize', 'int8', '--out', 'ensemble-int8', '--test', 'test.jsonl', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.sizeBytes.ratio).toBeLessThan(0.45);
    expect(r.json.evaluation.agreement).toBeGreaterThanOrEqual(0.9);
    const json = JSON.parse(readFileSync(path.join(dir, 'ensemble-int8', 'model.json'), 'utf8'));
    expect(json.config.training.ensemble).toBe(2);
    expect(json.weights.some((w: { name: string; dtype?: string }) => w.name.startsWith('members.1.') && w.dtype === 'int8')).toBe(true);
    const e = await cli(['eval', '--model', 'ensemble-int8', '--data', 'test.jsonl', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.json.accuracy).toBeCloseTo(r.json.evaluation.after.accuracy, 10);
    // Structured pruning takes each member's own units to one shape, and the fine-tune trains every member further.
    const p = await cli(['compress', '--model', 'ensemble', '--prune', '0.5', '--data', 'train.jsonl', '--finetune-epochs', '1', '--out', 'ensemble-pruned', '--test', 'test.jsonl', '--json']);
    expect(p.code, p.stderr).toBe(0);
    const step = p.json.steps[0];
    expect(step.members).toHaveLength(1);
    expect(step.members[0].groups.map((g: { name: string; kept: number[] }) => [g.name, g.kept.length])).toEqual(step.groups.map((g: { name: string; kept: number[] }) => [g.name, g.kept.length]));
    expect(step.parametersAfter).toBeLessThan(step.parametersBefore);
    expect(step.finetune.epochs).toBe(1);
    expect(p.stderr).toMatch(/in each of the 2 members of the ensemble/);
    expect(p.stderr).toMatch(/member 2\/2: training further/);
    // Every epoch line names its member.
    expect(p.stderr.match(/^mmfuse compress: member [12]\/2: epoch 1\/1 loss \d/gm)).toHaveLength(2);
    const pruned = JSON.parse(readFileSync(path.join(dir, 'ensemble-pruned', 'model.json'), 'utf8'));
    expect(pruned.config.training.ensemble).toBe(2);
    expect(pruned.config.training.epochs).toBe(3); // the model's own schedule, not the fine-tune's
    const pe = await cli(['eval', '--model', 'ensemble-pruned', '--data', 'test.jsonl', '--json']);
    expect(pe.code, pe.stderr).toBe(0);
    expect(pe.json.accuracy).toBeCloseTo(p.json.evaluation.after.accuracy, 10);
  });

  it('usage mistakes exit 2 before anything is loaded', async () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'teacher', '--out', 'x'], /nothing to do/],
      [['--model', 'teacher', '--out', 'x', '--quantize', 'int4'], /--quantize must be int8 or float16/],
      [['--model', 'teacher', '--out', 'x', '--prune', '1'], /--prune must be between 0 and 1/],
      [['--model', 'teacher', '--out', 'x', '--prune', '0.5', '--finetune-epochs', '2'], /--finetune-epochs needs --data/],
      [['--model', 'teacher', '--out', 'x', '--prune', '0.5', '--importance', 'taylor'], /--importance taylor needs --data/],
      [['--model', 'teacher', '--out', 'x', '--prune', '0.5', '--prune-method', 'magnitude', '--data', 'train.jsonl', '--finetune-epochs', '1'], /applies to structured pruning/],
      [['--model', 'teacher', '--out', 'x', '--prune', '0.5', '--prune-method', 'random'], /--prune-method must be structured or magnitude/],
      [['--model', 'teacher', '--out', 'x', '--calibrate', 'valid.jsonl', '--prune', '0.5'], /--calibrate needs --quantize/],
      [['--model', 'teacher', '--out', 'x', '--quantize', 'int8', '--validation', 'valid.jsonl'], /--validation needs --finetune-epochs/],
      [['--model', 'teacher', '--out', 'teacher/', '--quantize', 'int8'], /--out must differ from --model/],
      [['--model', 'teacher', '--quantize', 'int8'], /missing required option --out/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(['compress', ...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(path.join(dir, 'x'))).toBe(false);
  });

  it('refuses an output folder that is not an mmfuse model, and leaves it untouched', async () => {
    mkdirSync(path.join(dir, 'mine'));
    writeFileSync(path.join(dir, 'mine', 'notes.txt'), 'my notes');
    const r = await cli(['compress', '--model', 'teacher', '--quantize', 'int8', '--out', 'mine', '--json']);
    expect(r.code).toBe(1);
    expect(r.json.error).toMatchObject({ code: 'CONFIG', path: 'out' });
    expect(r.json.error.message).toMatch(/not an mmfuse model \(notes\.txt\)/);
    expect(readdirSync(path.join(dir, 'mine'))).toEqual(['notes.txt']);
    expect(readFileSync(path.join(dir, 'mine', 'notes.txt'), 'utf8')).toBe('my notes');
    writeFileSync(path.join(dir, 'a-file'), 'x');
    const f = await cli(['compress', '--model', 'teacher', '--quantize', 'int8', '--out', 'a-file', '--json']);
    expect(f.code).toBe(1);
    expect(readFileSync(path.join(dir, 'a-file'), 'utf8')).toBe('x');
    // An empty folder is fine.
    mkdirSync(path.join(dir, 'empty'));
    expect((await cli(['compress', '--model', 'teacher', '--quantize', 'int8', '--out', 'empty'])).code).toBe(0);
  });

  it('the binary: exit 2 for a usage mistake, 1 with a JSON error for a missing model', async () => {
    const [u, m] = await Promise.all([
      runCli(['compress', '--model', 'teacher', '--out', 'y', '--prune', '2'], { cwd: dir }),
      runCli(['compress', '--model', 'nope', '--out', 'y', '--quantize', 'int8', '--json'], { cwd: dir }),
    ]);
    expect(u.code).toBe(2);
    expect(m.code).toBe(1);
    expect(lastJson(m).error.code).toBe('MODEL_FORMAT');
  });
});

describe('mmfuse distill', () => {
  /** A small student config reading one input (its YAML line), with the given epochs and data. */
  const studentYaml = (file: string, input: string, epochs: number, data: string): void => writeFileSync(path.join(dir, file), [
    'inputs:',
    `  ${input}`,
    'fusion: { strategy: late, dModel: 16, ffDim: 16, dropout: 0 }',
    'output: { field: label }',
    `training: { epochs: ${epochs}, batchSize: 16, learningRate: 0.01, warmupSteps: 2, seed: 3, earlyStoppingPatience: null }`,
    `data: ${data}`,
  ].join('\n'));
  const audioInput = 'audio: { type: audio, encoder: { kind: cnn, channels: [4, 4], dropout: 0 }, preprocessing: { sampleRateHz: 8000, nMels: 16, nFft: 200, hopLength: 80 }, maxTokens: 8 }';

  it('trains a voice-only student from the text + voice teacher, with unlabeled calls the teacher labels', async () => {
    studentYaml('student.yaml', audioInput, 8, '{ train: train.jsonl, validation: valid.jsonl, test: test.jsonl }');
    const r = await cli(['distill', '--teacher', 'teacher', '--config', 'student.yaml', '--out', 'student', '--unlabeled', 'calls.jsonl', '--temperature', '2', '--alpha', '0.7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.inputs).toEqual({ teacher: ['text', 'audio'], student: ['audio'] });
    expect(r.json.pseudoLabeled).toBe(12);
    expect(r.json.parameters.student).toBeLessThan(r.json.parameters.teacher);
    expect(r.json.evaluations.map((e: { model: string }) => e.model)).toEqual(['teacher', 'student']);
    // Text-only samples have no input for this student: reported, not fatal.
    expect(r.json.skipped.some((s: { set: string; reason: string }) => s.set === 'train' && /none of the inputs "audio"/.test(s.reason))).toBe(true);
    expect(readdirSync(path.join(dir, 'student'))).toContain('distill.json');
    const p = await cli(['predict', '--model', 'student', '--audio', rows(writeBotData(dir, 'p', 1, 35, ['voice']))[0]!.audio as string, '--json']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.json.modalitiesUsed).toEqual(['audio']);
  });

  it('distills from an ensemble: --teacher repeated', async () => {
    const r = await cli(['distill', '--teacher', 'teacher', '--teacher', 'teacher', '--config', 'student.yaml', '--out', 'ensemble-student', '--epochs', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.teachers).toEqual([path.join(dir, 'teacher'), path.join(dir, 'teacher')]);
    expect(r.json.evaluations.map((e: { model: string }) => e.model)).toEqual(['teacher', 'teacher 2', 'student']);
    expect(r.stderr).toMatch(/distilling an ensemble of 2 teachers/);
  });

  it('--augment-text N: the teacher labels N corrupted copies of every training text, and the student learns from them', async () => {
    const typedInput = 'text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 16, hiddenSize: 8, charNgrams: { buckets: 500 } }, preprocessing: { tokenizer: { maxLength: 12 } } }';
    studentYaml('typed-student.yaml', typedInput, 2, '{ train: train.jsonl, validation: valid.jsonl }');
    studentYaml('typed-student-split.yaml', typedInput, 1, '{ train: train.jsonl }');
    const r = await cli(['distill', '--teacher', 'teacher', '--config', 'typed-student.yaml', '--out', 'typed-student', '--augment-text', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // 48 training samples: 32 have text (text only or both), 16 are voice only (no input for this student).
    expect(r.json.augmentedTexts).toBe(64);
    expect(r.json.pseudoLabeled).toBe(64);
    expect(r.json.trainSamples).toBe(32 + 64);
    expect(r.stderr).toMatch(/--augment-text 2: 64 corrupted copies of the training data's text for the teacher to label/);
    // Without a validation manifest, training.validationSplit (0.1: 5 of 48) is held out before the copies are made:
    // no copy of a validation text trains the student.
    const h = await cli(['distill', '--teacher', 'teacher', '--config', 'typed-student-split.yaml', '--out', 'typed-student-split', '--augment-text', '1', '--json']);
    expect(h.code, h.stderr).toBe(0);
    const heldText = 32 - h.json.augmentedTexts;
    expect(heldText).toBeGreaterThan(0);
    expect(heldText).toBeLessThanOrEqual(5);
    expect(h.json.trainSamples).toBe(2 * (32 - heldText));
    // A student that reads no text has nothing to copy: refused, naming its inputs.
    studentYaml('voice-student.yaml', audioInput, 1, '{ train: train.jsonl }');
    const v = await cli(['distill', '--teacher', 'teacher', '--config', 'voice-student.yaml', '--out', 'voice-student', '--augment-text', '1', '--json']);
    expect(v.code).toBe(1);
    expect(v.json.error).toMatchObject({ code: 'CONFIG', path: 'inputs' });
    expect(v.json.error.message).toMatch(/reads no text \(its inputs: audio \(audio\)\)/);
    expect(existsSync(path.join(dir, 'voice-student'))).toBe(false);
  });

  it('refuses a student that reads an input the teacher does not have, or a field the teacher reads as another kind', async () => {
    /** `mmfuse distill` with a student of this one input: exit 1, a ConfigError at `path` matching `message`, no output folder. */
    const refused = async (name: string, input: string, errorPath: string, message: RegExp): Promise<void> => {
      writeFileSync(path.join(dir, `${name}.yaml`), ['inputs:', `  ${input}`, 'output: { field: label }', 'data: { train: train.jsonl }'].join('\n'));
      const r = await cli(['distill', '--teacher', 'teacher', '--config', `${name}.yaml`, '--out', name, '--json']);
      expect(r.code).toBe(1);
      expect(r.json.error).toMatchObject({ code: 'CONFIG', path: errorPath });
      expect(r.json.error.message).toMatch(message);
      expect(existsSync(path.join(dir, name))).toBe(false);
    };
    await refused('bad-student', 'voice: { type: audio, encoder: { kind: cnn, channels: [4] } }', 'inputs.voice', /the teacher has no input "voice"/);
    // An input the teacher has, reading a field the teacher reads as another kind (audio from its text field).
    await refused('crossed-student', 'audio: { type: audio, field: text, encoder: { kind: cnn, channels: [4] } }', 'inputs.text',
      /the student reads "text" as .*, the teacher as .*; they must read a field the same way/);
    // --hint: INPUT=TEACHER_INPUT, the teacher's input a frozen embedding (this teacher's text/rnn prepares token ids).
    for (const [args, errorPath, message] of [
      [['--hint', 'text'], 'hint', /expected INPUT=TEACHER_INPUT/],
      [['--hint-weight', '2'], 'hint-weight', /give --hint INPUT=TEACHER_INPUT too/],
      [['--hint', 'text=text'], 'hint.from', /the teacher's input "text" does not prepare a frozen embedding/],
    ] as [string[], string, RegExp][]) {
      const h = await cli(['distill', '--teacher', 'teacher', '--config', 'typed-student.yaml', '--out', 'hinted', '--epochs', '1', ...args, '--json']);
      expect(h.code, args.join(' ')).toBe(1);
      expect(h.json.error).toMatchObject({ code: 'CONFIG', path: errorPath });
      expect(h.json.error.message).toMatch(message);
      expect(existsSync(path.join(dir, 'hinted'))).toBe(false);
    }
    const u = await cli(['distill', '--teacher', 'teacher', '--config', 'student.yaml', '--out', 'teacher']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--out must differ from --teacher/);
  });
});
