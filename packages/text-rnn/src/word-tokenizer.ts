/**
 * Word-level tokenizer for space-separated scripts: letter runs (with inner apostrophes, so "hasn't" stays one
 * word), numbers (digit runs with inner `.`/`,`, so "3.50" and "1,000" stay whole), emoji (with their
 * skin-tone and ZWJ sequences), and every other non-space character (punctuation, symbols) as its own token. Unicode-aware: any script's letters
 * and combining marks count as letters.
 */
import type { JsonObject } from '@mmfuse/core/base';
import { Tokenizer, tokenizerOptionsFromJSON } from './tokenizer.js';

const WORD_PATTERN = /\p{L}[\p{L}\p{M}]*(?:['’][\p{L}\p{M}]+)*|\p{N}+(?:[.,]\p{N}+)*|\p{Extended_Pictographic}(?:[\u{1F3FB}-\u{1F3FF}\uFE0F]|\u200D\p{Extended_Pictographic})*|[^\s\p{L}\p{N}]/gu;

/** Run a global regex over text, collecting at most `limit` matches. */
export function matchTokens(pattern: RegExp, text: string, limit: number): string[] {
  const re = new RegExp(pattern.source, pattern.flags);
  const tokens: string[] = [];
  let m: RegExpExecArray | null;
  while (tokens.length < limit && (m = re.exec(text)) !== null) tokens.push(m[0]);
  return tokens;
}

export class WordTokenizer extends Tokenizer {
  static readonly type = 'word';
  readonly type = WordTokenizer.type;

  protected split(normalized: string, limit: number): string[] {
    return matchTokens(WORD_PATTERN, normalized, limit);
  }

  static fromJSON(json: JsonObject): WordTokenizer {
    return new WordTokenizer(tokenizerOptionsFromJSON(json)).restoreVocabulary(json);
  }
}
