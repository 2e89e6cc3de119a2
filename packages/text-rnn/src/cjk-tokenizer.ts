/**
 * CJK-aware tokenizer for mixed text such as `我的信用卡 card 还没到`. Han, Hiragana, Katakana and Hangul do
 * not separate words with spaces: by default every such character is its own token; with
 * `cjkSplit: 'word'` each run of them is cut into words by `Intl.Segmenter` (ICU's dictionary word
 * breaker, in Node's full ICU) for `locale`, e.g. `我的|信用卡`. Runs of other letters, numbers and
 * punctuation follow the word tokenizer's rules.
 */
import { ConfigError } from '@mmfuse/core/base';
import type { JsonObject } from '@mmfuse/core/base';
import { Tokenizer, tokenizerOptionsFromJSON } from './tokenizer.js';
import type { TokenizerOptions } from './tokenizer.js';
import { matchTokens } from './word-tokenizer.js';

// U+30FC (prolonged sound mark) and U+3005 (iteration mark) belong to the Common script but are part of words.
const CJK = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}\\p{sc=Hangul}\\u30FC\\u3005';
const LETTER = `(?:(?![${CJK}])\\p{L})`;
const LETTER_OR_MARK = `(?:(?![${CJK}])[\\p{L}\\p{M}])`;
const EMOJI = '\\p{Extended_Pictographic}(?:[\\u{1F3FB}-\\u{1F3FF}\\uFE0F]|\\u200D\\p{Extended_Pictographic})*';
// Anything but a CJK character: words, numbers, emoji and single punctuation marks.
const NON_CJK = `${LETTER}${LETTER_OR_MARK}*(?:['’]${LETTER_OR_MARK}+)*|\\p{N}+(?:[.,]\\p{N}+)*|${EMOJI}|[^\\s\\p{L}\\p{N}]`;
const CJK_PATTERN = new RegExp(`[${CJK}]|${NON_CJK}`, 'gu');

// The same tokens, except that a whole run of CJK characters is one match (to be segmented into words).
const CJK_RUN_PATTERN = new RegExp(`[${CJK}]+|${NON_CJK}`, 'gu');
const CJK_RUN_START = new RegExp(`^[${CJK}]`, 'u');

/** How the CJK tokenizer cuts runs of CJK characters. */
export type CjkSplit = 'character' | 'word';

/** Options of the CJK tokenizer. */
export interface CjkTokenizerOptions extends TokenizerOptions {
  /** `character`: one token per CJK character; `word`: words found by `Intl.Segmenter`. Default `character`. */
  cjkSplit?: CjkSplit;
  /** BCP 47 locale of the word segmenter (`zh`, `ja`, `ko`, ...), used with `cjkSplit: 'word'`. Default `zh`. */
  locale?: string;
}

/** True for a character that the CJK tokenizer makes a token on its own. */
export function isCjkCharacter(ch: string): boolean {
  return new RegExp(`^[${CJK}]$`, 'u').test(ch);
}

export class CjkTokenizer extends Tokenizer {
  static readonly type = 'cjk';
  readonly type = CjkTokenizer.type;
  readonly cjkSplit: CjkSplit;
  readonly locale: string;
  private readonly segmenter: Intl.Segmenter | undefined;

  constructor(options: CjkTokenizerOptions = {}) {
    const { cjkSplit = 'character', locale = 'zh', ...common } = options;
    super(common);
    if (cjkSplit !== 'character' && cjkSplit !== 'word') throw new ConfigError(`must be "character" or "word", got ${JSON.stringify(cjkSplit)}`, { path: 'tokenizer.cjkSplit' });
    if (typeof locale !== 'string' || locale === '') throw new ConfigError(`must be a BCP 47 locale such as "zh" or "ja", got ${JSON.stringify(locale)}`, { path: 'tokenizer.locale' });
    this.cjkSplit = cjkSplit;
    this.locale = locale;
    if (cjkSplit === 'word') {
      try {
        this.segmenter = new Intl.Segmenter(locale, { granularity: 'word' });
      } catch (err) {
        throw new ConfigError(`is not a locale Intl.Segmenter accepts: ${(err as Error).message}`, { path: 'tokenizer.locale', cause: err });
      }
    }
  }

  protected split(normalized: string, limit: number): string[] {
    if (this.segmenter === undefined) return matchTokens(CJK_PATTERN, normalized, limit);
    const tokens: string[] = [];
    const re = new RegExp(CJK_RUN_PATTERN.source, CJK_RUN_PATTERN.flags);
    let m: RegExpExecArray | null;
    while (tokens.length < limit && (m = re.exec(normalized)) !== null) {
      if (!CJK_RUN_START.test(m[0])) { tokens.push(m[0]); continue; }
      for (const { segment } of this.segmenter.segment(m[0])) {
        tokens.push(segment);
        if (tokens.length >= limit) break;
      }
    }
    return tokens;
  }

  override toJSON(): JsonObject {
    return { ...super.toJSON(), cjkSplit: this.cjkSplit, locale: this.locale };
  }

  static fromJSON(json: JsonObject): CjkTokenizer {
    const options: CjkTokenizerOptions = tokenizerOptionsFromJSON(json);
    if (json.cjkSplit === 'character' || json.cjkSplit === 'word') options.cjkSplit = json.cjkSplit;
    if (typeof json.locale === 'string') options.locale = json.locale;
    return new CjkTokenizer(options).restoreVocabulary(json);
  }
}
