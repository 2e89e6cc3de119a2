/**
 * `mmfuse distill --teacher DIR [--teacher DIR ...] --config STUDENT.yaml --out DIR2 [--unlabeled MANIFEST ...] [--temperature T]
 * [--alpha A] [--augment-text N] [--epochs N] [--seed N] [--json]`: a student model (its own config, reading any
 * subset of the teacher's inputs) trained on the teacher's softened outputs and the labels of `data.train`.
 * Several `--teacher`s teach as an ensemble: the soft targets are the mean of theirs. `--augment-text N` adds N
 * corrupted copies of every training text for the teacher to label (internal/augment-text.ts).
 */
import * as path from 'node:path';
import { ConfigError, getEngineInfo, isMmfuseError, loadManifest } from '@mmfuse/core';
import type { FieldKind, ManifestSample, SkippedSample } from '@mmfuse/core';
import { checkStudent, distill, splitValidation } from '@mmfuse/fusion';
import type { FusionModel } from '@mmfuse/fusion';
import type { ParsedArgs } from '../internal/args.js';
import { loadConfig } from '../internal/config-file.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { augmentTexts } from '../internal/augment-text.js';
import { createModel, loadModel, loadPlugins, manifestFields, startEngine, toInputs } from '../internal/model.js';
import { checkModelOutput, writeModelOutput } from '../internal/model-output.js';
import { describeSkipped, fromCwd, logger, pluginArgs, progressOptions, round, skippedJson } from './common.js';

const COMMAND = 'distill';

/**
 * How to read a manifest for every model: the union of the teachers' fields and the student's (a teacher may
 * read more inputs). Models that read one field in different ways are refused, naming both.
 */
function unionFields(teachers: readonly FusionModel[], student: FusionModel, withTarget: boolean): Record<string, FieldKind> {
  const fields: Record<string, FieldKind> = {};
  const readBy: Record<string, string> = {};
  const readers: [string, FusionModel][] = [...teachers.map((m, k): [string, FusionModel] => [teachers.length > 1 ? `teacher ${k + 1}` : 'the teacher', m]), ['the student', student]];
  for (const [who, model] of readers) {
    for (const [field, kind] of Object.entries(manifestFields(model, withTarget))) {
      const had = fields[field];
      if (had !== undefined && JSON.stringify(had) !== JSON.stringify(kind)) {
        throw new ConfigError(`${who} reads "${field}" as ${JSON.stringify(kind)}, ${readBy[field]} as ${JSON.stringify(had)}; they must read a field the same way`, { path: `inputs.${field}` });
      }
      fields[field] = kind;
      readBy[field] ??= who;
    }
  }
  return fields;
}

async function read(file: string, fields: Record<string, FieldKind>, target: string | undefined, onSkip: (s: SkippedSample) => void): Promise<ManifestSample[]> {
  const { samples, skipped } = await loadManifest(path.resolve(file), { fields, ...(target === undefined ? {} : { required: [target] }), onError: 'skip' });
  for (const s of skipped) onSkip(s);
  return samples;
}

export async function runDistill(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, COMMAND);
  const started = Date.now();
  const o = args.options;
  const teacherDirs = (Array.isArray(o.teacher) ? (o.teacher as string[]) : [o.teacher as string]).map((d) => fromCwd(io, d));
  const teacherDir = teacherDirs[0] as string;
  const out = fromCwd(io, o.out as string).replace(/[\\/]+$/, '');
  await checkModelOutput(out, teacherDirs.map((dir) => ({ dir, option: '--teacher' })), COMMAND);
  const overrides: { seed?: number; epochs?: number } = {};
  if (o.seed !== undefined) overrides.seed = o.seed as number;
  if (o.epochs !== undefined) overrides.epochs = o.epochs as number;
  const hint = hintOption(o.hint as string | undefined, o['hint-weight'] as number | undefined); // refused before anything is loaded
  const cli = await loadConfig(fromCwd(io, o.config as string), overrides);
  if (cli.data.train === undefined) throw new ConfigError('is required by "mmfuse distill": the training manifest, relative to the config file', { file: cli.file, path: 'data.train' });
  await startEngine(log);
  await loadPlugins([...cli.plugins, ...pluginArgs(args, io)], log);
  const teachers: FusionModel[] = [];
  let student: FusionModel | undefined;
  try {
    for (const dir of teacherDirs) teachers.push(await loadModel(dir)); // disposed below, also when a later one fails
    const teacher = teachers[0] as FusionModel;
    try {
      student = createModel(cli.config);
      for (const t of teachers) checkStudent(t.state, student.state);
    } catch (err) {
      throw isMmfuseError(err) ? err.locate({ file: cli.file }) : err;
    }
    const skipped: Record<string, unknown>[] = [];
    const skip = (set: string, manifest: string) => (s: SkippedSample): void => {
      log(`${set}: ${describeSkipped(s, manifest)}`);
      skipped.push({ set, ...skippedJson(s, manifest) });
    };
    const target = cli.config.output.field;
    const labeledFields = unionFields(teachers, student, true);
    const labeledTrain = await read(cli.data.train, labeledFields, target, skip('train', cli.data.train));
    const validationManifest = cli.data.validation === undefined ? undefined : await read(cli.data.validation, labeledFields, target, skip('validation', cli.data.validation));
    // Without a validation manifest, `training.validationSplit` of the training data is held out here (as `distill`
    // would), before any copy is made: no copy of a validation text trains the student.
    const held = validationManifest === undefined ? splitValidation(labeledTrain, student.state.config.training) : undefined;
    const train = held?.train ?? labeledTrain;
    const validation = held?.validation ?? validationManifest;
    const unlabeledFiles = ((o.unlabeled as string[] | undefined) ?? []).map((f) => fromCwd(io, f));
    const unlabeled: ManifestSample[] = [];
    const plainFields = unionFields(teachers, student, false);
    for (const f of unlabeledFiles) unlabeled.push(...(await read(f, plainFields, undefined, skip('unlabeled', f))).map((s, i) => ({ ...s, id: s.id ?? `${path.basename(f)}:${i + 1}` })));
    const copies = (o['augment-text'] as number | undefined) ?? 0;
    let augmented = 0;
    const copyIds = new Set<string>();
    if (copies > 0) {
      const textFields = student.inputs.filter((i) => i.modality === 'text').map((i) => i.field);
      if (textFields.length === 0) throw new ConfigError(`--augment-text makes copies of typed text, and this student reads no text (its inputs: ${student.inputs.map((i) => `${i.field} (${i.modality})`).join(', ')})`, { file: cli.file, path: 'inputs' });
      const copiesOf = augmentTexts(train, textFields, copies, cli.config.training?.seed ?? 0, { onSkip: skip('augment-text', `copies of ${cli.data.train as string}`) });
      augmented = copiesOf.length;
      for (const c of copiesOf) copyIds.add(c.id);
      unlabeled.push(...copiesOf);
      log(`--augment-text ${copies}: ${augmented} corrupted copies of the training data's ${textFields.join(', ')} for the teacher to label`);
    }
    const studentParams = (m: FusionModel): number => m.summary().parameters;
    log(`distilling ${teacherDirs.length > 1 ? `an ensemble of ${teacherDirs.length} teachers: ${teacherDirs.join(', ')}` : teacherDir} (${teacher.inputs.map((i) => i.field).join(' + ')}) into a student of ${student.inputs.map((i) => i.field).join(' + ')}: ${train.length} labeled${unlabeled.length > 0 ? ` + ${unlabeled.length} unlabeled` : ''} samples`);
    const validationIds = new Set((validation ?? []).map((v) => v.id));
    const result = await distill(teachers.map((t) => t.state), student.state, toInputs(train), {
      ...(validation === undefined ? {} : { validation: toInputs(validation) }),
      ...(unlabeled.length === 0 ? {} : { unlabeled: toInputs(unlabeled) }),
      ...(o.temperature === undefined ? {} : { temperature: o.temperature as number }),
      ...(o.alpha === undefined ? {} : { alpha: o.alpha as number }),
      ...(hint === undefined ? {} : { hint }),
      log, ...progressOptions(io),
      onSkip: (s) => {
        if (s.file === 'unlabeled' && copyIds.has(s.sample ?? '')) skip('augment-text', `copies of ${cli.data.train as string}`)(s);
        else if (s.file === 'unlabeled') skip('unlabeled', unlabeledFiles.join(', '))(s);
        else if (validationIds.has(s.sample ?? '') && cli.data.validation !== undefined) skip('validation', cli.data.validation)(s);
        else skip('train', cli.data.train as string)(s);
      },
    });
    for (const s of result.teacherSkipped) log(`${teachers.length > 1 ? 'no teacher' : 'teacher'} could not read train line ${s.line} (${s.reason}); it trains on its label alone`);

    const evaluations: Record<string, unknown>[] = [];
    if (cli.data.test !== undefined) {
      const test = await read(cli.data.test, labeledFields, target, skip('test', cli.data.test));
      const named: [string, FusionModel][] = [...teachers.map((t, k): [string, FusionModel] => [k === 0 ? 'teacher' : `teacher ${k + 1}`, t]), ['student', student]];
      for (const [name, model] of named) {
        const e = await model.evaluate(toInputs(test), { ablation: false });
        evaluations.push({ model: name, manifest: cli.data.test, n: e.n, accuracy: e.accuracy, macroF1: e.macroF1 });
        log(`test: ${name} accuracy ${round(e.accuracy)} (n ${e.n}${e.skipped.length > 0 ? `, ${e.skipped.length} it cannot read` : ''})`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const report = {
      teacher: teacherDir, ...(teacherDirs.length > 1 ? { teachers: teacherDirs } : {}), configFile: cli.file, engine: getEngineInfo()?.engine ?? 'unknown',
      temperature: (o.temperature as number | undefined) ?? 2, alpha: (o.alpha as number | undefined) ?? 0.5,
      ...(hint === undefined ? {} : { hint }),
      parameters: { teacher: studentParams(teacher), student: studentParams(student) },
      inputs: { teacher: teacher.inputs.map((i) => i.field), student: student.inputs.map((i) => i.field) },
      trainSamples: result.history.trainSamples, taught: result.taught, pseudoLabeled: result.pseudoLabeled, augmentedTexts: augmented,
      epochs: result.history.epochs.length, bestEpoch: result.history.bestEpoch ?? null, history: result.history.epochs,
      evaluations, skipped, seconds, finishedAt: new Date().toISOString(),
    };
    await writeModelOutput(student.state, out, { 'distill.json': report });
    log(`saved the student to ${out}`);
    const human = [
      `student: ${out} (${report.parameters.student} parameters; teacher ${report.parameters.teacher})`,
      `trained: ${report.epochs} epochs on ${report.trainSamples} samples (${report.pseudoLabeled} labeled by the teacher)`,
      ...evaluations.map((e) => `test:    ${String(e.model)} accuracy ${round(e.accuracy as number)} (n ${String(e.n)})`),
    ].join('\n');
    return { json: { model: out, ...report }, human };
  } finally {
    student?.dispose();
    for (const t of teachers) t.dispose();
  }
}

/** `--hint INPUT=TEACHER_INPUT` and `--hint-weight W` as `distill`'s hint option. */
function hintOption(spec: string | undefined, weight: number | undefined): { input: string; from: string; weight?: number } | undefined {
  if (spec === undefined) {
    if (weight !== undefined) throw new ConfigError('--hint-weight weighs the --hint term; give --hint INPUT=TEACHER_INPUT too', { path: 'hint-weight' });
    return undefined;
  }
  const m = /^([^=\s]+)=([^=\s]+)$/.exec(spec);
  if (m === null) throw new ConfigError(`expected INPUT=TEACHER_INPUT (a student input and a teacher input, e.g. text=sentence), got ${JSON.stringify(spec)}`, { path: 'hint' });
  return { input: m[1] as string, from: m[2] as string, ...(weight === undefined ? {} : { weight }) };
}
