/**
 * Builds the English speech encoder that the customer-service bot ships and that Banking77 reuses: synthesize
 * a broad English corpus in the training voices of `examples/common/speech-voices.ts`, then pretrain
 * `audio/phonetic` on its phonemes with CTC (checkpointed every epoch; rerunning resumes).
 *
 *   node --conditions=source --import tsx scripts/speech/pretrain-english.ts OUT [--banking DIR] [--step all|synthesize|pretrain|evaluate]
 *        [--epochs N] [--per-text N] [--jobs N]
 *   ... --step lexicon: OUT/lexicon.json, every word of the training texts (Banking77 less the validation
 *        queries, and the bot's training messages) phonemized by Flite, for `SpeechRecognizer`.
 *
 * Texts (never a test text of either example):
 * - Banking77 `train.csv` (10,003 queries; CC BY 4.0, read in place from --banking, $BANKING77_DIR or
 *   ../shared/datasets/banking77 beside the repository), less 300 queries kept for validation;
 * - the bot's English training messages (`examples/customer-service/data/train.jsonl`).
 * Voices: training corpus = `trainVoices()` (both engines, taking turns per text; --per-text voices per
 * Banking77 query, 4 per bot message); validation corpus = the 300 kept queries and the bot's English
 * validation messages in `validationVoices()`; test corpus (`--step evaluate`, reported, never used for
 * choices) = the same texts in `testVoices()`.
 * Writes only under OUT: the texts-NAME.jsonl files, the speech-NAME folders (synthesize outputs), corpus.jsonl, encoder/ (the
 * pretrained folder, checkpoint/ inside while training), evaluate.json and lexicon.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, initEngine, loadManifest } from '@mmfuse/core';
import { buildLexicon, synthesizeCorpus } from '@mmfuse/speech';
import { TEST_SPEAKERS, VALIDATION_SPEAKERS, testVoices, trainVoices, validationVoices } from '../../examples/common/speech-voices.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    banking: { type: 'string' },
    step: { type: 'string', default: 'all' },
    epochs: { type: 'string', default: '8' },
    'per-text': { type: 'string', default: '2' },
    jobs: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '24' },
    lr: { type: 'string', default: '2e-3' },
  },
});
const OUT = path.resolve(positionals[0] ?? '/tmp/mmfuse-english-speech');
const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

/** The encoder architecture of the shipped encoder. */
export const ENCODER = { convChannels: [128, 128], hiddenSize: 128, layers: 2, dropout: 0.1, nMels: 40 };
const VALIDATION_TEXTS = 300;

function bankingDir(): string {
  const candidates = [opts.banking, process.env.BANKING77_DIR, path.join(REPO, '..', 'shared', 'datasets', 'banking77'), path.join(REPO, '..', '..', 'shared', 'datasets', 'banking77')];
  for (const c of candidates) if (c !== undefined && existsSync(path.join(c, 'train.csv'))) return path.resolve(c);
  throw new Error('Banking77 not found: pass --banking DIR (the folder with train.csv) or set BANKING77_DIR');
}

const writeJsonl = (file: string, rows: object[]): void => writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);

async function texts(): Promise<void> {
  const { samples } = await loadManifest(path.join(bankingDir(), 'train.csv'), { fields: { text: 'string', category: 'label' }, required: ['text'] });
  const order = createRng(2026).fork('english-validation').permutation(samples.length);
  const held = new Set(order.slice(0, VALIDATION_TEXTS));
  const banking = samples.map((s, i) => ({ id: `b${i}`, text: String(s.fields.text).trim() }));
  const bot = (file: string): { id: string; text: string }[] => readFileSync(path.join(REPO, 'examples/customer-service/data', file), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { id: string; text?: string; lang: string }).filter((r) => r.text !== undefined && r.lang === 'en').map((r) => ({ id: `cs-${r.id}`, text: r.text as string }));
  writeJsonl(path.join(OUT, 'texts-banking.jsonl'), banking.filter((_, i) => !held.has(i)));
  writeJsonl(path.join(OUT, 'texts-bot.jsonl'), bot('train.jsonl'));
  writeJsonl(path.join(OUT, 'texts-validation.jsonl'), [...banking.filter((_, i) => held.has(i)), ...bot('valid.jsonl')]);
}

async function synthesize(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  await texts();
  const jobs = int('jobs', opts.jobs);
  const parts: [string, string, ReturnType<typeof trainVoices>, number][] = [
    ['texts-bot.jsonl', 'speech-bot', trainVoices(), 4],
    ['texts-validation.jsonl', 'speech-validation', validationVoices(), 1],
    ['texts-validation.jsonl', 'speech-test', testVoices(), 1],
    ['texts-banking.jsonl', 'speech-banking', trainVoices(), int('per-text', opts['per-text'])],
  ];
  const lines: string[] = [];
  for (const [texts, dir, voices, perText] of parts) {
    const t0 = Date.now();
    let last = 0;
    const r = await synthesizeCorpus({
      manifest: path.join(OUT, texts), out: path.join(OUT, dir), voices, perText, concurrency: jobs,
      onProgress: (d, n) => { if (d - last >= 500 || d === n) { last = d; console.log(`${dir}: ${d}/${n} (${((Date.now() - t0) / 1000).toFixed(0)} s)`); } },
    });
    console.log(`${dir}: ${r.clips} clips (${r.written} new, ${r.reused} reused) in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${r.failed.length} failed${r.failed[0] === undefined ? '' : ` (first: ${r.failed[0].message})`}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    if (dir === 'speech-test') continue; // never trained on, never used to choose anything
    for (const l of readFileSync(r.manifest, 'utf8').split('\n')) {
      if (l === '') continue;
      const row = JSON.parse(l) as { audio: string };
      lines.push(JSON.stringify({ ...row, audio: `${dir}/${row.audio}` }));
    }
  }
  writeFileSync(path.join(OUT, 'corpus.jsonl'), `${lines.join('\n')}\n`);
}

async function pretrain(): Promise<void> {
  const { pretrainSpeechEncoder } = await import('@mmfuse/speech');
  const r = await pretrainSpeechEncoder({
    manifest: path.join(OUT, 'corpus.jsonl'),
    out: path.join(OUT, 'encoder'),
    heldOutSpeakers: VALIDATION_SPEAKERS,
    epochs: int('epochs', opts.epochs),
    batchSize: int('batch-size', opts['batch-size']),
    learningRate: Number(opts.lr),
    encoder: ENCODER,
    resume: true,
    log: (l) => console.log(`${l} [load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}]`),
  });
  console.log(JSON.stringify({ heldOutPer: r.heldOutPer, bestEpoch: r.bestEpoch, trainClips: r.trainClips, heldOutClips: r.heldOutClips, parameters: r.parameters, seconds: r.seconds }, null, 1));
}

async function evaluate(): Promise<void> {
  const { evaluateSpeechEncoder } = await import('@mmfuse/speech');
  const r = await evaluateSpeechEncoder({ encoder: path.join(OUT, 'encoder'), manifest: path.join(OUT, 'speech-test', 'manifest.jsonl') });
  const bySpeaker = r.bySpeaker;
  console.log(`test speakers (${TEST_SPEAKERS.length} held out): PER ${(100 * r.per).toFixed(1)}% on ${r.clips} clips`);
  writeFileSync(path.join(OUT, 'evaluate.json'), `${JSON.stringify({ per: r.per, clips: r.clips, bySpeaker, examples: r.examples }, null, 1)}\n`);
}

async function lexicon(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(path.join(OUT, 'texts-banking.jsonl'))) await texts();
  const read = (f: string): string[] => readFileSync(path.join(OUT, f), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
  const lex = await buildLexicon([...read('texts-banking.jsonl'), ...read('texts-bot.jsonl')]);
  writeFileSync(path.join(OUT, 'lexicon.json'), `${JSON.stringify(lex)}\n`);
  console.log(`lexicon: ${lex.words.length} words -> ${path.join(OUT, 'lexicon.json')}`);
}

async function main(): Promise<void> {
  await initEngine();
  const step = opts.step!;
  if (!['all', 'synthesize', 'pretrain', 'evaluate', 'lexicon'].includes(step)) throw new Error(`--step must be all, synthesize, pretrain, evaluate or lexicon, got ${step}`);
  if (step === 'all' || step === 'synthesize') await synthesize();
  if (step === 'all' || step === 'pretrain') await pretrain();
  if (step === 'all' || step === 'evaluate') await evaluate();
  if (step === 'all' || step === 'lexicon') await lexicon();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
