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
 */
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { getEngine } from './engines.js';
import type { FliteEngine } from './flite.js';
import { PHONEMES } from './phonemes.js';

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
}

/** Options of `decodeWords`. */
export interface DecodeWordsOptions {
  /** Cost added per word (favours fewer, longer words). Default 0.5. */
  wordPenalty?: number;
  /** Weight of the log unigram probability. Default 0.1. */
  lmWeight?: number;
  /** Cost of a heard phoneme covered by no word. Default 2. */
  skipCost?: number;
  /** Cost of substituting one vowel for another (other edits cost 1). Default 0.6. */
  vowelSubstitution?: number;
  /** Most edits a word may take, as a fraction of its pronunciation's length (at least 1 edit). Default 0.5. */
  maxEditRatio?: number;
}

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
  let i = 0;
  for (const t of texts) {
    if (typeof t !== 'string') throw new InvalidInputError(`text ${i} must be a string, got ${typeof t}`, { details: { index: i } });
    for (const w of lexiconWords(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
    i++;
  }
  const words = [...counts.keys()].sort();
  const prons = words.length === 0 ? [] : await (getEngine('flite') as FliteEngine).phonemizeWords(words);
  const keep = words.map((_, k) => (prons[k] as string[]).length > 0);
  return {
    format: 'mmfuse-lexicon',
    version: 1,
    words: words.filter((_, k) => keep[k]),
    pronunciations: prons.filter((_, k) => keep[k]).map((p) => p.join(' ')),
    counts: words.filter((_, k) => keep[k]).map((w) => counts.get(w) as number),
  };
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

function option(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new ConfigError(`${name} must be a finite number ≥ 0, got ${String(value)}`, { path: name });
  return v;
}

/**
 * The decoder's options with their defaults, checked.
 * @throws ConfigError naming an option that is not a finite number ≥ 0.
 */
export function resolveDecodeOptions(options: DecodeWordsOptions = {}): Required<DecodeWordsOptions> {
  return {
    wordPenalty: option(options.wordPenalty, 0.5, 'wordPenalty'),
    lmWeight: option(options.lmWeight, 0.1, 'lmWeight'),
    skipCost: option(options.skipCost, 2, 'skipCost'),
    vowelSubstitution: option(options.vowelSubstitution, 0.6, 'vowelSubstitution'),
    maxEditRatio: option(options.maxEditRatio, 0.5, 'maxEditRatio'),
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
  const n = heard.length;
  if (n === 0 || lexicon.words.length === 0) return [];
  const sub = (a: number, b: number): number => (a === b ? 0 : IS_VOWEL[a] === 1 && IS_VOWEL[b] === 1 ? o.vowelSubstitution : 1);
  const lex = compile(lexicon, o);
  const best = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  const fromPos = new Int32Array(n + 1).fill(-1);
  const fromWord = new Int32Array(n + 1).fill(-1);
  best[0] = 0;
  let prev = new Float64Array(64);
  let row = new Float64Array(64);
  for (let i = 0; i < n; i++) {
    const base = best[i] as number;
    if (base === Number.POSITIVE_INFINITY) continue;
    if (base + o.skipCost < (best[i + 1] as number)) {
      best[i + 1] = base + o.skipCost;
      fromPos[i + 1] = i;
      fromWord[i + 1] = -1;
    }
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
        if (d > maxEdit) continue;
        const c = base + d + (lex.cost[w] as number);
        if (c < (best[i + m] as number)) {
          best[i + m] = c;
          fromPos[i + m] = i;
          fromWord[i + m] = w;
        }
      }
    }
  }
  const words: string[] = [];
  for (let j = n; j > 0; j = fromPos[j] as number) if ((fromWord[j] as number) >= 0) words.push(lexicon.words[fromWord[j] as number] as string);
  return words.reverse();
}
