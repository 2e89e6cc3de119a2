/**
 * Speech (issue 16): the speech recognizer the customer-service bot ships (`examples/customer-service/speech/`:
 * a CTC-pretrained `audio/phonetic` encoder + a lexicon), measured on speech it never heard:
 *
 * - the bot's English test messages (wording never trained on) synthesized in held-out speakers at held-out
 *   rates and pitches (`testVoices()`: Flite `awb`, espeak-ng West Midlands and unseen variants): phoneme and
 *   word error rates (the beam search and, on the same clips, the greedy decoder), transcription speed, and the bot's own fused model answering them as `bot.ts` does
 *   (the words heard) against the same model on the messages typed; also with the clip beside the words;
 * - Banking77 voice only: `scripts/speech/measure-banking-voice.ts` (the whole test split, 3,080 queries, in the same held-out
 *   voices, heard, classified by the text recipe trained on typed queries) against the same queries typed,
 *   and typed + heard fused.
 *
 * The bot model is trained from scratch into the work folder (`bot.ts train`, seeded: the same figures as
 * `npm run demo`). Pretraining time and the encoder's size come from the shipped folder's pretrain report
 * (the pretraining takes about an hour here and is not re-run). Needs espeak-ng (Debian package) for the
 * held-out espeak voices; Banking77 rows need BANKING77_DIR (or ../shared). Clips are kept in
 * bench/.work/speech and reused.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWav } from '@mmfuse/audio/dsp';
import { editDistance, initEngine } from '@mmfuse/core';
import '@mmfuse/audio';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { Sample } from '@mmfuse/fusion';
import { EspeakNgEngine, SpeechRecognizer, decodeWords, lexiconWords, synthesizeCorpus } from '@mmfuse/speech';
import type { Lexicon, Transcript } from '@mmfuse/speech';
import { testVoices } from '../examples/common/speech-voices.js';
import { askVoice } from '../examples/customer-service/heard.js';
import type { VoiceAsk } from '../examples/customer-service/heard.js';
import type { BenchFigure, BenchSection, Benchmark } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const work = path.join(here, '.work', 'speech');
const bot = path.join(root, 'examples/customer-service');
const speechDir = path.join(bot, 'speech');
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const log = (m: string): void => console.log(`[speech] ${m}`);

/** Run a TypeScript script from source; resolves with its exit code, stderr tail kept for errors. */
function runScript(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l.startsWith('RESULT') || /epoch \d+/.test(l)) log(l); });
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args[0]} exited ${code}: ${err}`))));
  });
}

type Row = Record<string, unknown> & { id: string };
const jsonl = (f: string): Row[] => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);

async function run(): Promise<BenchSection> {
  await new EspeakNgEngine().checkAvailable(); // names the Debian package when espeak-ng is missing
  await initEngine();
  mkdirSync(work, { recursive: true });
  const encoder = path.join(speechDir, 'encoder');
  const lexiconFile = path.join(speechDir, 'lexicon.json');
  const report = JSON.parse(readFileSync(path.join(encoder, 'pretrain-report.json'), 'utf8')) as { parameters: number; trainClips: number; heldOutPer: number; epochs: { seconds: number }[] };
  // Every epoch's time, resumed runs included (the report's own `seconds` covers its last run only).
  const pretrainSeconds = report.epochs.reduce((s, e) => s + e.seconds, 0);
  const figures: BenchFigure[] = [];

  // The bot's English typed test messages, spoken by held-out speakers (2 renditions each).
  const messages = jsonl(path.join(bot, 'data/test.jsonl')).filter((r) => r.lang === 'en' && typeof r.text === 'string' && r.audio === undefined);
  const texts = path.join(work, 'bot-test-texts.jsonl');
  writeFileSync(texts, `${messages.map((r) => JSON.stringify({ id: r.id, text: r.text, label: r.label })).join('\n')}\n`);
  const corpus = await synthesizeCorpus({ manifest: texts, out: path.join(work, 'bot-test'), voices: testVoices(), perText: 2, concurrency: 2 });
  if (corpus.failed.length > 0) throw new Error(`${corpus.failed.length} clips failed to synthesize (first: ${corpus.failed[0]?.message})`);
  const clips = jsonl(corpus.manifest);
  const clipDir = path.dirname(corpus.manifest);
  let audioSeconds = 0;
  for (const c of clips) {
    const a = decodeWav(new Uint8Array(readFileSync(path.join(clipDir, String(c.audio)))));
    audioSeconds += (a.channels[0]?.length ?? 0) / a.sampleRateHz;
  }

  const rec = await SpeechRecognizer.load({ encoder, lexicon: lexiconFile });
  await rec.transcribe([{ sample: 'warm-up', audio: String(clips[0]?.audio) }], { baseDir: clipDir });
  const t0 = performance.now();
  const heard = await rec.transcribe(clips.map((c) => ({ sample: c.id, audio: String(c.audio) })), { baseDir: clipDir });
  const transcribeSeconds = (performance.now() - t0) / 1000;
  rec.dispose();
  // The decoder before stop 30 on the same clips: the same greedy phonemes read by decodeWords (its defaults).
  const lexicon = rec.lexicon as Lexicon;
  // The bot's out-of-scope intent (config output.outOfScope.labels): its messages are off-topic, many of their
  // words are outside the lexicon, and the right answer is a hand-over. They are measured on their own; the
  // recognition and accuracy figures are over the in-scope messages, as in earlier runs.
  const botConfig = JSON.parse(readFileSync(path.join(bot, 'config.json'), 'utf8')) as { output?: { outOfScope?: { labels?: string[] } } };
  const oosLabels = new Set(botConfig.output?.outOfScope?.labels ?? []);
  const isOos = (label: unknown): boolean => oosLabels.has(String(label));
  let phonemeErrors = 0;
  let phonemeRef = 0;
  let wordErrors = 0;
  let wordRef = 0;
  let greedyWordErrors = 0;
  const transcripts = clips.map((c, i) => {
    const t = heard[i];
    if (t === undefined || t instanceof Error) throw new Error(`clip ${c.id}: ${t instanceof Error ? t.message : 'no transcript'}`);
    if (!isOos(c.label)) {
      const ref = String(c.phonemes).split(' ').filter((s) => s !== '');
      phonemeErrors += editDistance(ref, (t as Transcript).phonemes);
      phonemeRef += ref.length;
      const refWords = lexiconWords(String(c.text));
      wordErrors += editDistance(refWords, (t as Transcript).words ?? []);
      wordRef += refWords.length;
    }
    const greedyWords = decodeWords((t as Transcript).phonemes, lexicon);
    if (!isOos(c.label)) greedyWordErrors += editDistance(lexiconWords(String(c.text)), greedyWords);
    return { clip: c, words: (t as Transcript).words ?? [], greedyWords };
  });
  const inScope = transcripts.filter((t) => !isOos(t.clip.label));
  const inScopeMessages = messages.filter((r) => !isOos(r.label));
  const offTopic = transcripts.filter((t) => isOos(t.clip.label));
  const per = phonemeErrors / phonemeRef;
  const wer = wordErrors / wordRef;
  const werGreedy = greedyWordErrors / wordRef;
  log(`${clips.length} clips (${audioSeconds.toFixed(0)} s of audio) heard in ${transcribeSeconds.toFixed(1)} s; the ${inScope.length} in scope: PER ${pct(per)}, WER ${pct(wer)} (greedy phonemes + decodeWords: ${pct(werGreedy)})`);

  // The bot's fused model, trained from scratch (seeded), answering the clips as bot.ts does.
  const modelDir = path.join(work, 'bot-model');
  rmSync(modelDir, { recursive: true, force: true });
  await runScript([path.join(bot, 'bot.ts'), 'train', '--model', modelDir]);
  const model = await FusionModel.load(modelDir);
  const asked = (how: VoiceAsk, list = inScope): Sample[] => list.map(({ clip, words }) => ({ id: clip.id, fields: askVoice(how, { audio: path.join(clipDir, String(clip.audio)), label: clip.label }, words.join(' ')) }));
  const botHeard = (await model.evaluate(asked('bot'), { ablation: false })).accuracy;
  const botHeardGreedy = (await model.evaluate(inScope.map(({ clip, greedyWords }) => ({ id: clip.id, fields: askVoice('bot', { audio: path.join(clipDir, String(clip.audio)), label: clip.label }, greedyWords.join(' ')) })), { ablation: false })).accuracy;
  const botHeardClip = (await model.evaluate(asked('words+clip'), { ablation: false })).accuracy;
  const botClip = (await model.evaluate(asked('clip'), { ablation: false })).accuracy;
  const botTyped = (await model.evaluate(inScopeMessages.map((r) => ({ id: r.id, fields: { text: r.text, label: r.label } })), { ablation: false })).accuracy;
  // Off-topic requests spoken: the share the bot hands over (its out-of-scope intent or a low confidence).
  const offTopicHandedOver = offTopic.length === 0 ? null : (await model.evaluate(asked('bot', offTopic), { ablation: false })).outOfScope ?? 0;
  model.dispose();
  log(`bot: heard words ${pct(botHeard)}, heard words + clip ${pct(botHeardClip)}, clip alone ${pct(botClip)}, typed ${pct(botTyped)}${offTopicHandedOver === null ? '' : `; off-topic requests handed over ${pct(offTopicHandedOver)} of ${offTopic.length}`}`);

  figures.push(
    { name: 'speech.recognizer.per_held_out_voices', value: per, unit: 'PER', higherIsBetter: false, details: { clips: clips.length, phonemes: phonemeRef } },
    { name: 'speech.recognizer.wer_held_out_voices', value: wer, unit: 'WER', higherIsBetter: false, peer: 'greedy phonemes + decodeWords', peerValue: werGreedy, details: { words: wordRef, search: 'beam' } },
    { name: 'speech.recognizer.realtime_factor', value: audioSeconds / transcribeSeconds, unit: 'audio-s/s', details: { audioSeconds, transcribeSeconds } },
    { name: 'speech.bot.voice_only_accuracy', value: botHeard, unit: 'accuracy', peer: 'the same model, the same messages typed', peerValue: botTyped, details: { clips: inScope.length, clipAlone: botClip, heardWordsWithClip: botHeardClip, heardGreedy: botHeardGreedy } },
    ...(offTopicHandedOver === null ? [] : [{ name: 'speech.bot.off_topic_voice_handed_over', value: offTopicHandedOver, unit: 'share', details: { clips: offTopic.length } }]),
    { name: 'speech.bot.voice_clip_alone_accuracy', value: botClip, unit: 'accuracy', peer: 'the same model, the heard words', peerValue: botHeard },
    { name: 'speech.encoder.size', value: statSync(path.join(encoder, 'weights.bin')).size, unit: 'bytes', higherIsBetter: false, details: { parameters: report.parameters } },
    { name: 'speech.encoder.pretrain_seconds', value: pretrainSeconds, unit: 's (recorded)', higherIsBetter: false, details: { trainClips: report.trainClips, epochs: report.epochs.length } },
  );

  // Banking77 voice only, through the measuring script (its own process: it trains a text model).
  const bankingDir = process.env.BANKING77_DIR ?? path.resolve(root, '../shared/datasets/banking77');
  let banking: { clips: number; typedAccuracy: number; voiceAccuracy: number; fusedAccuracy: number; fusionWeight: number; fusedWeightedAccuracy: number; ratio: number; seconds: number } | undefined;
  if (existsSync(path.join(bankingDir, 'test.csv'))) {
    const bw = path.join(work, 'banking77');
    await runScript(['scripts/speech/measure-banking-voice.ts', '--encoder', encoder, '--lexicon', lexiconFile, '--work', bw, '--banking', bankingDir, '--limit', '3080']);
    banking = JSON.parse(readFileSync(path.join(bw, 'result.json'), 'utf8')) as typeof banking & object;
    figures.push(
      { name: 'speech.banking77.voice_only_accuracy', value: banking.voiceAccuracy, unit: 'accuracy', peer: 'the same text model, the same queries typed', peerValue: banking.typedAccuracy, details: { clips: banking.clips } },
      { name: 'speech.banking77.typed_plus_heard_accuracy', value: banking.fusedWeightedAccuracy, unit: 'accuracy', peer: 'the same text model, the same queries typed', peerValue: banking.typedAccuracy, details: { heardWeight: banking.fusionWeight, equalWeights: banking.fusedAccuracy } },
    );
  } else {
    log(`no Banking77 at ${bankingDir} (set BANKING77_DIR): its rows are left out`);
  }

  const examples = transcripts.slice(0, 6).map(({ clip, words }) => `| ${String(clip.voice)} | ${String(clip.text)} | ${words.join(' ')} |`);
  const markdown = [
    `The recognizer the customer-service bot ships (\`examples/customer-service/speech/\`: an \`audio/phonetic\` encoder pretrained with CTC on ${report.trainClips.toLocaleString('en')} synthesized clips, ${report.parameters.toLocaleString('en')} parameters, ${(statSync(path.join(encoder, 'weights.bin')).size / 2 ** 20).toFixed(1)} MiB of weights, ${report.epochs.length} epochs in ${(pretrainSeconds / 60).toFixed(0)} min on two wasm threads (recorded in its pretrain report when it was pretrained, not re-run here), and a lexicon of the training words), on speech it never heard: the bot's ${inScopeMessages.length} English typed in-scope test messages (wording never trained on) spoken by **held-out speakers at held-out rates and pitches** (${inScope.length} clips; with its ${offTopic.length} clips of off-topic requests, measured apart, ${audioSeconds.toFixed(0)} s of audio; one wasm engine; words by the CTC beam search through the lexicon and its word pairs and triples, \`SpeechRecognizer\`'s default since stop 30, with the greedy phonemes read by the stop-28 decoder beside it on the same clips). The bot model is trained from scratch by \`bot.ts train\` in this run (seeded, as \`npm run demo\`). All of it is synthetic speech: no figure here says how well real people are heard.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| phoneme error rate | ${pct(per)} |`,
    `| word error rate (lexicon words), CTC beam search through the lexicon | ${pct(wer)} |`,
    `| word error rate, greedy phonemes + \`decodeWords\` at its defaults (the stop-28 decoder) | ${pct(werGreedy)} |`,
    `| transcription speed | ${(audioSeconds / transcribeSeconds).toFixed(1)}× real time |`,
    `| the bot's model, voice only: the words heard (as \`bot.ts\` answers; the clip only when nothing is heard) | **${pct(botHeard)}** |`,
    `| the bot's model, voice only, the words the greedy decoder heard | ${pct(botHeardGreedy)} |`,
    `| the bot's model, the words heard + the clip | ${pct(botHeardClip)} |`,
    `| the bot's model, the clip alone (\`audio/cnn\`) | ${pct(botClip)} |`,
    `| the bot's model, the same messages typed | ${pct(botTyped)} |`,
    ...(offTopicHandedOver === null ? [] : [`| the bot's off-topic test requests (its \`out_of_scope\` intent; ${offTopic.length} clips), spoken: handed over | ${pct(offTopicHandedOver)} |`]),
    ...(banking === undefined ? [] : [
      `| Banking77 voice only, ${banking.clips} test queries in the same held-out voices (text recipe trained on typed queries) | **${pct(banking.voiceAccuracy)}** (${banking.ratio.toFixed(2)} of typed) |`,
      `| Banking77, the same queries typed | ${pct(banking.typedAccuracy)} |`,
      `| Banking77, typed + heard: log p(typed) + w log p(heard), w = ${banking.fusionWeight} chosen on validation clips (validation speakers) | ${pct(banking.fusedWeightedAccuracy)} |`,
      `| Banking77, typed + heard with equal weights (w = 1) | ${pct(banking.fusedAccuracy)} |`,
    ]),
    '',
    'Goals (issue 16): bot voice only, unseen wording + unseen voice ≥ 90%; Banking77 voice only ≥ 75% of typed, fused ≥ typed.',
    '',
    '| held-out voice | said | heard |',
    '| --- | --- | --- |',
    ...examples,
  ].join('\n');
  return { id: 'speech', title: 'Speech: the shipped recognizer on held-out voices, the bot and Banking77 voice only', markdown, figures };
}

export const benchmark: Benchmark = { id: 'speech', title: 'Speech: the shipped recognizer on held-out voices, the bot and Banking77 voice only', run };
