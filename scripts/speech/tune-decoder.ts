/**
 * Choose the word decoder's options on validation speakers (issue 16): the bot's English validation messages
 * and 300 Banking77 validation queries (`texts-validation.jsonl` of `pretrain-english.ts`), spoken in
 * `validationVoices()`, heard by the shipped encoder (greedy CTC), decoded with each option set; word error
 * rate against the texts' lexicon words. Never reads a test text or a test voice.
 *
 *   node --conditions=source --import tsx scripts/speech/tune-decoder.ts --english OUT --lexicon FILE [--search beam]
 *
 * OUT is `pretrain-english.ts`'s folder (its texts-validation.jsonl; the clips are synthesized under
 * OUT/tune-validation when missing). Prints one line per option set, best first. `--search beam` tunes
 * `searchCtcWords` (the recognizer's default search since stop 30) instead of `decodeWords`, with the greedy
 * decoder's defaults as the first line for comparison.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { editDistance, initEngine } from '@mmfuse/core';
import { SpeechRecognizer, checkLexicon, decodeWords, lexiconWords, synthesizeCorpus } from '@mmfuse/speech';
import type { CtcWordSearchOptions, DecodeWordsOptions } from '@mmfuse/speech';
import { validationVoices } from '../../examples/common/speech-voices.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: o } = parseArgs({ options: { english: { type: 'string' }, lexicon: { type: 'string' }, search: { type: 'string', default: 'greedy' } } });
if (o.english === undefined || o.lexicon === undefined) throw new Error('--english OUT and --lexicon FILE are required');
const OUT = path.resolve(o.english as string);

async function main(): Promise<void> {
  await initEngine();
  const texts = path.join(OUT, 'texts-validation.jsonl');
  const work = path.join(OUT, 'tune-validation');
  const manifest = path.join(work, 'manifest.jsonl');
  if (!existsSync(manifest)) {
    const r = await synthesizeCorpus({ manifest: texts, out: work, voices: validationVoices(), perText: 1, concurrency: 2 });
    if (r.failed.length > 0) throw new Error(`${r.failed.length} clips failed`);
  }
  const clips = readFileSync(manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text: string; audio: string });
  const lexicon = checkLexicon(JSON.parse(readFileSync(path.resolve(o.lexicon as string), 'utf8')));
  if (o.search === 'beam') return tuneBeam(clips, work, lexicon);
  const rec = await SpeechRecognizer.load({ encoder: path.join(REPO, 'examples/customer-service/speech/encoder') });
  const heard = await rec.transcribe(clips.map((c) => ({ sample: c.id, audio: c.audio })), { baseDir: work });
  rec.dispose();
  const refs = clips.map((c) => lexiconWords(c.text));
  const nRef = refs.reduce((a, r) => a + r.length, 0);
  const grid: DecodeWordsOptions[] = [{}];
  // Stop 28: a first grid (bigramPrior 0.5..32, lmWeight 0.1..1, wordPenalty 0..1) put the best at its edge
  // (lmWeight 0.1, wordPenalty 0); this one is centred there, with the unigram decoder at the same settings.
  for (const lmWeight of [0.05, 0.1]) for (const wordPenalty of [0, 0.5]) grid.push({ lmWeight, wordPenalty });
  for (const bigramPrior of [4, 8, 16]) for (const lmWeight of [0.05, 0.1, 0.15]) for (const wordPenalty of [0, 0.25]) grid.push({ bigramPrior, lmWeight, wordPenalty });
  const rows = grid.map((opts) => {
    let errors = 0;
    heard.forEach((h, i) => { if (h instanceof Error) throw h; errors += editDistance(refs[i] as string[], decodeWords(h.phonemes, lexicon, opts)); });
    return { opts, wer: errors / nRef };
  }).sort((a, b) => a.wer - b.wer);
  console.log(`${clips.length} validation clips, ${nRef} words`);
  for (const r of rows.slice(0, 15)) console.log(`WER ${(100 * r.wer).toFixed(2)}% ${JSON.stringify(r.opts)}`);
  console.log(`defaults (unigram): WER ${(100 * (rows.find((r) => Object.keys(r.opts).length === 0)?.wer ?? NaN)).toFixed(2)}%`);
}

/**
 * Stop 30: the beam search's options (the first grid ran with the lexicon before its word triples). A first grid (lmWeight 0.3–1, wordBonus −1–2, skipCost 5–∞, beam 64–256,
 * bigramPrior 2–32) put the best near lmWeight 0.7, wordBonus 0.5; this one is centred there. Differences under
 * 0.2 point (8 words of 4,047) are noise; the defaults are the simplest of the best.
 */
async function tuneBeam(clips: { id: string; text: string; audio: string }[], work: string, lexicon: ReturnType<typeof checkLexicon>): Promise<void> {
  const encoder = path.join(REPO, 'examples/customer-service/speech/encoder');
  const refs = clips.map((c) => lexiconWords(c.text));
  const nRef = refs.reduce((a, r) => a + r.length, 0);
  const grid: (CtcWordSearchOptions | null)[] = [null, {}];
  for (const lmWeight of [0.5, 0.7, 0.9]) for (const wordBonus of [0, 0.5, 1]) grid.push({ lmWeight, wordBonus });
  for (const skipCost of [5, 7]) grid.push({ skipCost });
  for (const beam of [64, 256]) grid.push({ beam });
  for (const bigramPrior of [4, 16]) grid.push({ bigramPrior });
  // Stop 30, with the rebuilt lexicon's word triples: trigramPrior (Infinity = pairs only; chosen: 2).
  if (lexicon.trigrams !== undefined) {
    for (const trigramPrior of [Number.POSITIVE_INFINITY, 0.5, 1, 2, 8, 32]) grid.push({ trigramPrior });
    for (const lmWeight of [0.6, 0.8]) for (const wordBonus of [0.5, 1]) grid.push({ trigramPrior: 2, lmWeight, wordBonus });
  }
  const rows: { opts: CtcWordSearchOptions | null; wer: number }[] = [];
  for (const opts of grid) {
    const rec = await SpeechRecognizer.load({ encoder, lexicon, ...(opts === null ? { search: 'greedy' as const } : { beam: opts }) });
    const heard = await rec.transcribe(clips.map((c) => ({ sample: c.id, audio: c.audio })), { baseDir: work });
    rec.dispose();
    let errors = 0;
    heard.forEach((h, i) => { if (h instanceof Error) throw h; errors += editDistance(refs[i] as string[], h.words ?? []); });
    rows.push({ opts, wer: errors / nRef });
    console.log(`WER ${(100 * errors / nRef).toFixed(2)}% ${opts === null ? 'greedy phonemes + decodeWords defaults' : JSON.stringify(opts)}`);
  }
  console.log(`${clips.length} validation clips, ${nRef} words; best first:`);
  for (const r of rows.sort((a, b) => a.wer - b.wer).slice(0, 8)) console.log(`WER ${(100 * r.wer).toFixed(2)}% ${r.opts === null ? 'greedy' : JSON.stringify(r.opts)}`);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
