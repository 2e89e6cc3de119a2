/**
 * Knowledge distillation (Hinton et al., 2015): a smaller student learns from a trained teacher's softened
 * outputs, softmax(teacher logits / T), mixed with the hard labels:
 *
 *   loss = (1 − alpha) · CE(student, label) + alpha · T² · CE(softmax(teacher / T), softmax(student / T))
 *
 * through the trainer's `distillationLoss` term. Several teachers (an ensemble, e.g. one config trained with
 * different seeds) teach together: the soft target is the mean of their softened outputs. The teacher reads
 * each training sample with all of its own inputs; the student may read a subset of them (a voice-only student of a text + voice teacher learns from
 * answers the teacher gave with the text too). Unlabeled samples are labeled by the teacher (its top label
 * as the hard label, its probabilities as the soft one) and join the training data.
 */
import { ConfigError, StateError, skippedFromError } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { outputRows } from '../infer.js';
import { PrepareCache } from '../pipeline/cache.js';
import { collectSamples, prepareAll } from '../pipeline/prepare.js';
import type { Sample, SampleSource } from '../pipeline/prepare.js';
import type { FusionState } from '../state.js';
import { runTraining } from '../train/loop.js';
import type { FitOptions, TrainingHistory } from '../train/loop.js';
import { splitValidation } from '../train/data.js';
import { distillationLoss, relationalHintLoss } from '../train/loss-terms.js';

export interface DistillOptions extends Omit<FitOptions, 'lossTerms' | 'headLossWeight'> {
  /** Softmax temperature of teacher and student in the soft term. Default 2. */
  temperature?: number;
  /** Weight of the soft (teacher) term; the hard labels get 1 − alpha. Default 0.5. */
  alpha?: number;
  /** Samples without labels; the teacher labels them and they join the training data. */
  unlabeled?: SampleSource;
  /** Folder that relative paths of the unlabeled samples resolve against. Default `baseDir`. */
  unlabeledBaseDir?: string;
  /** Extra loss terms besides the distillation term. */
  extraLossTerms?: FitOptions['lossTerms'];
  /**
   * A relational hint (`relationalHintLoss`): the student's encoding of `input` learns, batch by batch, which
   * samples the teacher's frozen embedding input `from` (e.g. a `text/use` sentence vector, prepared by the
   * teacher) puts close together, so a student without that costly input keeps some of what it knew.
   * `weight` defaults to 1.
   */
  hint?: { input: string; from: string; weight?: number };
}

export interface DistillResult {
  history: TrainingHistory;
  /** Training samples (labeled + teacher-labeled) the teacher gave soft targets for. */
  taught: number;
  /** Labeled training samples the teacher could not read (they train on the hard label alone). */
  teacherSkipped: SkippedSample[];
  /** Unlabeled samples the teacher labeled, and those it could not read (left out). */
  pseudoLabeled: number;
  unlabeledSkipped: SkippedSample[];
}

/** Check that the student can learn from the teacher: same output; every student input is a teacher input of the same type. */
export function checkStudent(teacher: FusionState, student: FusionState): void {
  checkTeacher(teacher);
  const to = teacher.config.output;
  const so = student.config.output;
  if (so.field !== to.field || so.type !== to.type) throw new ConfigError(`must be the teacher's output { field: "${to.field}", type: "${to.type}" }, got { field: "${so.field}", type: "${so.type}" }`, { path: 'output' });
  for (const field of student.fields) {
    const t = teacher.config.inputs[field];
    if (t === undefined) throw new ConfigError(`the teacher has no input "${field}" (its inputs: ${teacher.fields.join(', ')}); a student reads a subset of the teacher's inputs`, { path: `inputs.${field}` });
    const s = student.config.inputs[field];
    if (s?.type !== t.type) throw new ConfigError(`is "${s?.type}", but the teacher's input "${field}" is "${t.type}"`, { path: `inputs.${field}.type` });
  }
}

/** A teacher is trained and answers with class probabilities. */
function checkTeacher(teacher: FusionState): void {
  teacher.requireNetwork();
  const type = teacher.config.output.type;
  if (type !== 'category') throw new ConfigError(`distillation learns from the teacher's class probabilities, so it needs a category output; the teacher's is ${type}`, { path: 'output.type' });
}

function softmax(logits: ArrayLike<number>, temperature: number): number[] {
  const z = Array.from(logits, (v) => v / temperature);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * The teachers' logits of raw samples, each row in the first teacher's label order (undefined where the
 * teacher cannot read the sample), and the samples no teacher could read.
 */
async function teacherLogits(teachers: readonly FusionState[], order: readonly number[][], samples: readonly Sample[], baseDir: string | undefined, file: string, hintFrom?: string): Promise<{ logits: (Float32Array | undefined)[][]; skipped: SkippedSample[]; refs: (Float32Array | undefined)[] }> {
  const logits: (Float32Array | undefined)[][] = [];
  const refs: (Float32Array | undefined)[] = new Array(samples.length).fill(undefined);
  const refused = new Map<number, SkippedSample>();
  // One cache for all teachers: a prepared value depends on the encoder's kind and config and the raw value
  // only (encoders fit after preparing), so teachers with the same encoder (one config, several seeds) prepare
  // each sample once.
  const cache = new PrepareCache();
  for (const [k, teacher] of teachers.entries()) {
    const outcomes = await prepareAll(samples, teacher.prepareOptions(cache, baseDir));
    const ok = outcomes.flatMap((o, i) => (o.ok ? [{ i, values: o.value.values }] : []));
    const rows = await outputRows(teacher, ok.map((o) => o.values));
    const mine: (Float32Array | undefined)[] = new Array(samples.length).fill(undefined);
    const perm = order[k] as number[];
    ok.forEach((o, j) => { const r = rows[j] as Float32Array; mine[o.i] = Float32Array.from(perm, (c) => r[c] as number); });
    logits.push(mine);
    const m = hintFrom === undefined ? -1 : teacher.fields.indexOf(hintFrom);
    if (m >= 0) for (const o of ok) if (refs[o.i] === undefined && o.values[m] !== undefined) refs[o.i] = frozenVector(o.values[m], hintFrom as string);
    outcomes.forEach((o, i) => { if (!o.ok && !refused.has(i)) refused.set(i, skippedFromError(o.error, { file, line: samples[i]?.line ?? i + 1 })); });
  }
  const skipped = [...refused.entries()].filter(([i]) => logits.every((l) => l[i] === undefined)).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  return { logits, skipped, refs };
}

/** A frozen encoder's prepared value (`{ embeddings, length }`, e.g. `text/use`) as one vector: the mean of its steps. */
function frozenVector(value: unknown, field: string): Float32Array {
  const v = value as { embeddings?: unknown; length?: unknown };
  const steps = typeof v === 'object' && v !== null ? v.length : undefined;
  if (!(v?.embeddings instanceof Float32Array) || typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || v.embeddings.length % steps !== 0) {
    throw new ConfigError(`the teacher's input "${field}" does not prepare a frozen embedding (as text/use and text/pretrained do), so it cannot give the hint`, { path: 'hint.from' });
  }
  const d = v.embeddings.length / steps;
  const out = new Float32Array(d);
  for (let t = 0; t < steps; t++) for (let i = 0; i < d; i++) out[i] = (out[i] as number) + (v.embeddings[t * d + i] as number) / steps;
  return out;
}

/** The softmax temperature option (default 2), checked. */
function temperatureOf(t: number | undefined): number {
  const temperature = t ?? 2;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new ConfigError(`must be a positive number, got ${temperature}`, { path: 'temperature' });
  return temperature;
}

/** The mean over the teachers that read sample i of softmax(logits / T); undefined when none did. */
function meanSoftmax(logits: readonly (Float32Array | undefined)[][], i: number, temperature: number): number[] | undefined {
  const rows = logits.flatMap((l) => (l[i] === undefined ? [] : [l[i] as Float32Array]));
  if (rows.length === 0) return undefined;
  const sum = softmax(rows[0] as Float32Array, temperature);
  for (const r of rows.slice(1)) softmax(r, temperature).forEach((v, c) => { sum[c] = (sum[c] as number) + v; });
  return sum.map((v) => v / rows.length);
}

/**
 * The soft targets `distill` trains on, for inspection: per sample, the mean over the teachers that read it of
 * softmax(logits / temperature), in `labels` order (the first teacher's); undefined where no teacher could
 * read the sample (those are in `skipped`).
 */
export async function teacherSoftTargets(teacher: FusionState | readonly FusionState[], samples: SampleSource, options: { temperature?: number; baseDir?: string } = {}): Promise<{ labels: string[]; probabilities: (number[] | undefined)[]; skipped: SkippedSample[] }> {
  const temperature = temperatureOf(options.temperature);
  const { teachers, order } = teacherList(teacher);
  const raw = await collectSamples(samples);
  const t = await teacherLogits(teachers, order, raw, options.baseDir, 'samples');
  return { labels: [...(teachers[0] as FusionState).requireOutput().labels], probabilities: raw.map((_, i) => meanSoftmax(t.logits, i, temperature)), skipped: t.skipped };
}

/** The teachers as a list, each checked against the student, and each one's label order mapped onto the first's. */
function teacherList(teacher: FusionState | readonly FusionState[], student?: FusionState): { teachers: FusionState[]; order: number[][] } {
  const teachers: FusionState[] = Array.isArray(teacher) ? [...(teacher as readonly FusionState[])] : [teacher as FusionState];
  if (teachers.length === 0) throw new ConfigError('needs at least one teacher', { path: 'teacher' });
  for (const t of teachers) {
    if (student !== undefined) checkStudent(t, student);
    else checkTeacher(t);
  }
  const labels = (teachers[0] as FusionState).requireOutput().labels;
  const order = teachers.map((t, k) => {
    const own = t.requireOutput().labels;
    const perm = labels.map((l) => own.indexOf(l));
    if (own.length !== labels.length || perm.some((j) => j < 0)) {
      throw new ConfigError(`teacher ${k + 1} knows the labels ${own.join(', ')}; teacher 1 knows ${labels.join(', ')}: an ensemble's teachers must know the same labels`, { path: 'teacher' });
    }
    return perm;
  });
  return { teachers, order };
}

/**
 * Train an untrained (or trained, to continue) student on the teacher's softened outputs; given several
 * teachers, on the mean of theirs (each sample: the teachers that can read it).
 */
export async function distill(teacher: FusionState | readonly FusionState[], student: FusionState, train: SampleSource, options: DistillOptions = {}): Promise<DistillResult> {
  const { teachers, order } = teacherList(teacher, student);
  const temperature = temperatureOf(options.temperature);
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new ConfigError(`must be a number in [0, 1], got ${alpha}`, { path: 'alpha' });
  const teacherOut = (teachers[0] as FusionState).requireOutput();
  const field = (teachers[0] as FusionState).config.output.field;
  const hint = options.hint;
  if (hint !== undefined) {
    if (!student.fields.includes(hint.input)) throw new ConfigError(`the student has no input "${hint.input}" (its inputs: ${student.fields.join(', ')})`, { path: 'hint.input' });
    if (!teachers.some((t) => t.fields.includes(hint.from))) throw new ConfigError(`no teacher has the input "${hint.from}" (inputs: ${(teachers[0] as FusionState).fields.join(', ')})`, { path: 'hint.from' });
    if (hint.weight !== undefined && !(Number.isFinite(hint.weight) && hint.weight >= 0)) throw new ConfigError(`must be a number ≥ 0, got ${hint.weight}`, { path: 'hint.weight' });
  }

  // Without a validation set, `training.validationSplit` is held out of the labeled samples here, as training
  // would hold it out of all of them: the samples the teacher labels (`unlabeled`) never land in it.
  const all = await collectSamples(train);
  const held = options.validation === undefined ? splitValidation(all, student.config.training) : undefined;
  const labeled = held?.train ?? all;
  const taughtLabeled = await teacherLogits(teachers, order, labeled, options.baseDir, 'train', hint?.from);
  const soft: (number[] | undefined)[] = labeled.map((_, i) => meanSoftmax(taughtLabeled.logits, i, temperature));
  const refs: (Float32Array | undefined)[] = [...taughtLabeled.refs];
  const pseudo: Sample[] = [];
  let unlabeledSkipped: SkippedSample[] = [];
  if (options.unlabeled !== undefined) {
    const raw = await collectSamples(options.unlabeled);
    const t = await teacherLogits(teachers, order, raw, options.baseDir, 'unlabeled', hint?.from);
    unlabeledSkipped = t.skipped;
    raw.forEach((s, i) => {
      const p = meanSoftmax(t.logits, i, 1);
      if (p === undefined) return;
      refs.push(t.refs[i]);
      const label = teacherOut.labels[teacherOut.topIndex(p)] as string;
      pseudo.push({ ...s, ...(s.id === undefined ? { id: `unlabeled-${i}` } : {}), fields: { ...s.fields, [field]: label } });
      soft.push(meanSoftmax(t.logits, i, temperature));
    });
    for (const s of unlabeledSkipped) options.onSkip?.(s);
  }

  // The student's labels are fitted on its own training data: map the teacher's probabilities by label name.
  let mapping: number[] | undefined;
  const teacherProbs = (index: number): number[] | undefined => {
    const p = soft[index];
    if (p === undefined) return undefined;
    if (mapping === undefined) {
      const labels = student.requireOutput().labels;
      mapping = labels.map((l) => {
        const j = teacherOut.labels.indexOf(l);
        if (j < 0) throw new ConfigError(`the student's training data has the label "${l}", which the teacher does not know (teacher labels: ${teacherOut.labels.join(', ')})`, { path: `output.${field}` });
        return j;
      });
    }
    const mapped = mapping.map((j) => p[j] as number);
    const sum = mapped.reduce((a, b) => a + b, 0);
    return sum > 0 ? mapped.map((v) => v / sum) : undefined;
  };

  const { temperature: _t, alpha: _a, unlabeled: _u, extraLossTerms, hint: _h, ...fit } = options;
  const hintTerms = hint === undefined ? [] : [relationalHintLoss({ input: hint.input, target: (s) => refs[s.index], ...(hint.weight === undefined ? {} : { weight: hint.weight }) })];
  const history = await runTraining(student, [...labeled, ...pseudo], {
    ...fit,
    ...(held === undefined ? {} : { validation: held.validation }),
    headLossWeight: 1 - alpha,
    lossTerms: [distillationLoss({ teacher: (s) => teacherProbs(s.index), temperature, weight: alpha }), ...hintTerms, ...(extraLossTerms ?? [])],
  });
  if (student.network === undefined) throw new StateError('distillation ended without a trained student');
  return {
    history,
    taught: soft.filter((p) => p !== undefined).length,
    teacherSkipped: taughtLabeled.skipped,
    pseudoLabeled: pseudo.length,
    unlabeledSkipped,
  };
}
