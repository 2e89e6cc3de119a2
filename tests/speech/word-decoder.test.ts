/**
 * From phonemes to words: the Flite word phonemizer, the lexicon built from text, and the lexicon decoder
 * (a shortest path over phoneme positions with edit costs and a unigram prior).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { buildLexicon, checkLexicon, countBigrams, countTrigrams, decodeWords, getEngine, lexiconWords, phonemize } from '@mmfuse/speech';
import type { FliteEngine, Lexicon } from '@mmfuse/speech';

/** A hand-made lexicon (pronunciations as CMUdict gives them). */
const LEX: Lexicon = {
  format: 'mmfuse-lexicon',
  version: 1,
  words: ['cancel', 'card', 'my', 'order', 'car', 'can', 'sell'],
  pronunciations: ['k ae n s ah l', 'k aa r d', 'm ay', 'ao r d er', 'k aa r', 'k ae n', 's eh l'],
  counts: [5, 8, 20, 6, 1, 9, 1],
};
const say = (...words: string[]): string[] => words.flatMap((w) => LEX.pronunciations[LEX.words.indexOf(w)]!.split(' '));

describe('decodeWords', () => {
  it('reads back a sequence of lexicon pronunciations, preferring the longer word to two short ones', () => {
    expect(decodeWords(say('cancel', 'my', 'card'), LEX)).toEqual(['cancel', 'my', 'card']);
    expect(decodeWords(say('my', 'order'), LEX)).toEqual(['my', 'order']);
    // "can" + "sell" is a near-homophone of "cancel" (k ae n s eh l): one vowel substitution away.
    expect(decodeWords(['k', 'ae', 'n', 's', 'eh', 'l'], LEX)).toEqual(['cancel']);
  });

  it('recovers words through a substitution, a deletion and an insertion', () => {
    expect(decodeWords(['k', 'ae', 'n', 's', 'ah', 'l', 'm', 'ay', 'k', 'aa', 't', 'd'], LEX)).toEqual(['cancel', 'my', 'card']); // substitution r -> t
    expect(decodeWords(['k', 'ae', 'n', 's', 'l', 'm', 'ay', 'k', 'aa', 'r', 'd'], LEX)).toEqual(['cancel', 'my', 'card']); // ah deleted
    expect(decodeWords(['m', 'ay', 'ao', 'r', 'd', 'd', 'er'], LEX)).toEqual(['my', 'order']); // d inserted
  });

  it('skips phonemes no word explains instead of forcing a word onto them', () => {
    expect(decodeWords(['zh', 'zh', 'zh', ...say('card')], LEX)).toEqual(['card']);
    expect(decodeWords(['zh', 'oy', 'th'], LEX)).toEqual([]);
  });

  it('gives no words for no phonemes or an empty lexicon', () => {
    expect(decodeWords([], LEX)).toEqual([]);
    expect(decodeWords(say('card'), { ...LEX, words: [], pronunciations: [], counts: [] })).toEqual([]);
  });

  it('names the position of a symbol outside the inventory, and refuses bad options', () => {
    expect(() => decodeWords(['k', 'ax', 'r'], LEX)).toThrow(InvalidInputError);
    expect(() => decodeWords(['k', 'ax', 'r'], LEX)).toThrow(/phoneme 1 \("ax"\)/);
    expect(() => decodeWords(say('card'), LEX, { wordPenalty: -1 })).toThrow(ConfigError);
    expect(() => decodeWords(say('card'), LEX, { skipCost: Number.NaN })).toThrow(/skipCost/);
    expect(() => decodeWords(say('card'), { ...LEX, counts: [0, ...LEX.counts.slice(1)] })).toThrow(/entry 0 has count 0/);
  });

  it('is deterministic and does not depend on earlier calls with other options', () => {
    const p = say('cancel', 'my', 'order');
    const a = decodeWords(p, LEX, { lmWeight: 2 });
    decodeWords(p, LEX, { lmWeight: 0 });
    expect(decodeWords(p, LEX, { lmWeight: 2 })).toEqual(a);
  });
});

describe('decodeWords with bigrams', () => {
  // "car" is frequent on its own, but "my" is always followed by "card" in the texts.
  const LEX2: Lexicon = {
    format: 'mmfuse-lexicon',
    version: 1,
    words: ['card', 'car', 'my'],
    pronunciations: ['k aa r d', 'k aa r', 'm ay'],
    counts: [8, 30, 8],
    bigrams: [[-1, 1, 30], [-1, 2, 8], [2, 0, 8]],
  };
  const heard = ['m', 'ay', 'k', 'aa', 'r'];

  it('the previous word decides between two close words, where the unigram prior alone picks the frequent one', () => {
    expect(decodeWords(heard, LEX2, { lmWeight: 1, bigramPrior: Number.POSITIVE_INFINITY })).toEqual(['my', 'car']);
    expect(decodeWords(heard, LEX2, { lmWeight: 1, bigramPrior: 0.5 })).toEqual(['my', 'card']);
    // A large prior weight falls back to the unigram; a lexicon without bigrams decodes as before.
    expect(decodeWords(heard, LEX2, { lmWeight: 1, bigramPrior: 1e9 })).toEqual(['my', 'car']);
    const { bigrams: _b, ...unigram } = LEX2;
    expect(decodeWords(heard, unigram, { lmWeight: 1, bigramPrior: 0.5 })).toEqual(['my', 'car']);
    // The bigram search reads back clean sequences as the unigram one does.
    expect(decodeWords(say('cancel', 'my', 'card'), { ...LEX, bigrams: countBigrams([['cancel', 'my', 'card']], LEX.words) }, { bigramPrior: 2 })).toEqual(['cancel', 'my', 'card']);
    expect(decodeWords([], LEX2, { bigramPrior: 2 })).toEqual([]);
    expect(() => decodeWords(heard, LEX2, { bigramPrior: 0 })).toThrow(/bigramPrior: must be a finite number > 0, got 0/);
    expect(() => decodeWords(heard, LEX2, { bigramPrior: -1 })).toThrow(/bigramPrior/);
  });

  it('countBigrams: pairs by word index, -1 before a first word, an unknown word breaking the chain', () => {
    expect(countBigrams([['my', 'card'], ['my', 'card'], ['car', 'zzz', 'my']], ['card', 'car', 'my'])).toEqual([[-1, 1, 1], [-1, 2, 3], [2, 0, 2]]);
  });

  it('countTrigrams: triples by word index, -1 before a first word, an unknown word breaking the chain', () => {
    const words = ['card', 'car', 'my', 'lost'];
    expect(countTrigrams([['lost', 'my', 'card'], ['lost', 'my', 'card'], ['my', 'car', 'zzz', 'lost', 'my', 'car']], words))
      .toEqual([[-1, 2, 1, 1], [-1, 3, 2, 3], [3, 2, 0, 2], [3, 2, 1, 1]]);
    expect(countTrigrams([['my'], []], words)).toEqual([]);
  });
});

describe('checkLexicon', () => {
  it('accepts a lexicon through JSON and refuses malformed ones with the entry named', () => {
    expect(checkLexicon(JSON.parse(JSON.stringify(LEX)))).toEqual(LEX);
    expect(() => checkLexicon({ ...LEX, format: 'other' })).toThrow(ConfigError);
    expect(() => checkLexicon({ ...LEX, counts: [1] })).toThrow(/one length/);
    expect(() => checkLexicon({ ...LEX, pronunciations: ['k ax r', ...LEX.pronunciations.slice(1)] })).toThrow(/entry 0 \("cancel"\)/);
    expect(() => checkLexicon({ ...LEX, counts: [0, ...LEX.counts.slice(1)] })).toThrow(/entry 0 has count 0/);
    expect(() => checkLexicon(null)).toThrow(ConfigError);
    expect(() => checkLexicon({ ...LEX, bigrams: [[-1, 0, 2], [0, 99, 1]] })).toThrow(/bigram 1 is \[0,99,1\]/);
    expect(() => checkLexicon({ ...LEX, bigrams: [[-2, 0, 1]] })).toThrow(ConfigError);
    expect(checkLexicon({ ...LEX, trigrams: [[-1, 0, 1, 2]] }).trigrams).toEqual([[-1, 0, 1, 2]]);
    expect(() => checkLexicon({ ...LEX, trigrams: [[-1, 0, 1, 2], [0, -1, 1, 1]] })).toThrow(/trigram 1 is \[0,-1,1,1\]/);
    expect(() => checkLexicon({ ...LEX, trigrams: {} })).toThrow(/trigrams must be a list/);
  });
});

describe('buildLexicon (Flite)', () => {
  it('phonemizes every word of the texts as phonemize does one word at a time, with counts; other scripts are left out', async () => {
    const lex = await buildLexicon(['Cancel my card', "my card's PIN", '怎么修改 PIN']);
    expect(lex.words).toEqual(['cancel', 'card', "card's", 'my', 'pin']);
    expect(lex.counts).toEqual([1, 1, 1, 2, 2]);
    // Word pairs of each text (indices into words; -1 before a first word).
    expect(lex.bigrams).toEqual([[-1, 0, 1], [-1, 3, 1], [-1, 4, 1], [0, 3, 1], [2, 4, 1], [3, 1, 1], [3, 2, 1]]);
    expect(lex.trigrams).toEqual([[-1, 0, 3, 1], [-1, 3, 2, 1], [0, 3, 1, 1], [3, 2, 4, 1]]);
    for (const [i, w] of lex.words.entries()) expect(lex.pronunciations[i]).toBe((await phonemize(w)).join(' '));
    expect(checkLexicon(JSON.parse(JSON.stringify(lex)))).toEqual(lex);
    expect(decodeWords(await phonemize('cancel my card'), lex)).toEqual(['cancel', 'my', 'card']);
  });

  it('splits texts into lower-case words of letters and apostrophes', () => {
    expect(lexiconWords("I can't log-in: PIN #2!")).toEqual(['i', "can't", 'log', 'in', 'pin']);
  });

  it('refuses a text that is not a string, naming its index', async () => {
    await expect(buildLexicon(['ok', 3 as unknown as string])).rejects.toThrow(/text 1 must be a string/);
  });

  it('phonemizeWords equals one run per word, over more words than one Flite run takes', async () => {
    const flite = getEngine('flite') as FliteEngine;
    const words = Array.from({ length: 205 }, (_, i) => ['refund', 'transfer', 'hello', 'atm', "don't"][i % 5] as string);
    const batch = await flite.phonemizeWords(words);
    expect(batch).toHaveLength(205);
    for (const i of [0, 1, 2, 3, 4, 203, 204]) expect(batch[i]).toEqual(await flite.phonemize(words[i] as string));
    await expect(flite.phonemizeWords(['ok', 'two words'])).rejects.toThrow(/word 1/);
  });
});
