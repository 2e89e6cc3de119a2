/**
 * Character-level tokenizer: one token per user-perceived character (extended grapheme cluster, so an
 * emoji with a skin tone or a letter with a combining mark is one token), spaces kept as " " tokens
 * because they mark word boundaries (runs of whitespace are already collapsed to one space).
 */
import type { JsonObject } from '@mmfuse/core/base';
import { Tokenizer, tokenizerOptionsFromJSON } from './tokenizer.js';

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

export class CharTokenizer extends Tokenizer {
  static readonly type = 'char';
  readonly type = CharTokenizer.type;

  protected split(normalized: string, limit: number): string[] {
    const tokens: string[] = [];
    for (const { segment } of graphemes.segment(normalized)) {
      if (tokens.length >= limit) break;
      tokens.push(segment);
    }
    return tokens;
  }

  static fromJSON(json: JsonObject): CharTokenizer {
    return new CharTokenizer(tokenizerOptionsFromJSON(json)).restoreVocabulary(json);
  }
}
