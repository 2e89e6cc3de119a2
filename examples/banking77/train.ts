/**
 * Banking77 with synthesized speech: trains a text-only, a voice-only and a fused model on the output of
 * `synthesize.ts`, evaluates each on the official test split, and writes the accuracies. Long-running
 * (not run in tests).
 *
 *   node --conditions=source --import tsx examples/banking77/train.ts [--out DIR] [--only text,voice,fused] [--epochs N] [--limit N] [--evaluate-only]
 *
 * --out     Folder written by synthesize.ts (train.jsonl, test.jsonl, clips/); default examples/banking77/out.
 * --only    Comma-separated subset of the three models; default all.
 * --epochs  Override config.json's epochs.
 * --limit   Use only the first N training samples (a quick trial).
 * --evaluate-only  Do not train: load OUT/models/<name>/ and evaluate it again on the test split.
 *
 * Writes OUT/results.json (merged across runs, so models can be trained one at a time) and OUT/models/<name>/.
 * Each result has `ablation`: test accuracy with one input removed from every sample (fused model only).
 * Ctrl-C stops training after the current step and still saves and evaluates the model.
 * Validation: 10% of the training set (fusion's `validationSplit`), so the test split is touched once.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { FusionModel, normalizeConfig, type EvaluationReport } from '@mmfuse/fusion';
import { loadSamples, onlyInputs, percent, readExampleConfig, seconds } from '../common/example-config.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(HERE, 'out') },
    only: { type: 'string', default: 'text,voice,fused' },
    epochs: { type: 'string' },
    limit: { type: 'string' },
    'evaluate-only': { type: 'boolean', default: false },
  },
});

const VARIANTS: Record<string, string[]> = { text: ['text'], voice: ['audio'], fused: ['text', 'audio'] };

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<void> {
  const out = path.resolve(opts.out!);
  if (!existsSync(path.join(out, 'train.jsonl'))) {
    throw new Error(`${out}/train.jsonl not found: run examples/banking77/synthesize.ts first (see examples/banking77/README.md)`);
  }
  const names = opts.only!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) if (!(n in VARIANTS)) throw new Error(`--only: unknown model "${n}"; use text, voice and/or fused`);
  const evaluateOnly = opts['evaluate-only'] === true;
  if (evaluateOnly && (opts.epochs !== undefined || opts.limit !== undefined)) throw new Error('--evaluate-only trains nothing: drop --epochs and --limit');
  await initEngine();
  let train = evaluateOnly ? [] : await loadSamples(path.join(out, 'train.jsonl'), ['audio']);
  if (opts.limit !== undefined) train = train.slice(0, positive('limit', opts.limit));
  const test = await loadSamples(path.join(out, 'test.jsonl'), ['audio']);
  const cfg = await readExampleConfig(path.join(HERE, 'config.json'));

  const resultsFile = path.join(out, 'results.json');
  for (const name of names) {
    if (evaluateOnly) {
      const model = await FusionModel.load(path.join(out, 'models', name));
      const r = await model.evaluate(test);
      console.log(`${name}: test accuracy ${percent(r.accuracy)} (macro-F1 ${r.macroF1.toFixed(3)}) on ${r.n} samples${ablationText(r.ablation)}`);
      writeResult(resultsFile, name, { accuracy: r.accuracy, macroF1: r.macroF1, n: r.n, ablation: ablationOf(r.ablation) });
      model.dispose();
      continue;
    }
    const config = normalizeConfig(onlyInputs(cfg.model, VARIANTS[name]!));
    if (opts.epochs !== undefined) config.training.epochs = positive('epochs', opts.epochs);
    console.log(`\n${name}: training on ${train.length} samples, ${config.training.epochs} epochs at most`);
    const started = Date.now();
    const model = FusionModel.create(config);
    // Ctrl-C stops training after the current step; the model as it stands is still saved and evaluated.
    const controller = new AbortController();
    const onInterrupt = (): void => { console.log('\ninterrupted: stopping after the current step, then evaluating'); controller.abort(); };
    process.once('SIGINT', onInterrupt);
    const history = await model.fit(train, { cacheDir: path.join(out, 'cache'), signal: controller.signal });
    process.off('SIGINT', onInterrupt);
    const trainSeconds = (Date.now() - started) / 1000;
    await model.save(path.join(out, 'models', name));
    const r = await model.evaluate(test);
    console.log(`${name}: test accuracy ${percent(r.accuracy)} (macro-F1 ${r.macroF1.toFixed(3)}) on ${r.n} samples; trained in ${trainSeconds.toFixed(0)} s${ablationText(r.ablation)}`);
    const validation = history.epochs.map((e) => e.valAccuracy ?? null);
    writeResult(resultsFile, name, { accuracy: r.accuracy, macroF1: r.macroF1, n: r.n, trainSamples: train.length, trainSeconds, epochs: history.epochs.length, bestEpoch: history.bestEpoch, interrupted: history.interrupted, inputs: VARIANTS[name], validationAccuracy: validation, ablation: ablationOf(r.ablation) }, true);
    model.dispose();
  }
  console.log(`\nwritten ${path.relative(process.cwd(), resultsFile)}`);
}

type Ablation = EvaluationReport['ablation'];

/** Ablation of a model with more than one input (a single-input model has nothing to remove). */
function ablationOf(a: Ablation): Record<string, { accuracy: number; macroF1: number }> | undefined {
  if (a === undefined || Object.keys(a).length < 2) return undefined;
  return Object.fromEntries(Object.entries(a).map(([field, s]) => [`without ${field}`, { accuracy: s.accuracy, macroF1: s.macroF1 }]));
}

function ablationText(a: Ablation): string {
  const ab = ablationOf(a);
  return ab === undefined ? '' : `; ${Object.entries(ab).map(([k, s]) => `${k}: ${percent(s.accuracy)}`).join(', ')}`;
}

/**
 * Merge one model's result into results.json. Re-read just before writing, so runs of different models in
 * parallel do not drop each other's results. `replace` drops the model's previous entry (a new training run);
 * otherwise the new fields update it (a re-evaluation keeps the training figures).
 */
function writeResult(file: string, name: string, result: Record<string, unknown>, replace = false): void {
  const results = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>> : {};
  const defined = Object.fromEntries(Object.entries(result).filter(([, v]) => v !== undefined));
  results[name] = replace ? defined : { ...(results[name] ?? {}), ...defined };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
