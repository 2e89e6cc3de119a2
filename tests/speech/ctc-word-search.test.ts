/**
 * The lexicon-constrained CTC beam search: checked against an exhaustive search (every word sequence of up to
 * three words, each scored by its best CTC alignment, Viterbi over blanks and repeats, plus the bigram LM),
 * the CTC rules at word boundaries, skipped phonemes, and its errors.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { PHONEMES, searchCtcWords, searchCtcWordsNBest } from '@mmfuse/speech';
import type { CtcPosteriors, Lexicon } from '@mmfuse/speech';

const C = PHONEMES.length + 1;
const id = (p: string): number => PHONEMES.indexOf(p) + 1;

/** "cat" and "tea" share a /t/ at their boundary; "cad" is one symbol from "cat"; "a" is a prefix of nothing. */
const LEX: Lexicon = {
  format: 'mmfuse-lexicon',
  version: 1,
  words: ['cat', 'tea', 'cad', 'a', 'at'],
  pronunciations: ['k ae t', 't iy', 'k ae d', 'ah', 'ae t'],
  counts: [6, 4, 1, 9, 3],
  bigrams: [[-1, 0, 3], [-1, 3, 5], [0, 1, 2], [3, 0, 3], [3, 2, 1], [4, 1, 1], [-1, 4, 2]],
};

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random log-posteriors over frames, with the lexicon's symbols and the blank made likely (so words compete). */
function randomPosteriors(frames: number, seed: number): CtcPosteriors {
  const r = rng(seed);
  const hot = [0, ...['k', 'ae', 't', 'iy', 'd', 'ah'].map(id)];
  const lp = new Float64Array(frames * C);
  for (let t = 0; t < frames; t++) {
    const row = Array.from({ length: C }, (_, c) => (hot.includes(c) ? 0.2 + 3 * r() : 0.01 * r()));
    const z = row.reduce((a, b) => a + b, 0);
    row.forEach((v, c) => { lp[t * C + c] = Math.log(v / z); });
  }
  return { logProbs: lp, frames, classes: C };
}

/** Posteriors that spell a frame sequence (symbols, '-' a blank): 0.9 on each frame's symbol. */
function spell(frames: string[], p = 0.9): CtcPosteriors {
  const lp = new Float64Array(frames.length * C).fill(Math.log((1 - p) / (C - 1)));
  frames.forEach((f, t) => { lp[t * C + (f === '-' ? 0 : id(f))] = Math.log(p); });
  return { logProbs: lp, frames: frames.length, classes: C };
}

/** Best CTC alignment score (Viterbi) of `labels` over the posteriors. */
function viterbi(post: CtcPosteriors, labels: number[]): number {
  const ext = [0];
  for (const l of labels) ext.push(l, 0);
  const S = ext.length;
  let prev = new Array<number>(S).fill(Number.NEGATIVE_INFINITY);
  const at = (t: number, c: number): number => post.logProbs[t * C + c] as number;
  prev[0] = at(0, 0);
  if (S > 1) prev[1] = at(0, ext[1] as number);
  for (let t = 1; t < post.frames; t++) {
    const cur = new Array<number>(S).fill(Number.NEGATIVE_INFINITY);
    for (let s = 0; s < S; s++) {
      let best = prev[s] as number;
      if (s >= 1) best = Math.max(best, prev[s - 1] as number);
      if (s >= 2 && ext[s] !== 0 && ext[s] !== ext[s - 2]) best = Math.max(best, prev[s - 2] as number);
      cur[s] = best + at(t, ext[s] as number);
    }
    prev = cur;
  }
  return Math.max(prev[S - 1] as number, S > 1 ? (prev[S - 2] as number) : Number.NEGATIVE_INFINITY);
}

/** Exhaustive decoding over every word sequence of at most `maxWords` words. */
function exhaustive(post: CtcPosteriors, lex: Lexicon, lmWeight: number, wordBonus: number, beta: number, maxWords: number): string[] {
  return (ranked(post, lex, lmWeight, wordBonus, beta, maxWords)[0] as { words: string[] }).words;
}

/** Every word sequence of at most `maxWords` words that fits the frames, with its score, best first. */
function ranked(post: CtcPosteriors, lex: Lexicon, lmWeight: number, wordBonus: number, beta: number, maxWords: number, gamma = Number.POSITIVE_INFINITY): { words: string[]; score: number }[] {
  const total = lex.counts.reduce((a, b) => a + b, 0);
  const lm = (u: number, w: number): number => {
    const pw = (lex.counts[w] as number) / total;
    let ctx = 0;
    let c = 0;
    for (const [a, b, n] of lex.bigrams ?? []) if (a === u) { ctx += n; if (b === w) c += n; }
    return Math.log((c + beta * pw) / (ctx + beta));
  };
  // Trigrams over the bigram: P(w | t, u) = (c(t, u, w) + γ P(w | u)) / (c(t, u) + γ) when (t, u) was seen.
  const lm3 = (t: number, u: number, w: number): number => {
    const pb = Math.exp(lm(u, w));
    if (gamma === Number.POSITIVE_INFINITY || u < 0) return Math.log(pb);
    let ctx = 0;
    let c = 0;
    for (const [a, b, x, n] of lex.trigrams ?? []) if (a === t && b === u) { ctx += n; if (x === w) c += n; }
    return ctx === 0 ? Math.log(pb) : Math.log((c + gamma * pb) / (ctx + gamma));
  };
  const all: { words: string[]; score: number }[] = [];
  const visit = (words: number[]): void => {
    const labels = words.flatMap((w) => (lex.pronunciations[w] as string).split(' ').map(id));
    let score = viterbi(post, labels);
    words.forEach((w, i) => { score += lmWeight * lm3(i < 2 ? -1 : (words[i - 2] as number), i === 0 ? -1 : (words[i - 1] as number), w) + wordBonus; });
    if (score > Number.NEGATIVE_INFINITY) all.push({ words: words.map((w) => lex.words[w] as string), score });
    if (words.length < maxWords) for (let w = 0; w < lex.words.length; w++) visit([...words, w]);
  };
  visit([]);
  return all.sort((a, b) => b.score - a.score);
}

describe('searchCtcWords', () => {
  it('finds the best word sequence of an exhaustive search (CTC alignments + bigram LM), on random posteriors', () => {
    const wide = { beam: 1e6, beamThreshold: Number.POSITIVE_INFINITY, skipCost: Number.POSITIVE_INFINITY };
    let nonEmpty = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const post = randomPosteriors(3 + (seed % 4), seed); // ≤ 6 frames: at most 4 words fit (two copies of "a" need a blank between)
      const lmWeight = seed % 3 === 0 ? 0 : 0.7;
      const wordBonus = (seed % 4) - 1;
      const bigramPrior = seed % 2 === 0 ? 2 : 8;
      const expected = exhaustive(post, LEX, lmWeight, wordBonus, bigramPrior, 4);
      expect(searchCtcWords(post, LEX, { ...wide, lmWeight, wordBonus, bigramPrior }), `seed ${seed}`).toEqual(expected);
      if (expected.length > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(12); // the comparison is about words, not mostly empty answers
  });

  it('N-best: the best distinct word sequences with their scores, as the exhaustive search ranks them', () => {
    const wide = { beam: 1e6, beamThreshold: Number.POSITIVE_INFINITY, skipCost: Number.POSITIVE_INFINITY };
    for (let seed = 1; seed <= 12; seed++) {
      const post = randomPosteriors(3 + (seed % 4), 100 + seed);
      const expected = ranked(post, LEX, 0.7, 0.5, 8, 4).slice(0, 5);
      const got = searchCtcWordsNBest(post, LEX, 5, { ...wide, lmWeight: 0.7, wordBonus: 0.5 });
      expect(got.map((h) => h.words), `seed ${seed}`).toEqual(expected.map((h) => h.words));
      got.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i]!.score, 9));
      expect(got[0]!.words).toEqual(searchCtcWords(post, LEX, { ...wide, lmWeight: 0.7, wordBonus: 0.5 }));
    }
    expect(searchCtcWordsNBest({ logProbs: new Float32Array(0), frames: 0, classes: C }, LEX, 3)).toEqual([{ words: [], score: 0 }]);
    expect(() => searchCtcWordsNBest(spell(['k']), LEX, 0)).toThrow(/n must be a positive integer/);
  });

  it('with word triples (trigramPrior): the best sequence and the N best of the exhaustive search under the trigram LM', () => {
    const tri: Lexicon = { ...LEX, trigrams: [[-1, 3, 0, 3], [3, 0, 1, 2], [-1, 0, 1, 1], [0, 1, 3, 1], [-1, 4, 1, 1]] };
    const wide = { beam: 1e6, beamThreshold: Number.POSITIVE_INFINITY, skipCost: Number.POSITIVE_INFINITY, lmWeight: 1.5, wordBonus: 1 };
    let differs = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const post = randomPosteriors(3 + (seed % 4), 200 + seed);
      const expected = ranked(post, tri, 1.5, 1, 2, 4, 0.5);
      expect(searchCtcWords(post, tri, { ...wide, bigramPrior: 2, trigramPrior: 0.5 }), `seed ${seed}`).toEqual(expected[0]!.words);
      const nBest = searchCtcWordsNBest(post, tri, 4, { ...wide, bigramPrior: 2, trigramPrior: 0.5 });
      expect(nBest.map((h) => h.words), `seed ${seed}`).toEqual(expected.slice(0, 4).map((h) => h.words));
      nBest.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i]!.score, 9));
      if (JSON.stringify(expected.slice(0, 4)) !== JSON.stringify(ranked(post, tri, 1.5, 1, 2, 4).slice(0, 4))) differs++;
    }
    expect(differs).toBeGreaterThan(3); // the triples change rankings, so the comparison tests them
    // trigramPrior Infinity reads the pairs only, as a lexicon without triples does (whatever trigramPrior says).
    const post = randomPosteriors(6, 7);
    expect(searchCtcWordsNBest(post, tri, 4, { ...wide, bigramPrior: 2, trigramPrior: Number.POSITIVE_INFINITY })).toEqual(searchCtcWordsNBest(post, LEX, 4, { ...wide, bigramPrior: 2 }));
    expect(() => searchCtcWords(post, tri, { trigramPrior: 0 })).toThrow(/trigramPrior: must be a finite number > 0/);
  });

  it('reads words spelled by the frames, with repeats and blanks collapsed', () => {
    expect(searchCtcWords(spell(['k', 'k', 'ae', '-', 't', 't', '-', '-']), LEX)).toEqual(['cat']);
    expect(searchCtcWords(spell(['-', 'ah', '-', 'k', 'ae', 'ae', 'd', '-']), LEX)).toEqual(['a', 'cad']);
  });

  it('needs a blank between two copies of a symbol, across a word boundary too', () => {
    // k ae t t iy: one /t/ (the repeat collapses), so "cat tea" cannot be read without a blank between the t's.
    const post = spell(['k', 'ae', 't', 't', 'iy']);
    const best = exhaustive(post, LEX, 0, 0, 8, 3);
    expect(best).not.toEqual(['cat', 'tea']);
    expect(searchCtcWords(post, LEX, { skipCost: Number.POSITIVE_INFINITY, lmWeight: 0, wordBonus: 0 })).toEqual(best);
    expect(searchCtcWords(spell(['k', 'ae', 't', '-', 't', 'iy']), LEX, { lmWeight: 0, wordBonus: 0 })).toEqual(['cat', 'tea']);
  });

  it('lets the word bigrams decide between two words the sound cannot tell apart', () => {
    // Frames halfway between /t/ and /d/: "a" is followed by "cat" three times, by "cad" once.
    const lp = spell(['ah', '-', 'k', 'ae', 't', '-']);
    const row = 4 * C;
    lp.logProbs[row + id('t')] = Math.log(0.45);
    lp.logProbs[row + id('d')] = Math.log(0.45);
    expect(searchCtcWords(lp, LEX)).toEqual(['a', 'cat']);
    const flipped: Lexicon = { ...LEX, bigrams: [[-1, 3, 5], [3, 2, 9]] };
    expect(searchCtcWords(lp, flipped)).toEqual(['a', 'cad']);
  });

  it('skips a phoneme no word explains for skipCost, instead of forcing a word onto it', () => {
    const post = spell(['zh', '-', 'zh', '-', 'k', 'ae', 't', '-'], 0.99);
    expect(searchCtcWords(post, LEX, { skipCost: 2 })).toEqual(['cat']);
    // Without skips every frame must belong to a word: the /zh/ frames are read as some word.
    const forced = searchCtcWords(post, LEX, { skipCost: Number.POSITIVE_INFINITY });
    expect(forced.length).toBeGreaterThan(1);
    expect(forced.at(-1)).toBe('cat');
  });

  it('gives no words for no frames or an empty lexicon; refuses mis-shaped posteriors and bad options', () => {
    expect(searchCtcWords({ logProbs: new Float32Array(0), frames: 0, classes: C }, LEX)).toEqual([]);
    expect(searchCtcWords(spell(['k', 'ae', 't']), { ...LEX, words: [], pronunciations: [], counts: [], bigrams: [] })).toEqual([]);
    expect(() => searchCtcWords({ logProbs: new Float32Array(10), frames: 1, classes: 10 }, LEX)).toThrow(InvalidInputError);
    expect(() => searchCtcWords({ logProbs: new Float32Array(C), frames: 2, classes: C }, LEX)).toThrow(/fewer than 2 frames/);
    expect(() => searchCtcWords(spell(['k']), LEX, { lmWeight: -1 })).toThrow(ConfigError);
    expect(() => searchCtcWords(spell(['k']), LEX, { wordBonus: Number.NaN })).toThrow(/wordBonus/);
    expect(() => searchCtcWords(spell(['k']), LEX, { beam: Number.POSITIVE_INFINITY })).toThrow(/beam/);
    expect(() => searchCtcWords(spell(['k']), LEX, { bigramPrior: 0 })).toThrow(/bigramPrior: must be a finite number > 0, got 0/);
    // A malformed lexicon is refused, naming the entry (checked once per lexicon object).
    expect(() => searchCtcWords(spell(['k']), { ...LEX, pronunciations: ['k ax t', ...LEX.pronunciations.slice(1)] })).toThrow(/entry 0 \("cat"\)/);
    // Posteriors that are not numbers (a broken model) give no words rather than NaN-scored ones.
    expect(searchCtcWords({ logProbs: new Float32Array(3 * C).fill(Number.NaN), frames: 3, classes: C }, LEX)).toEqual([]);
  });

  it('a narrow beam is deterministic and still reads clear speech', () => {
    // (A beam of 1 is degenerate: it keeps the word-internal hypothesis over the word end with its LM cost.)
    const post = randomPosteriors(8, 99);
    const words = searchCtcWords(post, LEX, { beam: 2, beamThreshold: 4 });
    expect(Array.isArray(words)).toBe(true);
    expect(searchCtcWords(post, LEX, { beam: 2, beamThreshold: 4 })).toEqual(words);
    expect(searchCtcWords(spell(['-', 'ah', '-', 'k', 'ae', 't', '-', 't', 'iy']), LEX, { beam: 4, beamThreshold: 4 })).toEqual(['a', 'cat', 'tea']);
  });
});
