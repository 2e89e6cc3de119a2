/**
 * `mmfuse compress --model DIR --out DIR2 [--quantize int8|float16 [--calibrate MANIFEST]] [--prune RATIO
 * [--prune-method structured|magnitude] [--data MANIFEST --finetune-epochs N]] [--test MANIFEST] [--json]`
 */
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { UsageError, getEngineInfo } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import {
  evaluatePrepared, loadState, outputRows, planStructuredPruning, prepareSet, pruneMagnitude, pruneStructured, quantizeState, runTraining,
} from '@mmfuse/fusion';
import type { FusionState, LowPrecision, PreparedSet, Sample, Target } from '@mmfuse/fusion';
import type { ParsedArgs } from '../internal/args.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { loadPlugins, readSamples, startEngine, toInputs } from '../internal/model.js';
import { checkModelOutput, writeModelOutput } from '../internal/model-output.js';
import { describeSkipped, fromCwd, logger, pluginArgs, progressOptions, round } from './common.js';

const COMMAND = 'compress';
const usage = (reason: string): UsageError => new UsageError(reason, { command: COMMAND });

interface Choices {
  quantize?: LowPrecision;
  prune?: { ratio: number; method: 'structured' | 'magnitude'; importance?: 'taylor' | 'norm' };
  finetuneEpochs: number;
}

/** Check the combination of options before anything is loaded. */
function choices(o: ParsedArgs['options']): Choices {
  const q = o.quantize as string | undefined;
  const quantize = q === undefined ? undefined : q === 'int8' ? 'int8' : q === 'float16' || q === 'fp16' ? 'float16' : undefined;
  if (q !== undefined && quantize === undefined) throw usage(`--quantize must be int8 or float16, got ${JSON.stringify(q)}`);
  const ratio = o.prune as number | undefined;
  if (ratio !== undefined && !(ratio > 0 && ratio < 1)) throw usage(`--prune must be between 0 and 1 (the share removed), got ${ratio}`);
  if (quantize === undefined && ratio === undefined) throw usage('nothing to do: give --quantize int8|float16, --prune RATIO, or both');
  const method = (o['prune-method'] as string | undefined) ?? 'structured';
  if (method !== 'structured' && method !== 'magnitude') throw usage(`--prune-method must be structured or magnitude, got ${JSON.stringify(method)}`);
  const importance = o.importance as string | undefined;
  if (importance !== undefined && importance !== 'taylor' && importance !== 'norm') throw usage(`--importance must be taylor or norm, got ${JSON.stringify(importance)}`);
  const finetuneEpochs = (o['finetune-epochs'] as number | undefined) ?? 0;
  for (const [flag, needs] of [['prune-method', 'prune'], ['importance', 'prune'], ['finetune-epochs', 'prune'], ['calibrate', 'quantize'], ['tolerance', 'calibrate'], ['keep-float32', 'quantize'], ['min-size', 'quantize'], ['validation', 'finetune-epochs'], ['finetune-learning-rate', 'finetune-epochs']] as const) {
    if (o[flag] !== undefined && o[needs] === undefined) throw usage(`--${flag} needs --${needs}`);
  }
  if (method === 'magnitude' && (finetuneEpochs > 0 || importance !== undefined)) throw usage(`--${finetuneEpochs > 0 ? 'finetune-epochs' : 'importance'} applies to structured pruning; magnitude pruning ranks values by size and keeps no mask a fine-tune would respect`);
  if (finetuneEpochs > 0 && o.data === undefined) throw usage('--finetune-epochs needs --data, the training manifest');
  if (importance === 'taylor' && o.data === undefined) throw usage('--importance taylor needs --data, the training manifest');
  const out: Choices = { finetuneEpochs };
  if (quantize !== undefined) out.quantize = quantize;
  if (ratio !== undefined) out.prune = importance === undefined ? { ratio, method } : { ratio, method, importance };
  return out;
}

/** Bytes of a model folder's files (compress.json, our own report, left out). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) {
    if (f === 'compress.json') continue;
    total += (await stat(path.join(dir, f))).size;
  }
  return total;
}

/** Read a manifest for a state (bad lines reported on stderr), as fusion samples. */
async function manifest(state: FusionState, file: string, withTarget: boolean, log: (l: string) => void): Promise<Sample[]> {
  const read = await readSamples(file, state, withTarget);
  for (const s of read.skipped) log(describeSkipped(s, file));
  return toInputs(read.samples);
}

function labeledOnly(set: PreparedSet): { values: unknown[]; target: Target }[] {
  return set.values.flatMap((values, i) => (set.targets[i] === undefined ? [] : [{ values, target: set.targets[i] as Target }]));
}

/** Accuracy of a state on a prepared test set, and agreement of its answers with `reference` answers. */
async function score(state: FusionState, set: PreparedSet, reference?: string[]): Promise<{ accuracy: number; macroF1: number; n: number; answers: string[]; agreement?: number }> {
  const labeled = labeledOnly(set);
  const report = await evaluatePrepared(state, labeled, [], false);
  const output = state.requireOutput();
  // The answers themselves, for the agreement with the uncompressed model's.
  const answers = (await outputRows(state, labeled.map((s) => s.values))).map((row) => JSON.stringify(output.decode(output.values(row), []).label));
  const out: { accuracy: number; macroF1: number; n: number; answers: string[]; agreement?: number } = { accuracy: report.accuracy, macroF1: report.macroF1, n: report.n, answers };
  if (reference !== undefined) out.agreement = answers.filter((a, i) => a === reference[i]).length / Math.max(1, answers.length);
  return out;
}

export async function runCompress(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, COMMAND);
  const o = args.options;
  const plan = choices(o);
  const source = fromCwd(io, o.model as string);
  const out = fromCwd(io, o.out as string).replace(/[\\/]+$/, '');
  await checkModelOutput(out, [{ dir: source, option: '--model' }], COMMAND);
  await startEngine(log, { syncReads: 'mmfuse compress' });
  await loadPlugins(pluginArgs(args, io), log);
  const skipped: SkippedSample[] = [];
  const onSkip = (s: SkippedSample): void => { skipped.push(s); log(describeSkipped(s, s.file)); };

  let state = await loadState(source);
  const steps: Record<string, unknown>[] = [];
  try {
    const sizeBefore = await folderBytes(source);
    const testFile = o.test === undefined ? undefined : fromCwd(io, o.test as string);
    const testSet = testFile === undefined ? undefined : await prepareSet(state, await manifest(state, testFile, true, log), { onSkip, file: testFile });
    const before = testSet === undefined ? undefined : await score(state, testSet);
    if (before !== undefined) log(`before: accuracy ${round(before.accuracy)} on ${before.n} test samples`);
    const dataFile = o.data === undefined ? undefined : fromCwd(io, o.data as string);
    const train = dataFile === undefined ? undefined : await manifest(state, dataFile, true, log);

    if (plan.prune?.method === 'magnitude') {
      const r = pruneMagnitude(state, { ratio: plan.prune.ratio, ...(o['min-size'] === undefined ? {} : { minSize: o['min-size'] as number }) });
      log(`magnitude pruning: ${r.zeros} of ${r.parameters} values are 0 (${round((100 * r.zeros) / r.parameters, 1)}%); size-only: the folder shrinks only when compressed`);
      steps.push({ step: 'prune', method: 'magnitude', ratio: r.ratio, zeros: r.zeros, parameters: r.parameters, weights: r.weights });
    } else if (plan.prune !== undefined) {
      if (state.scopeMemory !== undefined && plan.finetuneEpochs === 0) throw usage('this model scores out-of-scope requests by energy+nearest (output.outOfScope.score), which compares a request\'s fused vector with the training samples\'; structured pruning changes those vectors, so it needs --finetune-epochs N with --data, which refits them and the threshold');
      const data = train === undefined ? undefined : await prepareSet(state, train, { onSkip, file: dataFile as string });
      const importance = plan.prune.importance ?? (data === undefined ? 'norm' : 'taylor');
      const p = planStructuredPruning(state, { ratio: plan.prune.ratio, importance, ...(data === undefined ? {} : { data }) });
      for (const s of p.skippedInputs) log(`input "${s.field}" is kept whole: ${s.reason}`);
      const paramsBefore = state.namedWeights().reduce((a, [, v]) => a + v.size, 0);
      const pruned = pruneStructured(state, p);
      state.dispose();
      state = pruned;
      const paramsAfter = state.namedWeights().reduce((a, [, v]) => a + v.size, 0);
      const members = p.members === undefined ? '' : ` in each of the ${p.members.length + 1} members of the ensemble (each its own units)`;
      log(`structured pruning (${importance}): ${p.groups.map((g) => `${g.name} ${g.kept.length}/${g.size}`).join(', ')}${members}; ${paramsBefore} -> ${paramsAfter} parameters`);
      const kept = (q: typeof p) => q.groups.map((g) => ({ name: g.name, size: g.size, kept: g.kept }));
      const step: Record<string, unknown> = {
        step: 'prune', method: 'structured', ratio: p.ratio, importance, parametersBefore: paramsBefore, parametersAfter: paramsAfter, groups: kept(p), skippedInputs: p.skippedInputs,
        ...(p.members === undefined ? {} : { members: p.members.map((q) => ({ groups: kept(q) })) }),
      };
      if (plan.finetuneEpochs > 0) {
        // The fine-tune's schedule, for every member of an ensemble (each trains further in turn).
        const sections = [state, ...state.otherMembers].map((s) => s.config.training);
        const saved = sections.map((t) => ({ epochs: t.epochs, learningRate: t.learningRate, minLearningRate: t.minLearningRate }));
        const learningRate = (o['finetune-learning-rate'] as number | undefined) ?? state.config.training.learningRate / 2;
        for (const t of sections) Object.assign(t, { epochs: plan.finetuneEpochs, learningRate, minLearningRate: Math.min(t.minLearningRate, learningRate) });
        try {
          const validationFile = o.validation === undefined ? undefined : fromCwd(io, o.validation as string);
          const validation = validationFile === undefined ? undefined : await manifest(state, validationFile, true, log);
          log(`fine-tuning for ${plan.finetuneEpochs} epochs at learning rate ${learningRate}`);
          const history = await runTraining(state, train as Sample[], { ...(validation === undefined ? {} : { validation }), log, ...progressOptions(io), onSkip });
          step.finetune = { epochs: history.epochs.length, learningRate, bestEpoch: history.bestEpoch ?? null, history: history.epochs };
        } finally {
          sections.forEach((t, k) => Object.assign(t, saved[k])); // the saved config keeps the model's own training section
        }
      }
      steps.push(step);
    }

    if (plan.quantize !== undefined) {
      const calibrateFile = o.calibrate === undefined ? undefined : fromCwd(io, o.calibrate as string);
      const calibration = calibrateFile === undefined ? undefined : await prepareSet(state, await manifest(state, calibrateFile, false, log), { onSkip, file: calibrateFile, maxSamples: 512 });
      const r = await quantizeState(state, {
        dtype: plan.quantize,
        ...(o['min-size'] === undefined ? {} : { minSize: o['min-size'] as number }),
        ...(o['keep-float32'] === undefined ? {} : { keepFloat32: o['keep-float32'] as string[] }),
        ...(calibration === undefined ? {} : { calibrate: { data: calibration, ...(o.tolerance === undefined ? {} : { tolerance: o.tolerance as number }) } }),
      });
      const lowered = r.weights.filter((w) => w.dtype !== 'float32').length;
      log(`${plan.quantize}: ${lowered} of ${r.weights.length} weights in ${plan.quantize}, weights ${r.float32Bytes} -> ${r.storedBytes} bytes${r.calibration === undefined ? '' : `; calibration kept ${r.calibration.keptFloat32.length} in float32 (${r.calibration.metric} ${round(r.calibration.float32)} float32, ${round(r.calibration.chosen)} chosen)`}`);
      steps.push({ step: 'quantize', dtype: plan.quantize, float32Bytes: r.float32Bytes, storedBytes: r.storedBytes, weights: r.weights, ...(r.calibration === undefined ? {} : { calibration: r.calibration }) });
    }

    const testAfter = testSet === undefined || before === undefined ? undefined : await score(state, await prepareSet(state, await manifest(state, testFile as string, true, () => {}), { file: testFile as string }), before.answers);
    const evaluation = before === undefined || testAfter === undefined ? undefined : {
      manifest: testFile, n: testAfter.n,
      before: { accuracy: before.accuracy, macroF1: before.macroF1 },
      after: { accuracy: testAfter.accuracy, macroF1: testAfter.macroF1 },
      agreement: testAfter.agreement,
    };
    const report = { source, engine: getEngineInfo()?.engine ?? 'unknown', steps, ...(evaluation === undefined ? {} : { evaluation }), skipped: skipped.map((s) => ({ file: s.file, line: s.line, sample: s.sample, field: s.field, code: s.code, reason: s.reason })), finishedAt: new Date().toISOString() };
    await writeModelOutput(state, out, { 'compress.json': report });
    const sizeAfter = await folderBytes(out);
    log(`wrote ${out}: ${sizeBefore} -> ${sizeAfter} bytes (${round((100 * sizeAfter) / sizeBefore, 1)}%)`);
    const json = { model: out, sizeBytes: { before: sizeBefore, after: sizeAfter, ratio: sizeAfter / sizeBefore }, ...report };
    const human = [
      `model: ${out}`,
      `size:  ${sizeBefore} -> ${sizeAfter} bytes (${round((100 * sizeAfter) / sizeBefore, 1)}%)`,
      ...steps.map((s) => `step:  ${s.step}${s.method !== undefined ? ` (${String(s.method)})` : s.dtype !== undefined ? ` (${String(s.dtype)})` : ''}`),
      ...(evaluation === undefined ? [] : [`test:  accuracy ${round(evaluation.before.accuracy)} -> ${round(evaluation.after.accuracy)}, agreement ${round(evaluation.agreement ?? Number.NaN)} (n ${evaluation.n})`]),
    ].join('\n');
    return { json, human };
  } finally {
    state.dispose();
  }
}
