/**
 * Banking77 voice-only through the word cascade of issue 16, measured: a seeded subset of the test queries
 * (wording never trained on, by the speech encoder nor the text model) spoken by held-out voices at held-out
 * rates and pitches (`testVoices()`), heard by a pretrained `audio/phonetic` folder and decoded into lexicon words
 * (`SpeechRecognizer`), then classified by the recommended text recipe (bench/selection/banking77-measure.json)
 * trained on typed train.csv queries (the benchmark's seeded 15% validation split for early stopping). With
 * --noisy-copies N, the text model also learns from N copies of each training query whose phonemes (the
 * lexicon's pronunciations of its words) were corrupted at --noise and decoded back into words.
 * Reported: the same queries typed, heard (voice only), the ratio, and typed + heard fused late (a request that
 * comes typed and spoken): log p(y | typed) + w log p(y | heard), with w = 1 (the two distributions multiplied)
 * and with w chosen on validation clips — --fusion-validation N queries of the text model's validation split
 * (never trained on by it; the speech encoder heard these texts in other voices) spoken by the pretraining's
 * validation speakers.
 *
 *   node --conditions=source --import tsx scripts/speech/measure-banking-voice.ts --encoder DIR --lexicon FILE \
 *     --work DIR [--limit 1000] [--fusion-validation 400] [--noisy-copies 0] [--noise 0.15] [--banking DIR]
 *
 * Writes only under --work: texts-test.jsonl, speech-test/, texts-validation.jsonl, speech-validation/
 * (synthesizeCorpus outputs; rerunning reuses their clips) and result.json. Banking77 (CC BY 4.0, PolyAI) is read in place.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createRng, initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { Sample } from '@mmfuse/fusion';
import { PHONEMES, SpeechRecognizer, corruptPhonemes, decodeWords, lexiconWords, synthesizeCorpus } from '@mmfuse/speech';
import type { Transcript } from '@mmfuse/speech';
import { holdOut, readBanking77, samplesOf } from '../../bench/text-data.js';
import { configOf } from '../../bench/text-select.js';
import type { Variant } from '../../bench/text-select.js';
import { testVoices, validationVoices } from '../../examples/common/speech-voices.js';

const { values: o } = parseArgs({
  options: {
    encoder: { type: 'string' }, lexicon: { type: 'string' }, work: { type: 'string' }, banking: { type: 'string' },
    limit: { type: 'string', default: '1000' }, 'fusion-validation': { type: 'string', default: '400' }, 'noisy-copies': { type: 'string', default: '0' }, noise: { type: 'string', default: '0.15' },
  },
});
for (const k of ['encoder', 'lexicon', 'work'] as const) if (o[k] === undefined) throw new Error(`--${k} is required`);
const WORK = path.resolve(o.work as string);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  await initEngine();
  const t0 = Date.now();
  mkdirSync(WORK, { recursive: true });
  const test = readBanking77('test', o.banking);
  const order = createRng(77).fork('voice-test-subset').permutation(test.length);
  const subset = order.slice(0, Math.min(Number(o.limit), test.length)).map((i) => test[i] as (typeof test)[number]);
  writeFileSync(path.join(WORK, 'texts-test.jsonl'), `${subset.map((r) => JSON.stringify({ id: r.id, text: r.text, intent: r.label })).join('\n')}\n`);
  const corpus = await synthesizeCorpus({ manifest: path.join(WORK, 'texts-test.jsonl'), out: path.join(WORK, 'speech-test'), voices: testVoices(), perText: 1, concurrency: 2 });
  console.log(`test speech: ${corpus.clips} clips (${corpus.written} new), ${corpus.failed.length} failed; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const rows = readFileSync(corpus.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; sourceId: string; text: string; intent: string; audio: string; voice: string });

  const rec = await SpeechRecognizer.load({ encoder: o.encoder as string, lexicon: o.lexicon as string });
  const lexicon = rec.lexicon!;
  const heard = await rec.transcribe(rows.map((r) => ({ sample: r.id, audio: r.audio })), { baseDir: path.dirname(corpus.manifest) });
  console.log(`transcribed ${rows.length} clips; ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const variant = (JSON.parse(readFileSync(new URL('../../bench/selection/banking77-measure.json', import.meta.url), 'utf8')) as Variant[])[0] as Variant;
  const { train, heldOut } = holdOut(readBanking77('train', o.banking), 0.15, 2020);
  const trainSamples: Sample[] = samplesOf(train);
  const copies = Number(o['noisy-copies']);
  if (copies > 0) {
    const pron = new Map(lexicon.words.map((w, i) => [w, (lexicon.pronunciations[i] as string).split(' ')]));
    const rng = createRng(16).fork('banking-phoneme-noise');
    const noise = Number(o.noise);
    for (const r of train) {
      const ph = lexiconWords(r.text).flatMap((w) => pron.get(w) ?? []);
      for (let c = 1; c <= copies; c++) {
        const words = decodeWords(corruptPhonemes(ph, PHONEMES, { substitution: noise, deletion: noise / 2, insertion: noise / 3 }, rng), lexicon);
        if (words.length > 0) trainSamples.push({ id: `${r.id}~${c}`, fields: { text: words.join(' '), intent: r.label } });
      }
    }
  }
  const model = FusionModel.create(configOf(variant));
  const h = await model.fit(trainSamples, { validation: samplesOf(heldOut), progress: 'none', log: () => undefined });
  console.log(`text model (${variant.name}, ${trainSamples.length} training texts): ${h.epochs.length} epochs; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const label = (i: number): string => (rows[i] as (typeof rows)[number]).intent;
  /** The words a clip was heard as, for the text model ('(nothing heard)' for none or an unreadable clip). */
  const heardText = (t: Transcript | Error | undefined): string => {
    const words = t === undefined || t instanceof Error ? [] : (t.words ?? []);
    return words.length === 0 ? '(nothing heard)' : words.join(' ');
  };
  const typed = await model.evaluate(rows.map((r, i) => ({ id: r.id, fields: { text: r.text, intent: label(i) } })), { ablation: false });
  const spoken = rows.map((r, i) => ({ id: r.id, fields: { text: heardText(heard[i]), intent: label(i) } }));
  const voice = await model.evaluate(spoken, { ablation: false });
  // Typed + spoken: log p(y | typed) + w log p(y | heard).
  const probs = async (texts: string[]): Promise<Record<string, number>[]> =>
    (await model.predictBatch(texts.map((text) => ({ text })), { contributions: false })).map((o, i) => {
      if (!o.ok) throw new Error(`request ${i}: ${o.error.message}`);
      return o.value.probabilities as Record<string, number>;
    });
  const fusedAccuracyOf = (pTyped: Record<string, number>[], pHeard: Record<string, number>[], truth: string[], w: number): number => truth.filter((t, i) => {
    const a = pTyped[i] as Record<string, number>;
    const b = pHeard[i] as Record<string, number>;
    let best = '';
    let bestScore = -Infinity;
    for (const l of Object.keys(a)) {
      const s = Math.log(Math.max(a[l] as number, 1e-12)) + w * Math.log(Math.max(b[l] as number, 1e-12));
      if (s > bestScore) { bestScore = s; best = l; }
    }
    return best === t;
  }).length / truth.length;
  // The weight, chosen on validation clips (ties: the smaller weight).
  let weight = 0;
  let validationFused: { w: number; accuracy: number }[] = [];
  let validationVoice: number | null = null;
  const nValidation = Math.min(Number(o['fusion-validation']), heldOut.length);
  if (nValidation > 0) {
    const vOrder = createRng(78).fork('voice-validation-subset').permutation(heldOut.length);
    const vRows = vOrder.slice(0, nValidation).map((i) => heldOut[i] as (typeof heldOut)[number]);
    writeFileSync(path.join(WORK, 'texts-validation.jsonl'), `${vRows.map((r) => JSON.stringify({ id: r.id, text: r.text, intent: r.label })).join('\n')}\n`);
    const vCorpus = await synthesizeCorpus({ manifest: path.join(WORK, 'texts-validation.jsonl'), out: path.join(WORK, 'speech-validation'), voices: validationVoices(), perText: 1, concurrency: 2 });
    const vClips = readFileSync(vCorpus.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text: string; intent: string; audio: string });
    const vHeard = await rec.transcribe(vClips.map((r) => ({ sample: r.id, audio: r.audio })), { baseDir: path.dirname(vCorpus.manifest) });
    const vTyped = await probs(vClips.map((r) => r.text));
    const vSpoken = await probs(vClips.map((_, i) => heardText(vHeard[i])));
    validationFused = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1].map((w) => ({ w, accuracy: fusedAccuracyOf(vTyped, vSpoken, vClips.map((r) => r.intent), w) }));
    weight = validationFused.reduce((b, c) => (c.accuracy > b.accuracy ? c : b)).w;
    // Voice only on the validation clips: what a decoder change should be chosen by.
    validationVoice = vClips.filter((r, i) => Object.entries(vSpoken[i] as Record<string, number>).reduce((b, c) => (c[1] > b[1] ? c : b))[0] === r.intent).length / vClips.length;
    console.log(`fusion weight on validation (${vClips.length} clips, validation speakers): ${validationFused.map((v) => `${v.w}: ${pct(v.accuracy)}`).join(', ')} -> ${weight}; voice only ${pct(validationVoice)}`);
  }
  const pTyped = await probs(rows.map((r) => r.text));
  const pHeard = await probs(spoken.map((s) => s.fields.text));
  const truth = rows.map((_, i) => label(i));
  const fusedAccuracy = fusedAccuracyOf(pTyped, pHeard, truth, 1);
  const fusedWeightedAccuracy = fusedAccuracyOf(pTyped, pHeard, truth, weight);
  model.dispose();
  rec.dispose();
  const result = {
    clips: rows.length, failed: heard.filter((t) => t instanceof Error).length, typedAccuracy: typed.accuracy, voiceAccuracy: voice.accuracy, ratio: voice.accuracy / typed.accuracy, fusedAccuracy, fusionWeight: weight, fusedWeightedAccuracy, validationFused, validationVoice,
    noisyCopies: copies, noise: Number(o.noise), variant: variant.name, seconds: (Date.now() - t0) / 1000,
    examples: rows.slice(0, 20).map((r, i) => ({ voice: r.voice, text: r.text, heard: spoken[i]?.fields.text })),
  };
  writeFileSync(path.join(WORK, 'result.json'), `${JSON.stringify(result, null, 1)}\n`);
  console.log(`RESULT Banking77 voice only (${rows.length} test queries, held-out voices): ${pct(voice.accuracy)}; the same queries typed ${pct(typed.accuracy)}; ratio ${result.ratio.toFixed(2)}; typed + heard fused ${pct(fusedAccuracy)} (equal weights), ${pct(fusedWeightedAccuracy)} (heard weighted ${weight}, chosen on validation)`);
  for (const e of result.examples.slice(0, 6)) console.log(`  ${e.voice}: "${e.text}" -> "${String(e.heard)}"`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
