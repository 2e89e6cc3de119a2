// corruptText's word dropping (`dropWord`): off by default without consuming the stream, at its rate when on,
// never an empty text, and checked like the other rates.
import { describe, expect, it } from 'vitest';
import { ConfigError, createRng } from '@mmfuse/core';
import { DEFAULT_TEXT_CORRUPTION, corruptText } from '@mmfuse/text-rnn/tokenizers';

const TEXT = 'please help me get into my online bank account today';

describe('corruptText dropWord', () => {
  it('is off by default, and off draws nothing: the other changes are the same as with dropWord 0', () => {
    expect(DEFAULT_TEXT_CORRUPTION.dropWord).toBe(0);
    const a = createRng(4);
    const b = createRng(4);
    const plain = Array.from({ length: 50 }, () => corruptText(TEXT, a));
    const zero = Array.from({ length: 50 }, () => corruptText(TEXT, b, { dropWord: 0 }));
    expect(zero).toEqual(plain);
    expect(a.next()).toBe(b.next());
    // The same texts as before dropWord existed (the robustness sets and the benchmarks' augmentation depend on it).
    expect(plain.slice(0, 6)).toEqual([
      'please 帮助 me get into my online 银行 account today',
      'PLEASE HELP ME TET INTO MY ONLINE BANKACCOUNT TODAY',
      'please hlep me get into my online bank account today',
      'plezse help me get into my online bani account today',
      'please help me getinto my onlnie银行 account today',
      'please help me get intomy online bank account today',
    ]);
  });

  it('leaves out about dropWord of the words of a longer text before the other changes, never all of them', () => {
    const rng = createRng(9);
    const none = { typo: 0, dropSpace: 0, caps: 0, emoji: 0, mixLanguage: 0 };
    const words = TEXT.split(' ');
    const copies = Array.from({ length: 500 }, () => corruptText(TEXT, rng, { ...none, dropWord: 0.3 }));
    for (const c of copies) {
      const kept = c.split(' ');
      expect(kept.length).toBeGreaterThan(0);
      expect(c.trim()).not.toBe('');
      // What stays is the original words in order.
      let i = 0;
      for (const w of kept) { while (i < words.length && words[i] !== w) i++; expect(i).toBeLessThan(words.length); i++; }
    }
    const mean = copies.reduce((a, c) => a + c.split(' ').length, 0) / copies.length;
    expect(mean).toBeGreaterThan(words.length * 0.7 - 0.4);
    expect(mean).toBeLessThan(words.length * 0.7 + 0.4);
    // dropWord 1 keeps one word.
    expect(corruptText(TEXT, rng, { ...none, dropWord: 1 })).toBe('please');
  });

  it('keeps texts of one or two words whole', () => {
    const rng = createRng(2);
    const none = { typo: 0, dropSpace: 0, caps: 0, emoji: 0, mixLanguage: 0, dropWord: 1 };
    expect(corruptText('card declined', rng, none)).toBe('card declined');
    expect(corruptText('hello', rng, none)).toBe('hello');
  });

  it('refuses a rate outside [0, 1], naming it', () => {
    expect(() => corruptText(TEXT, createRng(1), { dropWord: 1.5 })).toThrow(ConfigError);
    expect(() => corruptText(TEXT, createRng(1), { dropWord: -0.1 })).toThrow(/corruption\.dropWord: must be a probability in \[0, 1\], got -0\.1/);
  });
});
