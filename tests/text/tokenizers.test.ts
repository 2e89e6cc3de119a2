import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, ModelFormatError } from '@mmfuse/core';
import {
  CLS_ID, CharTokenizer, CjkTokenizer, PAD_ID, UNKNOWN_ID, Vocabulary, WordTokenizer, createTokenizer,
  normalizeText, replaceLoneSurrogates, tokenizerFromJSON,
} from '@mmfuse/text-rnn';

describe('normalizeText', () => {
  it('applies NFKC, strips controls and invisible format characters, collapses whitespace', () => {
    expect(normalizeText('ＡＢＣ１２３')).toBe('ABC123'); // full-width forms
    expect(normalizeText('ﬁne')).toBe('fine'); // ligature
    expect(normalizeText('  a\t\tb\r\nc\u0085d  ')).toBe('a b c d');
    expect(normalizeText('a\u0000b\u0007c\u001Bd\u009Fe')).toBe('abcde');
    expect(normalizeText('zero\u200Bwidth\uFEFF mark\u200E')).toBe('zerowidth mark');
    expect(normalizeText('Straße CAFÉ', { lowercase: true })).toBe('straße café');
    expect(normalizeText('\u0000\u0001 \n')).toBe('');
  });

  it('replaces lone surrogates with U+FFFD and keeps valid pairs', () => {
    expect(replaceLoneSurrogates('a\uD800b')).toBe('a\uFFFDb');
    expect(replaceLoneSurrogates('\uDC00x\uD83D')).toBe('\uFFFDx\uFFFD');
    expect(replaceLoneSurrogates('😀')).toBe('😀');
    expect(normalizeText('ok\uD83D')).toBe('ok\uFFFD');
  });
});

describe('WordTokenizer', () => {
  const tok = new WordTokenizer();

  it('splits words, contractions, numbers, punctuation and emoji sensibly', () => {
    expect(tok.tokenize("What if my card still hasn't arrived after 2 weeks?").tokens).toEqual(
      ['what', 'if', 'my', 'card', 'still', "hasn't", 'arrived', 'after', '2', 'weeks', '?']);
    expect(tok.tokenize('It cost £3.50 (1,000 pts), ok!!').tokens).toEqual(
      ['it', 'cost', '£', '3.50', '(', '1,000', 'pts', ')', ',', 'ok', '!', '!']);
    expect(tok.tokenize('Ｃａｆé déjà-vu 👍🏽👍').tokens).toEqual(['café', 'déjà', '-', 'vu', '👍🏽', '👍']);
    expect(tok.tokenize('Привет, мир').tokens).toEqual(['привет', ',', 'мир']);
    expect(new WordTokenizer({ lowercase: false }).tokenize('Hello World').tokens).toEqual(['Hello', 'World']);
  });

  it('handles empty, control-only, over-long and huge texts by rule', () => {
    expect(tok.tokenize('')).toEqual({ tokens: [], truncated: false });
    expect(tok.tokenize('\u0000\u0003\t \u200B')).toEqual({ tokens: [], truncated: false });
    const short = new WordTokenizer({ maxLength: 3 });
    expect(short.tokenize('one two three')).toEqual({ tokens: ['one', 'two', 'three'], truncated: false });
    expect(short.tokenize('one two three four')).toEqual({ tokens: ['one', 'two', 'three'], truncated: true });
    // A 5-million-character text is cut before cleaning, so it costs bounded time, and is flagged.
    const huge = short.tokenize('word '.repeat(1_000_000));
    expect(huge).toEqual({ tokens: ['word', 'word', 'word'], truncated: true });
    // Cutting the raw text never splits a surrogate pair into a spurious U+FFFD.
    const emoji = new CharTokenizer({ maxLength: 2000, maxInputChars: 3 }).tokenize('ab😀😀');
    expect(emoji).toEqual({ tokens: ['a', 'b'], truncated: true });
    expect(tok.tokenize('bad \uD800 surrogate').tokens).toEqual(['bad', '\uFFFD', 'surrogate']);
  });

  it('never throws and respects maxLength for any string (property)', () => {
    const small = new WordTokenizer({ maxLength: 8 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const { tokens, truncated } = small.tokenize(s);
      expect(tokens.length).toBeLessThanOrEqual(8);
      expect(typeof truncated).toBe('boolean');
      for (const t of tokens) {
        expect(t.length).toBeGreaterThan(0);
        expect(/\s/.test(t)).toBe(false);
        expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(t)).toBe(false);
      }
    }), { numRuns: 300 });
  });
});

describe('CharTokenizer', () => {
  it('makes one token per grapheme and keeps single spaces', () => {
    const tok = new CharTokenizer();
    expect(tok.tokenize('Hi  you👍🏽!').tokens).toEqual(['h', 'i', ' ', 'y', 'o', 'u', '👍🏽', '!']);
    expect(tok.tokenize('e\u0301').tokens).toEqual(['é']); // NFKC composes the accent
    expect(new CharTokenizer({ maxLength: 4 }).tokenize('abcdef')).toEqual({ tokens: ['a', 'b', 'c', 'd'], truncated: true });
    expect(tok.tokenize('   ')).toEqual({ tokens: [], truncated: false });
  });
});

describe('CjkTokenizer', () => {
  it('tokenizes mixed Chinese/English messages: each Han character a token, Latin runs as words', () => {
    const tok = new CjkTokenizer();
    expect(tok.tokenize('我的信用卡 card 还没到').tokens).toEqual(['我', '的', '信', '用', '卡', 'card', '还', '没', '到']);
    expect(tok.tokenize('我的Visa卡还没到!').tokens).toEqual(['我', '的', 'visa', '卡', '还', '没', '到', '!']);
    expect(tok.tokenize('iPhone12充电').tokens).toEqual(['iphone', '12', '充', '电']);
  });

  it('splits Kana and Hangul per character and keeps other scripts whole', () => {
    const tok = new CjkTokenizer();
    expect(tok.tokenize('カードが届かない').tokens).toEqual(['カ', 'ー', 'ド', 'が', '届', 'か', 'な', 'い']);
    expect(tok.tokenize('ｶｰﾄﾞ').tokens).toEqual(['カ', 'ー', 'ド']); // half-width katakana → NFKC full width
    expect(tok.tokenize('카드 card').tokens).toEqual(['카', '드', 'card']);
    expect(tok.tokenize("can't pay, 付款失败").tokens).toEqual(["can't", 'pay', ',', '付', '款', '失', '败']);
  });

  it('with cjkSplit "word", cuts CJK runs into words with Intl.Segmenter, and round-trips the option', async () => {
    const tok = new CjkTokenizer({ cjkSplit: 'word' });
    expect(tok.tokenize('我的信用卡 card 还没到').tokens).toEqual(['我的', '信用卡', 'card', '还', '没', '到']);
    expect(tok.tokenize('東京に行きます').tokens).toEqual(['東京', 'に', '行き', 'ます']);
    const ja = new CjkTokenizer({ cjkSplit: 'word', locale: 'ja', maxLength: 3 });
    expect(ja.tokenize('東京に行きます').tokens).toEqual(['東京', 'に', '行き']);
    expect(ja.tokenize('東京に行きます').truncated).toBe(true);
    const restored = await tokenizerFromJSON(JSON.parse(JSON.stringify(tok.fit(['我的信用卡']).toJSON())));
    expect(restored).toBeInstanceOf(CjkTokenizer);
    expect(restored.tokenize('我的信用卡').tokens).toEqual(['我的', '信用卡']);
    expect((await createTokenizer({ type: 'cjk', cjkSplit: 'word' })).tokenize('信用卡').tokens).toEqual(['信用卡']);
    await expect(createTokenizer({ type: 'word', cjkSplit: 'word' })).rejects.toThrow(/tokenizer\.cjkSplit: applies to the "cjk" tokenizer only/);
    expect(() => new CjkTokenizer({ cjkSplit: 'phrase' as 'word' })).toThrow(/tokenizer\.cjkSplit: must be "character" or "word"/);
  });

  it('fits a vocabulary on mixed text and maps unseen characters to unknown', () => {
    const tok = new CjkTokenizer().fit(['我的卡 card', '卡 card 到了']);
    const { ids, tokens } = tok.encode('我的新卡 card');
    expect(tokens).toEqual(['我', '的', '新', '卡', 'card']);
    const vocab = tok.vocabulary as Vocabulary;
    expect(Array.from(ids as Int32Array)).toEqual([vocab.idOf('我'), vocab.idOf('的'), UNKNOWN_ID, vocab.idOf('卡'), vocab.idOf('card')]);
    expect(vocab.idOf('卡')).toBeGreaterThan(CLS_ID);
  });
});

describe('Vocabulary', () => {
  it('reserves pad/unknown/CLS, honours minFrequency and maxVocabSize, orders by count then text', () => {
    const lists = [['b', 'a', 'c'], ['a', 'b', 'd'], ['a', 'e']];
    const v = Vocabulary.fit(lists);
    expect(v.tokens).toEqual(['<pad>', '<unk>', '<cls>', 'a', 'b', 'c', 'd', 'e']);
    expect([v.idOf('<pad>'), v.idOf('<unk>'), v.idOf('<cls>')]).toEqual([PAD_ID, UNKNOWN_ID, CLS_ID]);
    expect(Vocabulary.fit(lists, { minFrequency: 2 }).tokens).toEqual(['<pad>', '<unk>', '<cls>', 'a', 'b']);
    expect(Vocabulary.fit(lists, { maxVocabSize: 4 }).tokens).toEqual(['<pad>', '<unk>', '<cls>', 'a']);
    expect(v.idOf('zzz')).toBe(UNKNOWN_ID);
    // Text that spells a reserved token is not counted and maps to unknown, never to padding or CLS.
    const r = Vocabulary.fit([['<pad>', 'x', '<cls>']]);
    expect(r.tokens).toEqual(['<pad>', '<unk>', '<cls>', 'x']);
    expect(Array.from(r.toIds(['<pad>', 'x', '<cls>', '<unk>']))).toEqual([UNKNOWN_ID, 3, UNKNOWN_ID, UNKNOWN_ID]);
    expect(() => Vocabulary.fit(lists, { minFrequency: 0 })).toThrow(ConfigError);
    expect(() => Vocabulary.fit(lists, { maxVocabSize: 2 })).toThrow(/maxVocabSize/);
  });

  it('refuses a corrupt saved vocabulary', () => {
    expect(() => Vocabulary.fromJSON({ tokens: ['a', '<unk>', '<cls>'] })).toThrow(ModelFormatError);
    expect(() => Vocabulary.fromJSON({ tokens: ['<pad>', '<unk>', '<cls>', 'x', 'x'] })).toThrow(/appears twice/);
    expect(() => Vocabulary.fromJSON({ tokens: 'nope' })).toThrow(ModelFormatError);
  });
});

describe('saving and restoring fitted tokenizers', () => {
  it.each(['word', 'char', 'cjk'] as const)('%s: toJSON → JSON text → tokenizerFromJSON gives the same ids', async (type) => {
    const train = ['My card has not arrived yet', 'Where is my new card?', '我的卡还没到', 'card card card'];
    const tok = await createTokenizer({ type, minFrequency: 2, maxLength: 12, lowercase: true });
    tok.fit(train);
    const restored = await tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(restored.type).toBe(type);
    expect(restored.vocabulary?.tokens).toEqual(tok.vocabulary?.tokens);
    expect(restored.options()).toEqual(tok.options());
    for (const text of [...train, 'unseen words here, 没有']) {
      const a = tok.encode(text);
      const b = restored.encode(text);
      expect(b.tokens).toEqual(a.tokens);
      expect(Array.from(b.ids as Int32Array)).toEqual(Array.from(a.ids as Int32Array));
    }
  });

  it('refuses unknown types and mismatched state', async () => {
    await expect(createTokenizer({ type: 'bpe' as 'word' })).rejects.toThrow(/unknown tokenizer type "bpe"/);
    await expect(tokenizerFromJSON({ type: 'morse' })).rejects.toThrow(ModelFormatError);
    await expect(createTokenizer({ type: 'subword' })).rejects.toThrow(/tokenizer\.path/);
    expect(() => new WordTokenizer({ maxLength: 0 })).toThrow(/tokenizer\.maxLength: must be an integer >= 1, got 0/);
  });
});
