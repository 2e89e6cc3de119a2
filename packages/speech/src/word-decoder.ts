/**
 * From phonemes to words: a pronunciation lexicon built from text (each word phonemized by Flite, the
 * phonemizer of the CTC targets) and a decoder that segments a heard phoneme sequence into lexicon words.
 *
 * The decoder is a shortest path over phoneme positions: a word may cover a span when its pronunciation is
 * within an edit distance of the span (substitution between two vowels costs `vowelSubstitution`, any other
 * edit 1); each word adds `wordPenalty` less `lmWeight` x its log unigram probability; a phoneme may be
 * skipped for `skipCost`. With a lexicon from the training texts and a text model on top, a voice request
 * reaches the same classifier as a typed one (the cascade of issue 16), whatever its wording, as long as its
 * words are in the lexicon. The defaults were chosen on validation speakers (360 clips of texts and voices never
 * trained on; word error rate 53% with the first guess, 24% with these), never on test voices.
 *
 * With a lexicon that has word pairs (`bigrams`, which `buildLexicon` counts), the LM term is the log
 * probability of the word given the previous one, smoothed towards the unigram (`bigramPrior`), and the search
 * keeps the `beam` cheapest previous words per position. Its defaults (bigramPrior 8, lmWeight 0.1,
 * wordPenalty 0.25) were chosen by `scripts/speech/tune-decoder.ts` on validation speakers (362 clips of the
 * bot's validation messages and 300 Banking77 queries kept out of the lexicon's texts): word error rate
 * 8.1%, against 15.4% for the unigram decoder on the same clips.
 */
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { getEngine } from './engines.js';
import type { FliteEngine } from './flite.js';
import { PHONEMES } from './phonemes.js';
import { decoderOption } from './internal/check.js';

/** A pronunciation lexicon with unigram counts. JSON-serializable (save it beside a model). */
export interface Lexicon {
  readonly format: 'mmfuse-lexicon';
  readonly version: 1;
  /** Words, lower case. */
  readonly words: readonly string[];
  /** Pronunciation of each word: inventory symbols separated by spaces. */
  readonly pronunciations: readonly string[];
  /** Occurrences of each word in the texts the lexicon was built from (≥ 1). */
  readonly counts: readonly number[];
  /**
   * Word pairs of those texts, `[previous, word, count]` with word indices (previous -1: the text's first
   * word). Absent: the decoder uses unigrams only.
   */
  readonly bigrams?: readonly (readonly [number, number, number])[];
  /**
   * Word triples of those texts, `[first, second, word, count]` with word indices (first -1: `second` is the
   * text's first word). Read by `searchCtcWords` (`trigramPrior`); absent: it uses the pairs only.
   */
  readonly trigrams?: readonly (readonly [number, number, number, number])[];
}

/** Options of `decodeWords`. */
export interface DecodeWordsOptions {
  /** Cost added per word (favours fewer, longer words). Default 0.5; 0.25 when decoding with bigrams. */
  wordPenalty?: number;
  /** Weight of the log unigram probability. Default 0.1. */
  lmWeight?: number;
  /** Cost of a heard phoneme covered by no word. Default 2. */
  skipCost?: number;
  /** Cost of substituting one vowel for another (other edits cost 1). Default 0.6. */
  vowelSubstitution?: number;
  /** Most edits a word may take, as a fraction of its pronunciation's length (at least 1 edit). Default 0.5. */
  maxEditRatio?: number;
  /**
   * With a lexicon that has `bigrams`: the prior weight β of the unigram in each word's probability given
   * the previous word, P(w | u) = (count(u, w) + β P(w)) / (count(u) + β); the LM term is then
   * `lmWeight` × log P(w | u). Default 8; Infinity: unigrams only, P(w | u) = P(w), as with a lexicon
   * without bigrams.
   */
  bigramPrior?: number;
  /** Previous words kept per phoneme position when bigrams are used (a beam). Default 8. */
  beam?: number;
}

/** The default word penalty of the bigram search (chosen with its other defaults on validation speakers). */
const BIGRAM_WORD_PENALTY = 0.25;

const VOWELS = new Set(['aa', 'ae', 'ah', 'ao', 'aw', 'ay', 'eh', 'er', 'ey', 'ih', 'iy', 'ow', 'oy', 'uh', 'uw']);
const IS_VOWEL = Uint8Array.from(PHONEMES, (p) => (VOWELS.has(p) ? 1 : 0));
const SYMBOL = new Map(PHONEMES.map((p, i) => [p, i]));

/** The words of a text as the lexicon sees them: lower case runs of Latin letters and apostrophes. */
export function lexiconWords(text: string): string[] {
  return (text.toLowerCase().match(/[a-z]+(?:'[a-z]+)*/g) ?? []);
}

/**
 * A lexicon of every word of `texts` (words of Latin letters; other scripts are left out), phonemized by Flite.
 * @throws InvalidInputError when a text is not a string (naming its index).
 */
export async function buildLexicon(texts: Iterable<string>): Promise<Lexicon> {
  const counts = new Map<string, number>();
  const sentences: string[][] = [];
  let i = 0;
  for (const t of texts) {
    if (typeof t !== 'string') throw new InvalidInputError(`text ${i} must be a string, got ${typeof t}`, { details: { index: i } });
    const ws = lexiconWords(t);
    for (const w of ws) counts.set(w, (counts.get(w) ?? 0) + 1);
    sentences.push(ws);
    i++;
  }
  const words = [...counts.keys()].sort();
  const prons = words.length === 0 ? [] : await (getEngine('flite') as FliteEngine).phonemizeWords(words);
  const keep = words.map((_, k) => (prons[k] as string[]).length > 0);
  const kept = words.filter((_, k) => keep[k]);
  return {
    format: 'mmfuse-lexicon',
    version: 1,
    words: kept,
    pronunciations: prons.filter((_, k) => keep[k]).map((p) => p.join(' ')),
    counts: kept.map((w) => counts.get(w) as number),
    bigrams: countBigrams(sentences, kept),
    trigrams: countTrigrams(sentences, kept),
  };
}

/**
 * The word triples of `sentences` as `[first, second, word, count]` over `words`' indices (first -1: `second`
 * begins the sentence), sorted. A word outside `words` breaks the chain, as in `countBigrams`.
 */
export function countTrigrams(sentences: Iterable<readonly string[]>, words: readonly string[]): [number, number, number, number][] {
  return countNgrams(sentences, words, 3) as [number, number, number, number][];
}

/**
 * The word pairs of `sentences` as `[previous, word, count]` over `words`' indices (previous -1: a first word),
 * sorted. A word outside `words` breaks the chain (the next word counts as a first word).
 */
export function countBigrams(sentences: Iterable<readonly string[]>, words: readonly string[]): [number, number, number][] {
  return countNgrams(sentences, words, 2) as [number, number, number][];
}

/** n-grams of word indices (the sentence start as -1 before the first word) with their counts, sorted. */
function countNgrams(sentences: Iterable<readonly string[]>, words: readonly string[], n: number): number[][] {
  const index = new Map(words.map((w, k) => [w, k]));
  const counts = new Map<string, number>();
  for (const ws of sentences) {
    let chain = [-1];
    for (const w of ws) {
      const k = index.get(w);
      if (k === undefined) { chain = [-1]; continue; }
      if (chain.length >= n - 1) {
        const key = [...chain.slice(chain.length - (n - 1)), k].join(',');
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      chain.push(k);
    }
  }
  const byIndices = (a: number[], b: number[]): number => { for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number); return 0; };
  return [...counts].map(([key, c]) => [...key.split(',').map(Number), c]).sort(byIndices);
}

const checked = new WeakSet<object>();

/** `checkLexicon` once per lexicon object (the decoders call it on every clip; a lexicon is not changed in place). */
export function checkLexiconOnce(lexicon: Lexicon): Lexicon {
  if (lexicon === null || typeof lexicon !== 'object' || !checked.has(lexicon)) {
    checkLexicon(lexicon);
    checked.add(lexicon);
  }
  return lexicon;
}

/** Checks a lexicon read from JSON; returns it typed. */
export function checkLexicon(value: unknown, where = 'lexicon'): Lexicon {
  const v = value as Partial<Lexicon> | null;
  if (v === null || typeof v !== 'object' || v.format !== 'mmfuse-lexicon' || v.version !== 1) throw new ConfigError(`${where} is not an mmfuse lexicon (format "mmfuse-lexicon", version 1)`, { path: where });
  const { words, pronunciations, counts } = v;
  if (!Array.isArray(words) || !Array.isArray(pronunciations) || !Array.isArray(counts) || words.length !== pronunciations.length || words.length !== counts.length) {
    throw new ConfigError(`${where}: words, pronunciations and counts must be arrays of one length`, { path: where });
  }
  for (const [k, p] of pronunciations.entries()) {
    if (typeof words[k] !== 'string' || typeof p !== 'string' || p.split(' ').some((s) => !SYMBOL.has(s))) throw new ConfigError(`${where}: entry ${k} (${JSON.stringify(words[k])}) has a pronunciation outside the phoneme inventory`, { path: `${where}.pronunciations.${k}` });
    if (!Number.isInteger(counts[k]) || (counts[k] as number) < 1) throw new ConfigError(`${where}: entry ${k} has count ${JSON.stringify(counts[k])}, expected an integer ≥ 1`, { path: `${where}.counts.${k}` });
  }
  if (v.bigrams !== undefined) {
    if (!Array.isArray(v.bigrams)) throw new ConfigError(`${where}: bigrams must be a list of [previous, word, count]`, { path: `${where}.bigrams` });
    for (const [k, b] of v.bigrams.entries()) {
      const ok = Array.isArray(b) && b.length === 3 && Number.isInteger(b[0]) && Number.isInteger(b[1]) && Number.isInteger(b[2])
        && (b[0] as number) >= -1 && (b[0] as number) < words.length && (b[1] as number) >= 0 && (b[1] as number) < words.length && (b[2] as number) >= 1;
      if (!ok) throw new ConfigError(`${where}: bigram ${k} is ${JSON.stringify(b)}, expected [previous word index or -1, word index, count ≥ 1]`, { path: `${where}.bigrams.${k}` });
    }
  }
  if (v.trigrams !== undefined) {
    if (!Array.isArray(v.trigrams)) throw new ConfigError(`${where}: trigrams must be a list of [first, second, word, count]`, { path: `${where}.trigrams` });
    const isWord = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) < words.length;
    for (const [k, t] of v.trigrams.entries()) {
      const ok = Array.isArray(t) && t.length === 4 && Number.isInteger(t[0]) && (t[0] as number) >= -1 && (t[0] as number) < words.length
        && isWord(t[1]) && isWord(t[2]) && Number.isInteger(t[3]) && (t[3] as number) >= 1;
      if (!ok) throw new ConfigError(`${where}: trigram ${k} is ${JSON.stringify(t)}, expected [first word index or -1, second word index, word index, count ≥ 1]`, { path: `${where}.trigrams.${k}` });
    }
  }
  return v as Lexicon;
}

interface Compiled {
  prons: Int8Array[];
  cost: Float64Array;
  maxEdit: Float64Array;
}

const compiledCache = new WeakMap<Lexicon, Map<string, Compiled>>();

function compile(lexicon: Lexicon, o: Required<DecodeWordsOptions>): Compiled {
  const key = `${o.wordPenalty},${o.lmWeight},${o.maxEditRatio}`;
  let byKey = compiledCache.get(lexicon);
  if (byKey === undefined) compiledCache.set(lexicon, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit !== undefined) return hit;
  const total = lexicon.counts.reduce((a, b) => a + b, 0);
  const n = lexicon.words.length;
  const c: Compiled = { prons: [], cost: new Float64Array(n), maxEdit: new Float64Array(n) };
  for (let w = 0; w < n; w++) {
    const p = Int8Array.from((lexicon.pronunciations[w] as string).split(' ').map((s) => SYMBOL.get(s) as number));
    c.prons.push(p);
    c.cost[w] = o.wordPenalty - o.lmWeight * Math.log((lexicon.counts[w] as number) / total);
    c.maxEdit[w] = Math.max(1, Math.floor(o.maxEditRatio * p.length + 1e-9));
  }
  byKey.set(key, c);
  return c;
}

/**
 * The decoder's options with their defaults, checked.
 * @throws ConfigError naming an option that is not a finite number ≥ 0.
 */
export function resolveDecodeOptions(options: DecodeWordsOptions = {}): Required<DecodeWordsOptions> {
  return {
    wordPenalty: decoderOption(options.wordPenalty, 0.5, 'wordPenalty'),
    lmWeight: decoderOption(options.lmWeight, 0.1, 'lmWeight'),
    skipCost: decoderOption(options.skipCost, 2, 'skipCost'),
    vowelSubstitution: decoderOption(options.vowelSubstitution, 0.6, 'vowelSubstitution'),
    maxEditRatio: decoderOption(options.maxEditRatio, 0.5, 'maxEditRatio'),
    // > 0: β = 0 would give an unseen pair probability 0 and an unseen context 0/0.
    bigramPrior: decoderOption(options.bigramPrior, 8, 'bigramPrior', { positive: true, infinite: true }),
    beam: Math.max(1, Math.floor(decoderOption(options.beam, 8, 'beam'))),
  };
}

/**
 * The lexicon words that best explain `phonemes` (inventory symbols), in order. An empty sequence gives no words.
 * @throws InvalidInputError for a symbol outside the inventory (naming its position).
 */
export function decodeWords(phonemes: readonly string[], lexicon: Lexicon, options: DecodeWordsOptions = {}): string[] {
  const o = resolveDecodeOptions(options);
  const heard = Int8Array.from(phonemes, (p, i) => {
    const id = SYMBOL.get(p);
    if (id === undefined) throw new InvalidInputError(`phoneme ${i} (${JSON.stringify(p)}) is not in the inventory`, { details: { index: i } });
    return id;
  });
  checkLexiconOnce(lexicon);
  const n = heard.length;
  if (n === 0 || lexicon.words.length === 0) return [];
  const sub = (a: number, b: number): number => (a === b ? 0 : IS_VOWEL[a] === 1 && IS_VOWEL[b] === 1 ? o.vowelSubstitution : 1);
  const lex = compile(lexicon, o);
  if (lexicon.bigrams === undefined || o.bigramPrior === Number.POSITIVE_INFINITY) {
    // Unigrams: a word's cost does not depend on the previous word, so one hypothesis per position (a shortest path).
    return searchWords(heard, lexicon, lex, o, sub, (_, w) => lex.cost[w] as number, false);
  }
  const wordPenalty = options.wordPenalty ?? BIGRAM_WORD_PENALTY;
  const lm = bigramCost(lexicon, o);
  return searchWords(heard, lexicon, lex, o, sub, (u, w) => wordPenalty + lm(u, w), true);
}

/**
 * Each lexicon word w that may cover the heard span starting at `i` with m phonemes, at edit distance d
 * within the word's budget: `visit(w, m, d)`.
 */
function forEachSpan(heard: Int8Array, i: number, lex: Compiled, sub: (a: number, b: number) => number, visit: (w: number, m: number, d: number) => void): void {
  const n = heard.length;
  let prev = new Float64Array(64);
  let row = new Float64Array(64);
  for (let w = 0; w < lex.prons.length; w++) {
    const p = lex.prons[w] as Int8Array;
    const L = p.length;
    const maxEdit = lex.maxEdit[w] as number;
    const M = Math.min(n - i, L + Math.floor(maxEdit));
    if (M < 1 || L - M > maxEdit) continue;
    if (prev.length < M + 1) {
      prev = new Float64Array(2 * (M + 1));
      row = new Float64Array(2 * (M + 1));
    }
    // Edit distance of the pronunciation's prefixes (rows) to the heard span i..i+m (columns).
    for (let m = 0; m <= M; m++) prev[m] = m;
    let alive = true;
    for (let r = 1; r <= L && alive; r++) {
      row[0] = r;
      let rowMin = r;
      const pr = p[r - 1] as number;
      for (let m = 1; m <= M; m++) {
        const v = Math.min((prev[m] as number) + 1, (row[m - 1] as number) + 1, (prev[m - 1] as number) + sub(pr, heard[i + m - 1] as number));
        row[m] = v;
        if (v < rowMin) rowMin = v;
      }
      alive = rowMin <= maxEdit;
      const t = prev;
      prev = row;
      row = t;
    }
    if (!alive) continue;
    for (let m = 1; m <= M; m++) {
      const d = prev[m] as number;
      if (d <= maxEdit) visit(w, m, d);
    }
  }
}

/** n-gram counts by context (the leading word indices joined by ","): context → (word → count), and its total. */
interface NgramTable { next: Map<string, Map<number, number>>; total: Map<string, number> }

const tableCache = new WeakMap<object, NgramTable>();

/** The table of a lexicon's `bigrams` or `trigrams` (`[...context, word, count]` entries), built once. */
function ngramTable(entries: readonly (readonly number[])[]): NgramTable {
  let t = tableCache.get(entries);
  if (t === undefined) {
    t = { next: new Map(), total: new Map() };
    for (const e of entries) {
      const ctx = e.slice(0, -2).join(',');
      const w = e[e.length - 2] as number;
      const c = e[e.length - 1] as number;
      const row = t.next.get(ctx) ?? new Map<number, number>();
      row.set(w, (row.get(w) ?? 0) + c);
      t.next.set(ctx, row);
      t.total.set(ctx, (t.total.get(ctx) ?? 0) + c);
    }
    tableCache.set(entries, t);
  }
  return t;
}

/** (count(ctx, w) + prior · p) / (count(ctx) + prior): `p`, the shorter context's probability, for an unseen context. */
function smoothed(table: NgramTable, ctx: string, w: number, prior: number, p: number): number {
  const n = table.total.get(ctx) ?? 0;
  if (n === 0) return p;
  return ((table.next.get(ctx)?.get(w) ?? 0) + prior * p) / (n + prior);
}

/** One hypothesis of the search: the last word (-1 at the start), its cost and its back pointer. */
interface Hypothesis { word: number; cost: number; fromPos: number; fromIndex: number; emitted: number }

/** −lmWeight · log P(w | u) (see `bigramLogProbability`). */
function bigramCost(lexicon: Lexicon, o: Required<DecodeWordsOptions>): (u: number, w: number) => number {
  const lp = bigramLogProbability(lexicon, o.bigramPrior);
  return (u, w) => -o.lmWeight * lp(u, w);
}

/**
 * log P(w | t, u) with P(w | t, u) = (count(t, u, w) + γ P(w | u)) / (count(t, u) + γ), γ = `trigramPrior`, over
 * the bigram probability of `bigramLogProbability` (t = -1: u is a first word; u = -1: w is a first word, and
 * the bigram probability is used). The bigram log P(w | u) when γ is Infinity or the lexicon has no trigrams.
 */
export function trigramLogProbability(lexicon: Lexicon, bigramPrior: number, trigramPrior: number): (t: number, u: number, w: number) => number {
  const bigram = bigramLogProbability(lexicon, bigramPrior);
  if (lexicon.trigrams === undefined || trigramPrior === Number.POSITIVE_INFINITY) return (_t, u, w) => bigram(u, w);
  const table = ngramTable(lexicon.trigrams);
  return (t, u, w) => (u < 0 ? bigram(u, w) : Math.log(smoothed(table, `${t},${u}`, w, trigramPrior, Math.exp(bigram(u, w)))));
}

/**
 * log P(w | u) with P(w | u) = (count(u, w) + β P(w)) / (count(u) + β), β = `bigramPrior` (u = -1: a first
 * word); the unigram log P(w) when β is Infinity or the lexicon has no bigrams.
 */
export function bigramLogProbability(lexicon: Lexicon, bigramPrior: number): (u: number, w: number) => number {
  const total = lexicon.counts.reduce((a, b) => a + b, 0);
  const unigram = (w: number): number => (lexicon.counts[w] as number) / total;
  if (lexicon.bigrams === undefined || bigramPrior === Number.POSITIVE_INFINITY) return (_u, w) => Math.log(unigram(w));
  const table = ngramTable(lexicon.bigrams);
  return (u, w) => Math.log(smoothed(table, String(u), w, bigramPrior, unigram(w)));
}

/**
 * The cheapest segmentation of `heard` into lexicon words (and skipped phonemes), a word costing its edit
 * distance plus `wordCost(previous word, word)`. With `byPrevious`, hypotheses are kept per (position,
 * previous word), the `beam` cheapest expanding; without it, one per position (the cost ignores the previous word).
 */
function searchWords(heard: Int8Array, lexicon: Lexicon, lex: Compiled, o: Required<DecodeWordsOptions>, sub: (a: number, b: number) => number, wordCost: (u: number, w: number) => number, byPrevious: boolean): string[] {
  const n = heard.length;
  const states: Hypothesis[][] = Array.from({ length: n + 1 }, () => []);
  const byKey: Map<number, number>[] = Array.from({ length: n + 1 }, () => new Map());
  const add = (j: number, h: Hypothesis): void => {
    const key = byPrevious ? h.word : -1;
    const at = byKey[j]!.get(key);
    if (at === undefined) { byKey[j]!.set(key, states[j]!.length); states[j]!.push(h); } else if (h.cost < states[j]![at]!.cost) states[j]![at] = h;
  };
  add(0, { word: -1, cost: 0, fromPos: -1, fromIndex: -1, emitted: -1 });
  for (let i = 0; i < n; i++) {
    // The beam: the cheapest previous words at this position (the rest are dropped before they expand).
    const here = states[i]!.map((h, k) => [h, k] as const).sort((a, b) => a[0].cost - b[0].cost).slice(0, o.beam);
    if (here.length === 0) continue;
    const spans: [number, number, number][] = [];
    forEachSpan(heard, i, lex, sub, (w, m, d) => spans.push([w, m, d]));
    for (const [h, k] of here) {
      add(i + 1, { word: h.word, cost: h.cost + o.skipCost, fromPos: i, fromIndex: k, emitted: -1 });
      for (const [w, m, d] of spans) add(i + m, { word: w, cost: h.cost + d + wordCost(h.word, w), fromPos: i, fromIndex: k, emitted: w });
    }
  }
  let best: Hypothesis | undefined;
  for (const h of states[n]!) if (best === undefined || h.cost < best.cost) best = h;
  const words: string[] = [];
  for (let h = best; h !== undefined && h.fromPos >= 0; h = states[h.fromPos]![h.fromIndex]) if (h.emitted >= 0) words.push(lexicon.words[h.emitted] as string);
  return words.reverse();
}
