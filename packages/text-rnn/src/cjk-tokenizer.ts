/**
 * CJK-aware tokenizer for mixed text such as `我的信用卡 card 还没到`: every Han, Hiragana, Katakana and
 * Hangul character is its own token (these scripts do not separate words with spaces), while runs of other
 * letters, numbers and punctuation follow the word tokenizer's rules.
 */
import type { JsonObject } from '@mmfuse/core';
import { Tokenizer, tokenizerOptionsFromJSON } from './tokenizer.js';
import { matchTokens } from './word-tokenizer.js';

// U+30FC (prolonged sound mark) and U+3005 (iteration mark) belong to the Common script but are part of words.
const CJK = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}\\p{sc=Hangul}\\u30FC\\u3005';
const LETTER = `(?:(?![${CJK}])\\p{L})`;
const LETTER_OR_MARK = `(?:(?![${CJK}])[\\p{L}\\p{M}])`;
const EMOJI = '\\p{Extended_Pictographic}(?:[\\u{1F3FB}-\\u{1F3FF}\\uFE0F]|\\u200D\\p{Extended_Pictographic})*';
const CJK_PATTERN = new RegExp(
  `[${CJK}]|${LETTER}${LETTER_OR_MARK}*(?:['’]${LETTER_OR_MARK}+)*|\\p{N}+(?:[.,]\\p{N}+)*|${EMOJI}|[^\\s\\p{L}\\p{N}]`,
  'gu',
);

/** True for a character that the CJK tokenizer makes a token on its own. */
export function isCjkCharacter(ch: string): boolean {
  return new RegExp(`^[${CJK}]$`, 'u').test(ch);
}

export class CjkTokenizer extends Tokenizer {
  static readonly type = 'cjk';
  readonly type = CjkTokenizer.type;

  protected split(normalized: string, limit: number): string[] {
    return matchTokens(CJK_PATTERN, normalized, limit);
  }

  static fromJSON(json: JsonObject): CjkTokenizer {
    return new CjkTokenizer(tokenizerOptionsFromJSON(json)).restoreVocabulary(json);
  }
}
