/**
 * Measures the customer-service bot's voice-only accuracy with the issue-16 recipe: a pretrained
 * `audio/phonetic` folder (frozen, output `phonemes`, a trainable reader), the typed training messages with
 * their phoneme transcripts (`phonemeTextLoss`: text -> voice through phonemes), synthesized voice for the
 * training messages (paired with their text; `modalityDistillationLoss` text -> voice), optionally CTC.
 * Prints voice-only accuracy on clips of the test messages in held-out voices, typed-only and both.
 *
 *   node --conditions=source --import tsx scripts/speech/measure-bot-voice.ts --encoder DIR \
 *     --train-voice MANIFEST --valid-voice MANIFEST --test-voice MANIFEST [--epochs N] [--cache DIR] [--ctc] [--no-distill] [--no-text-phonemes]
 *
 * The voice manifests are `synthesizeCorpus` outputs (`sourceId` = the bot message id, optionally prefixed `cs-`):
 * training messages in `trainVoices()`, validation messages in `validationVoices()`, test messages in
 * `testVoices()` of examples/common/speech-voices.ts. Writes nothing but the prepared-value cache.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { FusionModel, modalityDistillationLoss } from '@mmfuse/fusion';
import type { LossTerm } from '@mmfuse/fusion';
import { ctcAuxLoss, phonemeTextLoss, phonemize } from '@mmfuse/speech';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = path.join(REPO, 'examples/customer-service/data');
const { values: o } = parseArgs({
  options: {
    encoder: { type: 'string' }, 'train-voice': { type: 'string' }, 'valid-voice': { type: 'string' }, 'test-voice': { type: 'string' },
    epochs: { type: 'string', default: '30' }, cache: { type: 'string' }, reader: { type: 'string', default: '64' },
    ctc: { type: 'boolean', default: false }, 'no-distill': { type: 'boolean', default: false }, 'no-text-phonemes': { type: 'boolean', default: false },
    'no-train-voice': { type: 'boolean', default: false }, 'text-encoder': { type: 'string', default: 'config' },
  },
});
for (const k of ['encoder', 'train-voice', 'valid-voice', 'test-voice'] as const) if (o[k] === undefined) throw new Error(`--${k} is required`);

type Row = Record<string, unknown> & { id: string };
type S = { id: string; fields: Record<string, unknown> };
const jl = (f: string): Row[] => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);

async function typed(split: string): Promise<S[]> {
  const out: S[] = [];
  for (const r of jl(path.join(DATA, `${split}.jsonl`))) {
    if (typeof r.text !== 'string' || r.audio !== undefined) continue;
    const fields: Record<string, unknown> = { text: r.text, label: r.label };
    if (r.lang === 'en') fields.phonemes = (await phonemize(r.text)).join(' ');
    out.push({ id: r.id, fields });
  }
  return out;
}

function voice(manifest: string, labels: Map<string, unknown>, withText: boolean): S[] {
  return jl(manifest).flatMap((r) => {
    const label = labels.get(String(r.sourceId).replace(/^cs-/, ''));
    if (label === undefined) return [];
    const fields: Record<string, unknown> = { audio: path.resolve(path.dirname(manifest), String(r.audio)), label, phonemes: r.phonemes };
    if (withText) fields.text = r.text;
    return [{ id: `voice-${r.id}`, fields }];
  });
}

async function main(): Promise<void> {
  await initEngine();
  const labels = new Map<string, unknown>();
  for (const f of ['train', 'valid', 'test']) for (const r of jl(path.join(DATA, `${f}.jsonl`))) labels.set(r.id, r.label);
  const trainIds = new Set(jl(path.join(DATA, 'train.jsonl')).map((r) => r.id));
  const trainLabels = new Map([...labels].filter(([id]) => trainIds.has(id)));
  // --no-train-voice: the voice branch learns from the typed messages' phonemes alone (no synthesized training speech).
  const train = [...await typed('train'), ...(o['no-train-voice'] ? [] : voice(o['train-voice'] as string, trainLabels, true))];
  const validation = [...await typed('valid'), ...voice(o['valid-voice'] as string, labels, false)];
  const testVoice = voice(o['test-voice'] as string, labels, false);
  const testTexts = new Map(jl(o['test-voice'] as string).map((r) => [`voice-${r.id}`, r.text]));
  const trainTexts = new Set(jl(path.join(DATA, 'train.jsonl')).map((r) => String(r.text ?? '').toLowerCase()));
  const seen = testVoice.filter((s) => trainTexts.has(String(testTexts.get(s.id)).toLowerCase())).length;
  console.log(`train ${train.length}, validation ${validation.length}, test voice clips ${testVoice.length} (${seen} with a text also in training)`);

  const cfg = JSON.parse(readFileSync(path.join(REPO, 'examples/customer-service/config.json'), 'utf8'));
  const reader = Number(o.reader);
  cfg.inputs.audio = { type: 'audio', encoder: { kind: 'phonetic', pretrained: o.encoder, freeze: true, output: 'phonemes', ...(reader > 0 ? { reader: { hiddenSize: reader } } : {}) } };
  cfg.training.epochs = Number(o.epochs);
  // --text-encoder ngram: the issue-20 text recipe (text/ngram with learned feature weights) instead of the config's.
  if (o['text-encoder'] === 'ngram') cfg.inputs.text = { type: 'text', encoder: { kind: 'ngram', featureWeights: true } };
  const model = FusionModel.create({ inputs: cfg.inputs, fusion: cfg.fusion, output: cfg.output, training: cfg.training });
  const terms: LossTerm[] = [];
  if (!o['no-text-phonemes']) terms.push(phonemeTextLoss());
  if (!o['no-distill']) terms.push(modalityDistillationLoss({ teacher: ['text'], student: ['audio'] }));
  if (o.ctc) terms.push(ctcAuxLoss({ weight: 0.3 }));
  const t0 = Date.now();
  const h = await model.fit(train, { validation, lossTerms: terms, keepFields: ['phonemes'], progress: 'none', ...(o.cache === undefined ? {} : { cacheDir: o.cache }), log: (l) => console.log(l),
    callbacks: [{ onEpochEnd: (m) => { console.log(`epoch ${m.epoch}: ${JSON.stringify(m)}`); } }] });
  console.log(`trained ${((Date.now() - t0) / 1000).toFixed(0)} s, ${h.epochs.length} epochs, best ${h.bestEpoch}; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  const rv = await model.evaluate(testVoice, { ablation: false });
  const rb = await model.evaluate(testVoice.map((s) => ({ id: s.id, fields: { ...s.fields, text: testTexts.get(s.id) } })), { ablation: false });
  const rt = await model.evaluate((await typed('test')).filter((s) => s.fields.phonemes !== undefined).map((s) => ({ id: s.id, fields: { text: s.fields.text, label: s.fields.label } })), { ablation: false });
  console.log(`RESULT voice-only ${(100 * rv.accuracy).toFixed(1)}% (${rv.n} clips), typed-only ${(100 * rt.accuracy).toFixed(1)}% (${rt.n}), voice+text ${(100 * rb.accuracy).toFixed(1)}%`);
  const p = await model.predict({ audio: testVoice[0]?.fields.audio });
  console.log(JSON.stringify({ label: p.label, truth: testVoice[0]?.fields.label, heard: p.heard, text: testTexts.get(testVoice[0]?.id ?? '') }));
  model.dispose();
}
main().catch((e) => { console.error(e); process.exit(1); });
