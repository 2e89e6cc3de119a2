/**
 * Image + audio: MNIST digits paired with spoken digits, where each modality alone is ambiguous by design
 * (see `pairs.ts` and the README). Trains a fused model, an image-only model and an audio-only model with the
 * same budget, evaluates them on the same test pairs, and writes the accuracies.
 *
 *   node --conditions=source --import tsx examples/image-audio/run.ts [--train N] [--valid N] [--test N] [--epochs N] [--out DIR]
 *
 * Defaults: 2000 / 300 / 1000 pairs, the epochs of config.json, output in examples/image-audio/out/
 * (git-ignored): the generated pairs, and results.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine } from '@mmfuse/core';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';
import { FusionModel, normalizeConfig } from '@mmfuse/fusion';
import { loadSamples, onlyInputs, percent, readExampleConfig, seconds } from '../common/example-config.js';
import { buildPairs } from './pairs.js';
import type { PairSizes } from './pairs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    train: { type: 'string', default: '2000' },
    valid: { type: 'string', default: '300' },
    test: { type: 'string', default: '1000' },
    epochs: { type: 'string' },
    seed: { type: 'string', default: '11' },
    out: { type: 'string', default: path.join(HERE, 'out') },
  },
});

function count(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 10) throw new Error(`--${name} must be an integer >= 10, got ${JSON.stringify(v)}`);
  return n;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

interface Result { model: string; inputs: string[]; accuracy: number; macroF1: number; n: number; trainSeconds: number; epochs: number }

async function main(): Promise<void> {
  await initEngine();
  const sizes: PairSizes = { train: count('train', opts.train), valid: count('valid', opts.valid), test: count('test', opts.test) };
  const seed = Number(opts.seed);
  const pairsDir = path.join(opts.out!, `pairs-${sizes.train}-${sizes.valid}-${sizes.test}-s${seed}`);
  const stamp = path.join(pairsDir, 'done.json');
  if (!existsSync(stamp)) {
    const t = Date.now();
    await buildPairs({ outDir: pairsDir, sizes, seed, digitsDir: path.join(HERE, 'data', 'digits') });
    writeFileSync(stamp, JSON.stringify({ sizes, seed }));
    console.log(`built ${sizes.train}/${sizes.valid}/${sizes.test} pairs in ${seconds(Date.now() - t)} → ${path.relative(process.cwd(), pairsDir)}`);
  }
  const train = await loadSamples(path.join(pairsDir, 'train.jsonl'), ['image', 'audio']);
  const valid = await loadSamples(path.join(pairsDir, 'valid.jsonl'), ['image', 'audio']);
  const test = await loadSamples(path.join(pairsDir, 'test.jsonl'), ['image', 'audio']);

  const cfg = await readExampleConfig(path.join(HERE, 'config.json'));
  const variants: Array<{ name: string; inputs: string[] }> = [
    { name: 'image only', inputs: ['image'] },
    { name: 'audio only', inputs: ['audio'] },
    { name: 'fused', inputs: ['image', 'audio'] },
  ];
  const results: Result[] = [];
  for (const v of variants) {
    const config = normalizeConfig(onlyInputs(cfg.model, v.inputs));
    if (opts.epochs !== undefined) config.training.epochs = positive('epochs', opts.epochs);
    config.training.seed = seed;
    console.log(`\n${v.name}: training on ${train.length} pairs, ${config.training.epochs} epochs at most`);
    const started = Date.now();
    const model = FusionModel.create(config);
    const history = await model.fit(train, { validation: valid });
    const epochs = history.epochs.length;
    const trainSeconds = (Date.now() - started) / 1000;
    const r = await model.evaluate(test);
    results.push({ model: v.name, inputs: v.inputs, accuracy: r.accuracy, macroF1: r.macroF1, n: r.n, trainSeconds, epochs });
    console.log(`${v.name}: test accuracy ${percent(r.accuracy)} on ${r.n} pairs (trained ${trainSeconds.toFixed(0)} s)`);
    model.dispose();
  }

  console.log('\n| model | test accuracy | macro-F1 | training |');
  console.log('| --- | --- | --- | --- |');
  for (const r of results) console.log(`| ${r.model} | ${percent(r.accuracy)} | ${r.macroF1.toFixed(3)} | ${r.epochs} epochs, ${r.trainSeconds.toFixed(0)} s |`);
  mkdirSync(opts.out!, { recursive: true });
  const file = path.join(opts.out!, 'results.json');
  writeFileSync(file, `${JSON.stringify({ sizes, seed, config: JSON.parse(readFileSync(path.join(HERE, 'config.json'), 'utf8')), results }, null, 2)}\n`);
  console.log(`\nwritten ${path.relative(process.cwd(), file)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
