/**
 * How far the customer-service bot's voice-only requests get through a phoneme cascade, as a measurement for
 * issue 16 (not a shipped recipe): a pretrained `audio/phonetic` folder decodes each clip greedily into
 * phonemes (CTC), and a `text/ngram` model over phoneme n-grams (the phoneme symbols as words, word n-grams
 * up to --ngrams, no character n-grams) classifies the transcript. Training transcripts: the English typed
 * training messages phonemized by Flite (plus --copies corrupted copies each, `corruptPhonemes`) and, unless
 * --typed-only, what the encoder hears on synthesized clips of those messages (--train-voice). Model choice
 * (early stopping) on the validation voice clips; reported: the test clips (unseen wording, held-out voices)
 * as heard, and the same clips' reference phonemes (what a perfect recogniser would give).
 *
 *   node --conditions=source --import tsx scripts/speech/measure-phoneme-ngram.ts --encoder DIR \
 *     --train-voice MANIFEST --valid-voice MANIFEST --test-voice MANIFEST [--ngrams 3] [--copies 0] [--typed-only]
 *
 * The voice manifests are `synthesizeCorpus` outputs as for scripts/speech/measure-bot-voice.ts. Writes nothing.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig, Sample } from '@mmfuse/fusion';
import { PHONEMES, SpeechRecognizer, corruptPhonemes, phonemize } from '@mmfuse/speech';
import type { Transcript } from '@mmfuse/speech';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = path.join(REPO, 'examples/customer-service/data');
const { values: o } = parseArgs({
  options: {
    encoder: { type: 'string' }, 'train-voice': { type: 'string' }, 'valid-voice': { type: 'string' }, 'test-voice': { type: 'string' },
    ngrams: { type: 'string', default: '3' }, copies: { type: 'string', default: '0' }, 'typed-only': { type: 'boolean', default: false },
  },
});
for (const k of ['encoder', 'train-voice', 'valid-voice', 'test-voice'] as const) if (o[k] === undefined) throw new Error(`--${k} is required`);

type Row = Record<string, unknown> & { id: string };
const jl = (f: string): Row[] => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
const sourceOf = (r: Row): string => String(r.sourceId).replace(/^cs-/, '');

/** Each clip of `manifest` with what the recognizer hears (greedy CTC phonemes). */
async function heard(rec: SpeechRecognizer, manifest: string): Promise<(Row & { heard: string })[]> {
  const rows = jl(manifest);
  const got = await rec.transcribe(rows.map((r) => ({ sample: r.id, audio: String(r.audio) })), { baseDir: path.dirname(manifest), allowOutsideBaseDir: true });
  return rows.map((r, i) => {
    const t = got[i];
    if (t instanceof Error) throw t;
    return { ...r, heard: (t as Transcript).phonemes.join(' ') };
  });
}

async function main(): Promise<void> {
  await initEngine();
  const labels = new Map<string, unknown>();
  for (const f of ['train', 'valid', 'test']) for (const r of jl(path.join(DATA, `${f}.jsonl`))) labels.set(r.id, r.label);
  const trainRows = jl(path.join(DATA, 'train.jsonl'));
  const trainIds = new Set(trainRows.map((r) => r.id));
  const rec = await SpeechRecognizer.load({ encoder: o.encoder as string });
  const rng = createRng(1).fork('phoneme-copies');
  const train: Sample[] = [];
  for (const r of trainRows) {
    if (typeof r.text !== 'string' || r.audio !== undefined || r.lang !== 'en') continue;
    const ph = await phonemize(r.text);
    train.push({ id: r.id, fields: { text: ph.join(' '), intent: r.label } });
    for (let c = 1; c <= Number(o.copies); c++) {
      train.push({ id: `${r.id}~${c}`, fields: { text: corruptPhonemes(ph, PHONEMES, { substitution: 0.1, deletion: 0.08, insertion: 0.05 }, rng).join(' '), intent: r.label } });
    }
  }
  if (!o['typed-only']) {
    for (const r of await heard(rec, o['train-voice'] as string)) if (trainIds.has(sourceOf(r))) train.push({ id: `voice-${r.id}`, fields: { text: r.heard, intent: labels.get(sourceOf(r)) } });
  }
  const validation = (await heard(rec, o['valid-voice'] as string)).filter((r) => labels.has(sourceOf(r)) && !trainIds.has(sourceOf(r)))
    .map((r) => ({ id: r.id, fields: { text: r.heard, intent: labels.get(sourceOf(r)) } }));
  const testRows = await heard(rec, o['test-voice'] as string);
  rec.dispose();
  const test = testRows.map((r) => ({ id: r.id, fields: { text: r.heard, intent: labels.get(sourceOf(r)) } }));
  const reference = testRows.map((r) => ({ id: r.id, fields: { text: String(r.phonemes), intent: labels.get(sourceOf(r)) } }));
  console.log(`train ${train.length} transcripts, validation ${validation.length} clips, test ${test.length} clips`);
  const config: FusionModelConfig = {
    inputs: { text: { type: 'text', encoder: { kind: 'ngram', featureWeights: true, wordNgrams: Number(o.ngrams), charNgrams: false, tokenizer: { type: 'word', lowercase: true, maxLength: 128 } } } },
    fusion: { strategy: 'late', dModel: 128, dropout: 0.1, modalityDropout: 0 },
    output: { field: 'intent', type: 'category' },
    training: { epochs: 40, batchSize: 32, learningRate: 5e-3, warmupRatio: 0.05, weightDecay: 0.01, labelSmoothing: 0.1, earlyStoppingPatience: 8, seed: 42 },
  };
  const model = FusionModel.create(config);
  const h = await model.fit(train, { validation, progress: 'none', log: () => undefined });
  const v = await model.evaluate(validation, { ablation: false });
  const t = await model.evaluate(test, { ablation: false });
  const ref = await model.evaluate(reference, { ablation: false });
  console.log(`RESULT ngrams ${o.ngrams}, copies ${o.copies}${o['typed-only'] ? ', typed only' : ''}: ${h.epochs.length} epochs (best ${h.bestEpoch}); validation ${(100 * v.accuracy).toFixed(1)}%, test heard ${(100 * t.accuracy).toFixed(1)}%, test reference phonemes ${(100 * ref.accuracy).toFixed(1)}% (${t.n} clips)`);
  model.dispose();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
