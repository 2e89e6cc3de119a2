/**
 * The customer-service bot's voice-only requests through the word cascade of issue 16, measured: a
 * pretrained `audio/phonetic` folder hears each clip (greedy CTC phonemes), a lexicon decodes the phonemes
 * into words (`SpeechRecognizer`), and an intent model reads both the words (`text/ngram` over words and
 * character n-grams) and the phonemes (`text/ngram` over phoneme n-grams), late fusion.
 *
 * Training data, all from the typed training messages (English): each message typed (words only), its Flite
 * phonemes decoded into words (clean, and --copies corrupted copies at --noise phoneme error rate), and what
 * the recognizer hears on the synthesized training clips (--train-voice: the bot's messages in training
 * voices). Early stopping on the validation clips (validation messages in validation voices). Reported: the
 * test clips (test messages — wording never trained on — in held-out voices at held-out rates and pitches),
 * the same messages typed, and their reference phonemes (a perfect recogniser). With --bot-model DIR (a trained
 * bot, `bot.ts train`), also the bot's own fused model on the same test clips as `bot.ts` answers them (the heard
 * words as its text, the clip only when nothing was heard), with the clip beside the words, and the clip alone.
 *
 *   node --conditions=source --import tsx scripts/speech/measure-bot-cascade.ts --encoder DIR --lexicon FILE \
 *     --train-voice MANIFEST --valid-voice MANIFEST --test-voice MANIFEST [--copies 4] [--noise 0.15] [--out FILE]
 *
 * The voice manifests are `synthesizeCorpus` outputs whose `sourceId` is the bot message id (optionally
 * prefixed `cs-`); rows of other sources are ignored. --lexicon is a `buildLexicon` JSON (built from
 * training texts only). Writes only --out (a JSON summary with every test clip's transcript).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig, Sample } from '@mmfuse/fusion';
import { PHONEMES, SpeechRecognizer, corruptPhonemes, decodeWords, phonemize } from '@mmfuse/speech';
import type { Transcript } from '@mmfuse/speech';
import { askVoice } from '../../examples/customer-service/heard.js';
import type { VoiceAsk } from '../../examples/customer-service/heard.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = path.join(REPO, 'examples/customer-service/data');
const { values: o } = parseArgs({
  options: {
    encoder: { type: 'string' }, lexicon: { type: 'string' }, 'train-voice': { type: 'string' }, 'valid-voice': { type: 'string' }, 'test-voice': { type: 'string' },
    copies: { type: 'string', default: '4' }, noise: { type: 'string', default: '0.15' }, out: { type: 'string' }, 'bot-model': { type: 'string' },
  },
});
for (const k of ['encoder', 'lexicon', 'train-voice', 'valid-voice', 'test-voice'] as const) if (o[k] === undefined) throw new Error(`--${k} is required`);

type Row = Record<string, unknown> & { id: string };
const jl = (f: string): Row[] => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
const sourceOf = (r: Row): string => String(r.sourceId).replace(/^cs-/, '');
const english = (f: string): Row[] => jl(path.join(DATA, f)).filter((r) => typeof r.text === 'string' && r.lang === 'en' && r.audio === undefined);

/** The phoneme-and-word view of one request, as the intent model reads it. */
const view = (id: string, label: unknown, words: readonly string[], phonemes: readonly string[]): Sample => ({ id, fields: { words: words.join(' '), phonemes: phonemes.join(' '), intent: label } });

export const CASCADE_CONFIG: FusionModelConfig = {
  inputs: {
    words: { type: 'text', encoder: { kind: 'ngram', featureWeights: true } },
    phonemes: { type: 'text', encoder: { kind: 'ngram', featureWeights: true, wordNgrams: 4, charNgrams: false, tokenizer: { type: 'word', lowercase: true, maxLength: 128 } } },
  },
  fusion: { strategy: 'late', dModel: 128, dropout: 0.1, modalityDropout: 0.2 },
  output: { field: 'intent', type: 'category' },
  training: { epochs: 40, batchSize: 32, learningRate: 5e-3, warmupRatio: 0.05, weightDecay: 0.01, labelSmoothing: 0.1, earlyStoppingPatience: 8, seed: 42 },
};

async function heardClips(rec: SpeechRecognizer, manifest: string, keep: (source: string) => boolean): Promise<{ row: Row; t: Transcript }[]> {
  const rows = jl(manifest).filter((r) => keep(sourceOf(r)));
  const got = await rec.transcribe(rows.map((r) => ({ sample: r.id, audio: String(r.audio) })), { baseDir: path.dirname(manifest), allowOutsideBaseDir: true });
  return rows.flatMap((row, i) => {
    const t = got[i];
    if (t instanceof Error) {
      console.error(`skipped ${row.id}: ${t.message}`);
      return [];
    }
    return [{ row, t: t as Transcript }];
  });
}

async function main(): Promise<void> {
  await initEngine();
  const t0 = Date.now();
  const train = english('train.jsonl');
  const valid = english('valid.jsonl');
  const test = english('test.jsonl');
  const label = new Map<string, unknown>([...train, ...valid, ...test].map((r) => [r.id, r.label]));
  const rec = await SpeechRecognizer.load({ encoder: o.encoder as string, lexicon: o.lexicon as string });
  const lexicon = rec.lexicon!;
  const rng = createRng(16).fork('phoneme-noise');
  const noise = Number(o.noise);
  const samples: Sample[] = [];
  for (const r of train) {
    const ph = await phonemize(String(r.text));
    samples.push(view(`${r.id}~typed`, r.label, String(r.text).toLowerCase().split(/\s+/), ph));
    samples.push(view(`${r.id}~0`, r.label, decodeWords(ph, lexicon), ph));
    for (let c = 1; c <= Number(o.copies); c++) {
      const p = corruptPhonemes(ph, PHONEMES, { substitution: noise, deletion: noise / 2, insertion: noise / 3 }, rng);
      samples.push(view(`${r.id}~${c}`, r.label, decodeWords(p, lexicon), p));
    }
  }
  const trainIds = new Set(train.map((r) => r.id));
  const validIds = new Set(valid.map((r) => r.id));
  const testIds = new Set(test.map((r) => r.id));
  for (const { row, t } of await heardClips(rec, o['train-voice'] as string, (s) => trainIds.has(s))) samples.push(view(`voice-${row.id}`, label.get(sourceOf(row)), t.words ?? [], t.phonemes));
  const validation = (await heardClips(rec, o['valid-voice'] as string, (s) => validIds.has(s))).map(({ row, t }) => view(row.id, label.get(sourceOf(row)), t.words ?? [], t.phonemes));
  const testHeard = await heardClips(rec, o['test-voice'] as string, (s) => testIds.has(s));
  rec.dispose();
  const testRef: Sample[] = [];
  for (const { row } of testHeard) {
    const ph = String(row.phonemes).split(' ');
    testRef.push(view(row.id, label.get(sourceOf(row)), decodeWords(ph, lexicon), ph));
  }
  console.log(`train ${samples.length} views, validation ${validation.length} clips, test ${testHeard.length} clips; transcribed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const model = FusionModel.create(CASCADE_CONFIG);
  const h = await model.fit(samples, { validation, progress: 'none', log: () => undefined });
  const score = async (s: Sample[]): Promise<number> => (await model.evaluate(s, { ablation: false })).accuracy;
  const heard = testHeard.map(({ row, t }) => view(row.id, label.get(sourceOf(row)), t.words ?? [], t.phonemes));
  const typed = test.map((r) => ({ id: r.id, fields: { words: String(r.text), intent: r.label } }));
  const result = {
    epochs: h.epochs.length, bestEpoch: h.bestEpoch, seconds: (Date.now() - t0) / 1000,
    validationVoice: await score(validation), testVoice: await score(heard), testVoiceWordsOnly: await score(heard.map((s) => ({ id: s.id, fields: { words: s.fields.words, intent: s.fields.intent } }))),
    testReferencePhonemes: await score(testRef), testTyped: await score(typed), testClips: heard.length,
    transcripts: testHeard.map(({ row, t }) => ({ id: row.id, voice: row.voice, text: row.text, heard: (t.words ?? []).join(' '), phonemes: t.phonemes.join(' ') })),
  };
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  console.log(`RESULT voice-only test (unseen wording, held-out voices) ${pct(result.testVoice)} (words alone ${pct(result.testVoiceWordsOnly)}); reference phonemes ${pct(result.testReferencePhonemes)}; typed ${pct(result.testTyped)}; validation voice ${pct(result.validationVoice)}; ${result.testClips} clips, ${result.epochs} epochs (best ${result.bestEpoch}), ${result.seconds.toFixed(0)} s`);
  for (const t of result.transcripts.slice(0, 8)) console.log(`  ${t.voice}: "${t.text}" -> heard "${t.heard}"`);
  if (o['bot-model'] !== undefined) {
    const bot = await FusionModel.load(o['bot-model']);
    const manifestDir = path.dirname(o['test-voice'] as string);
    const asked = (how: VoiceAsk): Sample[] => testHeard.map(({ row, t }) => ({ id: row.id, fields: askVoice(how, { audio: path.resolve(manifestDir, String(row.audio)), label: label.get(sourceOf(row)) }, (t.words ?? []).join(' ')) }));
    const botHeard = (await bot.evaluate(asked('bot'), { ablation: false })).accuracy;
    const botHeardClip = (await bot.evaluate(asked('words+clip'), { ablation: false })).accuracy;
    const botAudio = (await bot.evaluate(asked('clip'), { ablation: false })).accuracy;
    Object.assign(result, { botModelHeard: botHeard, botModelHeardWithClip: botHeardClip, botModelAudioAlone: botAudio });
    console.log(`RESULT the bot's fused model on the same clips: the heard words (as bot.ts) ${pct(botHeard)}, heard words + clip ${pct(botHeardClip)}, the clip alone ${pct(botAudio)}`);
    bot.dispose();
  }
  if (o.out !== undefined) writeFileSync(o.out, `${JSON.stringify(result, null, 1)}\n`);
  model.dispose();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
