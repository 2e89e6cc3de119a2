// `mmfuse distill --augment-text N`: the corrupted copies of the training texts the teacher labels.
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRecord } from '@mmfuse/core';
import type { ManifestSample, SkippedSample } from '@mmfuse/core';
import { AUGMENT_WORD_DROP, augmentTexts } from 'mmfuse';

function sample(id: string, fields: Record<string, unknown>): ManifestSample {
  const f = createRecord<unknown>();
  Object.assign(f, fields);
  return { id, line: Number(id.replace(/\D/g, '')) || 1, fields: f, baseDir: '/data' };
}

const train = [
  sample('s1', { text: 'my card was declined at the shop today', audio: '/data/a.wav', label: 'card_declined' }),
  sample('s2', { audio: '/data/b.wav', label: 'refund' }),
  sample('s3', { text: 'where is my refund please', label: 'refund' }),
  sample('s4', { text: 'hi', label: 'greeting' }),
  sample('s5', { text: '   ', label: 'greeting' }),
];

describe('augmentTexts', () => {
  it('makes N copies of each non-empty text, without the label or the other fields', () => {
    const copies = augmentTexts(train, ['text'], 3, 7);
    expect(copies.map((c) => c.id)).toEqual(['s1~text1', 's1~text2', 's1~text3', 's3~text1', 's3~text2', 's3~text3', 's4~text1', 's4~text2', 's4~text3']);
    for (const c of copies) {
      expect(Object.keys(c.fields)).toEqual(['text']);
      expect(Object.getPrototypeOf(c.fields)).toBe(null);
      expect(typeof c.fields.text).toBe('string');
      expect((c.fields.text as string).trim()).not.toBe('');
      expect(c.baseDir).toBe('/data');
    }
    expect(copies[3]!.line).toBe(3);
    // Copies are damaged: some differ from their original (the word-drop rate is checked below).
    const long = copies.slice(0, 3).map((c) => c.fields.text as string);
    expect(long.some((t) => t !== train[0]!.fields.text)).toBe(true);
    // A one-word text keeps its word (word dropping needs three or more; only typos, capitals or an emoji remain).
    for (const c of copies.slice(6)) expect((c.fields.text as string).toLowerCase()).toContain('hi');
    // No copies asked: none made.
    expect(augmentTexts(train, ['text'], 0, 7)).toEqual([]);
  });

  it('is seeded: one seed gives the same copies, another seed others', () => {
    const a = augmentTexts(train, ['text'], 4, 11).map((c) => c.fields.text);
    expect(augmentTexts(train, ['text'], 4, 11).map((c) => c.fields.text)).toEqual(a);
    expect(augmentTexts(train, ['text'], 4, 12).map((c) => c.fields.text)).not.toEqual(a);
  });

  it('drops about a fifth of the words of longer texts, never all of them', () => {
    expect(AUGMENT_WORD_DROP).toBe(0.2);
    const words = 'one two three four five six seven eight nine ten'.split(' ');
    const many = augmentTexts([sample('s1', { text: words.join(' ') })], ['text'], 400, 3);
    // Count the original words that survive (a typo can damage a word: count exact and damaged survivors alike by length of the copy).
    const lengths = many.map((c) => (c.fields.text as string).split(/\s+/).filter((w) => /\p{L}/u.test(w)).length);
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    expect(mean).toBeGreaterThan(7);
    expect(mean).toBeLessThan(9);
    expect(Math.min(...lengths)).toBeGreaterThan(0);
  });

  it('copies every text field a sample has, in one copy', () => {
    const two = [sample('s1', { title: 'lost card', body: 'i lost my card yesterday evening', label: 'lost' })];
    const copies = augmentTexts(two, ['title', 'body'], 2, 5);
    expect(copies).toHaveLength(2);
    for (const c of copies) expect(Object.keys(c.fields)).toEqual(['title', 'body']);
  });

  it('refuses a copy count that is not a whole number >= 0, and a text field that holds no text, naming sample and field', () => {
    for (const n of [-1, 1.5, Number.NaN]) expect(() => augmentTexts(train, ['text'], n, 1)).toThrow(ConfigError);
    expect(() => augmentTexts(train, ['text'], -1, 1)).toThrow(/augment-text: must be a whole number of at least 0, got -1/);
    const bad = [sample('s1', { text: 'fine words here' }), sample('s2', { text: 42 })];
    let err: unknown;
    try { augmentTexts(bad, ['text'], 1, 1); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err).toMatchObject({ sample: 's2', field: 'text' });
    expect((err as Error).message).toMatch(/must be text to make corrupted copies of, got 42/);
  });

  it('with onSkip, reports a sample whose text field holds no text and makes the others\' copies', () => {
    const bad = [sample('s1', { text: 'fine words here' }), sample('s2', { text: 42, label: 'x' }), sample('s3', { text: ['a'] }), sample('s4', { text: 'more fine words' })];
    const skipped: SkippedSample[] = [];
    const copies = augmentTexts(bad, ['text'], 2, 1, { onSkip: (s) => skipped.push(s), file: 'train.jsonl' });
    expect(copies.map((c) => c.id)).toEqual(['s1~text1', 's1~text2', 's4~text1', 's4~text2']);
    expect(skipped).toHaveLength(2);
    expect(skipped[0]).toMatchObject({ file: 'train.jsonl', line: 2, sample: 's2', field: 'text', code: 'INVALID_INPUT' });
    expect(skipped[0]!.message).toMatch(/got 42/);
    expect(skipped[1]).toMatchObject({ sample: 's3', field: 'text' });
    expect(skipped[1]!.message).toMatch(/got an array of length 1/);
    // The good samples get the copies they get without the bad ones in the list (the same seeded draws).
    expect(copies.map((c) => c.fields.text)).toEqual(augmentTexts([bad[0]!, bad[3]!], ['text'], 2, 1).map((c) => c.fields.text));
  });
});
