/**
 * A customer-service bot for a shop with a bank card: it reads a typed message, a voice clip, or both, finds
 * the intent with one fused text + audio model, and answers from `answers.json`.
 *
 *   node --conditions=source --import tsx examples/customer-service/bot.ts demo
 *   node --conditions=source --import tsx examples/customer-service/bot.ts train [--epochs N]
 *   node --conditions=source --import tsx examples/customer-service/bot.ts ask --text "my card has not arrived"
 *   node --conditions=source --import tsx examples/customer-service/bot.ts ask --audio examples/customer-service/data/clips/0001.wav
 *   node --conditions=source --import tsx examples/customer-service/bot.ts ask --text "我的卡丢了" --audio some.wav
 *   node --conditions=source --import tsx examples/customer-service/bot.ts evaluate --data my-requests.jsonl [--out results.jsonl]
 *
 * A spoken English request without a transcript is first heard by the shipped speech recognizer (`speech/`: an
 * `audio/phonetic` encoder pretrained with CTC on synthesized English, and a lexicon of training words): the words
 * it hears go to the model's text input instead of the clip (issue 16's cascade; the clip alone when nothing is
 * heard). `--speech none` turns that off.
 *
 * Options: --model DIR (default examples/customer-service/model, git-ignored), --lang en|zh (answer language;
 * default: zh when the typed text has Chinese characters, else en), --oos-threshold P (hand a request over when
 * the calibrated confidence is below P; default: the model's threshold, chosen on the validation split). A
 * request the model answers with its `out_of_scope` intent (config output.outOfScope.labels) is handed over too.
 *
 * `evaluate` answers every request of a JSONL manifest exactly as `ask` does (e.g. your own recordings): each line
 * `{"text"?: "...", "audio"?: "clip.wav" (relative to the manifest), "label": "card_lost", "lang"?: "en"|"zh"}`;
 * a voice-only request is heard by the recognizer unless its `lang` is `zh`. It prints the accuracy per kind of
 * request and writes one JSON line per request to --out (what was heard, the intent, its confidence, hand-over).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, initEngine } from '@mmfuse/core';
import type { ManifestSample } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { corruptText } from '@mmfuse/text-rnn/tokenizers';
import { addNoise, decodeWavFile, encodeWav, whiteNoise } from '@mmfuse/audio';
import { FusionModel, normalizeConfig } from '@mmfuse/fusion';
import { SpeechRecognizer } from '@mmfuse/speech';
import type { Transcript } from '@mmfuse/speech';
import { loadSamples, percent, readExampleConfig, seconds } from '../common/example-config.js';
import { heardFields } from './heard.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ANSWERS = JSON.parse(readFileSync(path.join(HERE, 'answers.json'), 'utf8')) as Record<string, { en: string; zh: string }>;
/** The reply when the model says a request is out of scope (its calibrated confidence is below the model's threshold). */
const HANDOVER = { en: "Sorry, I am not sure I understood. Let me pass you to a colleague who can help.", zh: '抱歉，我不太确定您的意思。我为您转接人工客服。' };
/** A request none of the 20 intents covers, for the demo. */
const OUT_OF_SCOPE_DEMO = 'can you recommend a good pizza place near the station';
/**
 * A spoken request of wording never trained on, in a voice never trained on: the test message
 * `what day will my order be delivered` (order_status) by Flite's `awb` at 0.8x rate and 1.2x pitch — the first of
 * the 160 held-out clips of `npm run bench speech` (taken in order, not picked for being answered right).
 */
const UNSEEN_VOICE_DEMO = { audio: path.join(HERE, 'data', 'unseen-wording.wav'), label: 'order_status', said: 'what day will my order be delivered', voice: 'Flite awb, rate 0.8, pitch 1.2' };

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    text: { type: 'string' },
    audio: { type: 'string' },
    model: { type: 'string', default: path.join(HERE, 'model') },
    config: { type: 'string', default: path.join(HERE, 'config.json') },
    epochs: { type: 'string' },
    lang: { type: 'string' },
    'oos-threshold': { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    speech: { type: 'string', default: path.join(HERE, 'speech') },
  },
});

let recognizer: Promise<SpeechRecognizer | null> | undefined;
/** The shipped speech recognizer (`--speech DIR`: `encoder/` + `lexicon.json`), or null with `--speech none` or without the folder. */
function speechRecognizer(): Promise<SpeechRecognizer | null> {
  recognizer ??= (async () => {
    const dir = opts.speech!;
    if (dir === 'none') return null;
    if (!existsSync(path.join(dir, 'encoder', 'phonetic-encoder.json'))) {
      console.log(`(no speech recognizer in ${path.relative(process.cwd(), dir)}: voice requests go to the audio model alone)`);
      return null;
    }
    return SpeechRecognizer.load({ encoder: path.join(dir, 'encoder'), lexicon: path.join(dir, 'lexicon.json') });
  })();
  return recognizer;
}

/** What the recognizer hears in voice samples (words joined by spaces; '' when it hears nothing or there is no recognizer), or why it could not. */
async function hearOrError(samples: readonly ManifestSample[]): Promise<(string | Error)[]> {
  const rec = await speechRecognizer();
  if (rec === null) return samples.map(() => '');
  const got = await rec.transcribe(samples.map((s) => ({ sample: s.id, audio: path.resolve(String(s.fields.audio)) })));
  return got.map((t) => (t instanceof Error ? t : ((t as Transcript).words ?? []).join(' ')));
}

/** What the recognizer hears in English voice-only samples ('' when it hears nothing or cannot read the clip). */
async function hear(samples: readonly ManifestSample[]): Promise<string[]> {
  return (await hearOrError(samples)).map((t) => (t instanceof Error ? '' : t));
}

/** A voice-only request as the bot answers it (`heardFields`: the words heard instead of the clip). */
const withHeard = (s: ManifestSample, heard: string): ManifestSample => ({ ...s, fields: heardFields(s.fields, heard) });
/** A voice-only request the recognizer hears: English unless marked Chinese (`lang: zh`). */
const heardAsEnglish = (s: ManifestSample): boolean => kindOf(s) === 'voice' && s.fields.lang !== 'zh';

/** `--oos-threshold P`: a probability in [0, 1]; absent: the model's own threshold. */
function oosThreshold(): { outOfScopeThreshold?: number } {
  const raw = opts['oos-threshold'];
  if (raw === undefined) return {};
  const t = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(t) || t < 0 || t > 1) throw new Error(`--oos-threshold must be a probability in [0, 1], got ${JSON.stringify(raw)}`);
  return { outOfScopeThreshold: t };
}

const hasHan = (s: string): boolean => /\p{Script=Han}/u.test(s);

interface Splits { train: ManifestSample[]; validation: ManifestSample[]; test: ManifestSample[] }

async function loadSplits(): Promise<Splits> {
  const cfg = await readExampleConfig(opts.config!);
  const load = (f: string | undefined): Promise<ManifestSample[]> => (f === undefined ? Promise.resolve([]) : loadSamples(f, ['audio']));
  return { train: await load(cfg.data.train), validation: await load(cfg.data.validation), test: await load(cfg.data.test) };
}

/** The model's out-of-scope labels (config `output.outOfScope.labels`: requests the bot hands over); set once a model is loaded or trained. */
let outOfScopeLabels = new Set<string>();
const useModel = (model: FusionModel): FusionModel => {
  outOfScopeLabels = new Set(model.calibration?.outOfScopeLabels ?? []);
  return model;
};

/** Which inputs a sample carries (`text`, `voice` or `both`), or `oos`: a request of an out-of-scope label, which the bot should hand over. */
function kindOf(s: ManifestSample): 'text' | 'voice' | 'both' | 'oos' {
  if (outOfScopeLabels.has(String(s.fields.label))) return 'oos';
  const t = s.fields.text !== undefined;
  const a = s.fields.audio !== undefined;
  return t && a ? 'both' : a ? 'voice' : 'text';
}

async function train(): Promise<FusionModel> {
  const cfg = await readExampleConfig(opts.config!);
  const config = normalizeConfig(cfg.model);
  if (opts.epochs !== undefined) {
    const epochs = Number(opts.epochs);
    if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs must be a positive integer, got ${JSON.stringify(opts.epochs)}`);
    config.training.epochs = epochs;
  }
  const splits = await loadSplits();
  console.log(`training on ${splits.train.length} samples (validation ${splits.validation.length}), ${config.training.epochs} epochs at most`);
  const started = Date.now();
  const model = FusionModel.create(config);
  // fit logs one line per epoch (loss, accuracy, validation) to stderr.
  // config.json's training.augmentEachEpoch: the audio encoder's `augment` (noise in a quarter of the clips)
  // draws fresh noise every epoch, here and in `mmfuse train`.
  const history = await model.fit(splits.train, { validation: splits.validation });
  const trainMs = Date.now() - started;
  mkdirSync(opts.model!, { recursive: true });
  await model.save(opts.model!);
  useModel(model);
  const metrics = await testMetrics(model, splits.test);
  const members = history.ensemble?.members;
  writeFileSync(path.join(opts.model!, 'test-metrics.json'), `${JSON.stringify({ trainSeconds: trainMs / 1000, epochs: history.epochs.length, bestEpoch: history.bestEpoch, ...(members === undefined ? {} : { ensemble: members }), ...metrics }, null, 2)}\n`);
  // config.json's training.ensemble: the members train one after another (seed, seed + 1, ...).
  const runs = members === undefined ? `${history.epochs.length} epochs, best ${history.bestEpoch ?? '-'}` : `an ensemble of ${members.length}: ${members.map((m) => `${m.epochs} epochs, best ${m.bestEpoch ?? '-'}`).join('; ')}`;
  console.log(`trained in ${seconds(trainMs)} (${runs}); model saved to ${path.relative(process.cwd(), opts.model!) || '.'}`);
  printMetrics(metrics);
  return model;
}

interface TestMetrics {
  n: number;
  accuracy: number;
  macroF1: number;
  /** Per kind of request: accuracy of the top intent, and the share the bot hands over (below its out-of-scope threshold). */
  bySubset: Record<string, { n: number; accuracy: number; handedOver: number }>;
  /** English voice-only requests as the bot answers them: the clip plus what the speech recognizer heard (absent without one). */
  voiceHeard?: { n: number; accuracy: number; audioAlone: number };
  ablation?: unknown;
  robustness: Robustness;
}

/** Accuracy of the fused model and of each input alone, on one damaged copy of the test requests. */
interface RobustnessCase { n: number; fused: number; textOnly: number; voiceOnly: number }
interface Robustness {
  /** The typed-only requests, each corrupted once as people type (typos, missing spaces, caps, emoji, mixed Chinese/English). */
  typedCorrupted: { n: number; clean: number; corrupted: number };
  /** The voice + transcript requests: white noise in the clip at 10 and 0 dB SNR with the text intact; the clean clip with corrupted text. */
  noisyVoice10dB: RobustnessCase;
  noisyVoice0dB: RobustnessCase;
  corruptedText: RobustnessCase;
}

/** The clip of `file` with seeded white noise at `snrDb`, as WAV bytes (float32, so nothing is clipped). */
function noisyClip(file: string, snrDb: number, seed: number): Uint8Array {
  const wav = decodeWavFile(file, { mono: true });
  const clean = wav.channels[0] as Float32Array;
  return encodeWav(addNoise(clean, whiteNoise(clean.length, createRng(seed)), { snrDb }), { sampleRateHz: wav.sampleRateHz, encoding: 'float32' });
}

/** Seeded corrupted copies of texts (`corruptText` at its default rates): the same seed, the same damage. */
function corrupted(texts: readonly string[], seed: number): string[] {
  const rng = createRng(seed).fork('bot-robustness');
  return texts.map((t) => corruptText(t, rng));
}

async function robustness(model: FusionModel, test: ManifestSample[], typedClean: number): Promise<Robustness> {
  const acc = async (samples: ManifestSample[]): Promise<number> => (await model.evaluate(samples)).accuracy;
  const typed = test.filter((s) => kindOf(s) === 'text');
  const typedBad = corrupted(typed.map((s) => String(s.fields.text)), 1);
  const both = test.filter((s) => kindOf(s) === 'both');
  const only = (s: ManifestSample, fields: Record<string, unknown>): ManifestSample => ({ ...s, fields: { label: s.fields.label, ...fields } });
  const runCase = async (text: (s: ManifestSample, i: number) => string, audio: (s: ManifestSample, i: number) => unknown): Promise<RobustnessCase> => ({
    n: both.length,
    fused: await acc(both.map((s, i) => only(s, { text: text(s, i), audio: audio(s, i) }))),
    textOnly: await acc(both.map((s, i) => only(s, { text: text(s, i) }))),
    voiceOnly: await acc(both.map((s, i) => only(s, { audio: audio(s, i) }))),
  });
  const bothBad = corrupted(both.map((s) => String(s.fields.text)), 2);
  return {
    typedCorrupted: { n: typed.length, clean: typedClean, corrupted: await acc(typed.map((s, i) => only(s, { text: typedBad[i] }))) },
    noisyVoice10dB: await runCase((s) => String(s.fields.text), (s, i) => noisyClip(String(s.fields.audio), 10, 100 + i)),
    noisyVoice0dB: await runCase((s) => String(s.fields.text), (s, i) => noisyClip(String(s.fields.audio), 0, 200 + i)),
    corruptedText: await runCase((_, i) => bothBad[i] as string, (s) => s.fields.audio),
  };
}

async function testMetrics(model: FusionModel, test: ManifestSample[]): Promise<TestMetrics> {
  const all = await model.evaluate(test, { ablation: true });
  const bySubset: TestMetrics['bySubset'] = {};
  for (const kind of ['text', 'voice', 'both', 'oos'] as const) {
    const subset = test.filter((s) => kindOf(s) === kind);
    if (subset.length === 0) continue;
    const r = await model.evaluate(subset);
    bySubset[kind] = { n: r.n, accuracy: r.accuracy, handedOver: r.outOfScope ?? 0 };
  }
  const spoken = test.filter(heardAsEnglish);
  let voiceHeard: TestMetrics['voiceHeard'];
  if (spoken.length > 0 && (await speechRecognizer()) !== null) {
    const heard = await hear(spoken);
    voiceHeard = { n: spoken.length, accuracy: (await model.evaluate(spoken.map((s, i) => withHeard(s, heard[i] as string)))).accuracy, audioAlone: (await model.evaluate(spoken)).accuracy };
  }
  return { n: all.n, accuracy: all.accuracy, macroF1: all.macroF1, bySubset, ...(voiceHeard === undefined ? {} : { voiceHeard }), ablation: all.ablation, robustness: await robustness(model, test, bySubset.text?.accuracy ?? Number.NaN) };
}

function printMetrics(m: TestMetrics): void {
  console.log(`test accuracy ${percent(m.accuracy)} on ${m.n} samples (macro-F1 ${m.macroF1.toFixed(3)})`);
  for (const [kind, r] of Object.entries(m.bySubset)) {
    if (kind === 'oos') console.log(`  out-of-scope requests: handed over ${percent(r.handedOver)} of ${r.n}`);
    else console.log(`  ${kind.padEnd(5)} requests: ${percent(r.accuracy)} of ${r.n} (handed over: ${percent(r.handedOver)})`);
  }
  if (m.voiceHeard !== undefined) console.log(`  English voice requests through the speech recognizer: ${percent(m.voiceHeard.accuracy)} of ${m.voiceHeard.n} (the clip alone: ${percent(m.voiceHeard.audioAlone)})`);
  const r = m.robustness;
  console.log(`robustness: typed requests corrupted as people type ${percent(r.typedCorrupted.corrupted)} (clean ${percent(r.typedCorrupted.clean)}, ${r.typedCorrupted.n})`);
  for (const [name, c] of [['voice + text, clip at 10 dB SNR', r.noisyVoice10dB], ['voice + text, clip at 0 dB SNR', r.noisyVoice0dB], ['voice + text, text corrupted', r.corruptedText]] as const) {
    console.log(`  ${name}: fused ${percent(c.fused)}, text alone ${percent(c.textOnly)}, voice alone ${percent(c.voiceOnly)} (${c.n})`);
  }
}

async function loadOrTrain(): Promise<{ model: FusionModel; trained: boolean }> {
  if (existsSync(path.join(opts.model!, 'model.json'))) {
    return { model: useModel(await FusionModel.load(opts.model!)), trained: false };
  }
  console.log(`no model in ${path.relative(process.cwd(), opts.model!)}: training one first`);
  return { model: useModel(await train()), trained: true };
}

async function answer(model: FusionModel, request: { text?: string; audio?: string }, lang?: string): Promise<void> {
  const fields: Record<string, unknown> = {};
  if (request.text !== undefined) fields.text = request.text;
  if (request.audio !== undefined) fields.audio = path.resolve(request.audio);
  let heard: string | undefined;
  if (request.text === undefined && request.audio !== undefined && lang !== 'zh') {
    const rec = await speechRecognizer();
    if (rec !== null) {
      const [t] = await rec.transcribe([{ sample: path.basename(request.audio), audio: fields.audio as string }]);
      if (t instanceof Error) throw t;
      heard = ((t as Transcript).words ?? []).join(' ');
    }
  }
  const p = await model.predict(heardFields(fields, heard ?? ''), { contributions: true, ...oosThreshold() });
  const label = String(p.label);
  const confidence = p.probabilities?.[label] ?? NaN;
  const language = lang ?? (request.text !== undefined && hasHan(request.text) ? 'zh' : 'en');
  const lang2 = language === 'zh' ? 'zh' : 'en';
  const reply = p.outOfScope === true ? HANDOVER[lang2] : ANSWERS[label]?.[lang2] ?? '(no answer configured for this intent)';
  if (request.text !== undefined) console.log(`  typed : ${request.text}`);
  if (request.audio !== undefined) console.log(`  voice : ${path.relative(process.cwd(), path.resolve(request.audio))}`);
  if (heard !== undefined) console.log(`  heard : ${heard === '' ? '(nothing: the clip goes to the model alone)' : `${heard} (the words go to the model instead of the clip)`}`);
  console.log(`  intent: ${label} (confidence ${percent(confidence)}; inputs used: ${p.modalitiesUsed.join(' + ')})${p.outOfScope === true ? ' -> out of scope: handing over' : ''}`);
  if (p.contributions !== undefined) {
    // A contribution is how much the intent's probability drops when that input is removed.
    const parts = Object.entries(p.contributions).map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} points`);
    console.log(`  contributions (probability lost without the input): ${parts.join(', ')}`);
  }
  console.log(`  bot   : ${reply}`);
}

async function demo(): Promise<void> {
  const { model, trained } = await loadOrTrain();
  const { test } = await loadSplits();
  const typed = test.find((s) => kindOf(s) === 'text' && !hasHan(String(s.fields.text)));
  const voice = test.find((s) => kindOf(s) === 'voice');
  if (typed !== undefined) {
    console.log(`\ntyped request from the test split (true intent: ${String(typed.fields.label)})`);
    await answer(model, { text: String(typed.fields.text) });
  }
  if (voice !== undefined) {
    console.log(`\nvoice request from the test split (true intent: ${String(voice.fields.label)}; ${String(voice.fields.voice)} at ${String(voice.fields.speedWpm)} wpm)`);
    await answer(model, { audio: String(voice.fields.audio) }, voice.fields.lang === 'zh' ? 'zh' : 'en');
  }
  console.log(`\nvoice request of wording never trained on, in a held-out voice (true intent: ${UNSEEN_VOICE_DEMO.label}; says "${UNSEEN_VOICE_DEMO.said}"; ${UNSEEN_VOICE_DEMO.voice})`);
  await answer(model, { audio: path.relative(process.cwd(), UNSEEN_VOICE_DEMO.audio) }, 'en');
  console.log('\ntyped request that no intent covers');
  await answer(model, { text: OUT_OF_SCOPE_DEMO });
  // Training already printed the test figures.
  if (!trained) {
    console.log('');
    printMetrics(await testMetrics(model, test));
  }
}

/** `evaluate --data FILE`: every request of a manifest answered as `ask` answers it; accuracy per kind of request. */
async function evaluateFile(file: string): Promise<void> {
  const { model } = await loadOrTrain();
  const samples = await loadSamples(file, ['audio']);
  const intents = new Set(model.labels);
  for (const l of new Set(samples.map((s) => String(s.fields.label)))) {
    if (!intents.has(l)) console.log(`warning: label "${l}" is not one of the bot's intents; its requests count as wrong`);
  }
  // As `ask`: a voice-only request is heard first (English unless marked Chinese); the words replace the clip.
  const spoken = samples.filter(heardAsEnglish);
  const heardList = await hearOrError(spoken);
  const heard = new Map(spoken.map((s, i) => [s, heardList[i] as string | Error]));
  const asked = samples.map((s) => {
    const h = heard.get(s);
    const fields = { ...(s.fields.text !== undefined ? { text: s.fields.text } : {}), ...(s.fields.audio !== undefined ? { audio: s.fields.audio } : {}) };
    return typeof h === 'string' ? heardFields(fields, h) : fields;
  });
  const predicted = await model.predictBatch(asked, { contributions: false, sampleIds: samples.map((s) => s.id), ...oosThreshold() });
  // A clip the recognizer could not read is not answered, with its reason (as `ask` fails on it).
  const outcomes = predicted.map((o, i) => {
    const h = heard.get(samples[i] as ManifestSample);
    return h instanceof Error ? { ok: false as const, error: h } : o;
  });
  const tally = new Map<string, { n: number; right: number; handedOver: number }>();
  const lines: string[] = [];
  let failed = 0;
  outcomes.forEach((o, i) => {
    const s = samples[i] as ManifestSample;
    const kind = kindOf(s);
    const h = heard.get(s);
    if (!o.ok) {
      failed++;
      console.log(`  ${s.id}: not answered: ${o.error.message}`);
      lines.push(JSON.stringify({ id: s.id, kind, label: s.fields.label, ...(typeof h === 'string' ? { heard: h } : {}), error: o.error.message }));
      return;
    }
    const p = o.value;
    const t = tally.get(kind) ?? { n: 0, right: 0, handedOver: 0 };
    t.n++;
    if (String(p.label) === String(s.fields.label)) t.right++;
    if (p.outOfScope === true) t.handedOver++;
    tally.set(kind, t);
    lines.push(JSON.stringify({ id: s.id, kind, label: s.fields.label, ...(typeof h === 'string' ? { heard: h } : {}), intent: p.label, confidence: p.probabilities?.[String(p.label)], outOfScope: p.outOfScope === true }));
  });
  const all = [...tally.values()].reduce((a, t) => ({ n: a.n + t.n, right: a.right + t.right, handedOver: a.handedOver + t.handedOver }), { n: 0, right: 0, handedOver: 0 });
  const names = { text: 'typed', voice: 'voice only', both: 'voice + text', oos: 'out of scope' } as const;
  console.log(`${opts.data!}: ${percent(all.n === 0 ? Number.NaN : all.right / all.n)} of ${all.n} requests answered with the right intent (handed over: ${all.handedOver})${failed > 0 ? `; ${failed} could not be answered` : ''}`);
  for (const kind of ['text', 'voice', 'both', 'oos'] as const) {
    const t = tally.get(kind);
    if (t !== undefined) console.log(`  ${names[kind].padEnd(12)} ${percent(t.right / t.n)} of ${t.n} (handed over: ${t.handedOver})`);
  }
  if (opts.out !== undefined) {
    writeFileSync(opts.out, `${lines.join('\n')}\n`);
    console.log(`one line per request: ${opts.out}`);
  }
}

async function main(): Promise<void> {
  const command = positionals[0] ?? 'demo';
  await initEngine();
  if (command === 'train') {
    await train();
  } else if (command === 'ask') {
    if (opts.text === undefined && opts.audio === undefined) throw new Error('ask needs --text "...", --audio clip.wav, or both');
    const { model } = await loadOrTrain();
    await answer(model, { ...(opts.text !== undefined ? { text: opts.text } : {}), ...(opts.audio !== undefined ? { audio: opts.audio } : {}) }, opts.lang);
  } else if (command === 'demo') {
    await demo();
  } else if (command === 'evaluate') {
    if (opts.data === undefined) throw new Error('evaluate needs --data requests.jsonl (lines with "text" and/or "audio", and "label")');
    if (opts.out !== undefined && path.resolve(opts.out) === path.resolve(opts.data)) throw new Error(`--out ${opts.out} is the manifest itself; name another file for the results`);
    await evaluateFile(path.resolve(opts.data));
  } else {
    throw new Error(`unknown command "${command}"; use train, ask, evaluate or demo`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
