/**
 * The tokenizer contract shared by the word, character, CJK and subword tokenizers: clean the text by rule
 * ({@link normalizeText}), split it into at most `maxLength` tokens (flagging truncation), and map tokens to
 * ids through a {@link Vocabulary} fitted on the training set.
 */
import { ConfigError, ModelFormatError, checkBoolean, checkInteger } from '@mmfuse/core/base';
import type { JsonObject } from '@mmfuse/core/base';
import { normalizeText } from './normalize-text.js';
import { Vocabulary } from './vocabulary.js';

/** The tokenizers this package ships. */
export type TokenizerType = 'word' | 'char' | 'cjk' | 'subword';

/** Options common to every tokenizer. */
export interface TokenizerOptions {
  /** Lowercase the text (after NFKC). Default `true`. */
  lowercase?: boolean;
  /** Most tokens kept per text; the rest are dropped and `truncated` is set. Default 64. */
  maxLength?: number;
  /** Vocabulary: keep tokens seen at least this often in the training set. Default 1. */
  minFrequency?: number;
  /** Vocabulary: largest size, the 3 reserved ids included. Default 20000. */
  maxVocabSize?: number;
  /**
   * Characters of raw text looked at; longer texts are cut first (and flagged `truncated`) so a huge input
   * costs bounded time. Default `max(1024, 64 * maxLength)`.
   */
  maxInputChars?: number;
}

/** The result of tokenizing one text. */
export interface TokenizedText {
  /** Tokens, at most `maxLength`. Empty for an empty (or all-whitespace / all-control) text. */
  tokens: string[];
  /** Ids in the fitted vocabulary (0 = pad, 1 = unknown, 2 = CLS); absent before `fit`. */
  ids?: Int32Array;
  /** True when tokens (or raw characters beyond `maxInputChars`) were dropped. */
  truncated: boolean;
}

const checkPositiveInt = (value: unknown, path: string): number => checkInteger(value, path, 1);

export abstract class Tokenizer {
  abstract readonly type: TokenizerType;
  readonly lowercase: boolean;
  readonly maxLength: number;
  readonly minFrequency: number;
  readonly maxVocabSize: number;
  readonly maxInputChars: number;
  /** The fitted vocabulary; undefined before `fit`/`fitTokens`/`fromJSON`. */
  vocabulary: Vocabulary | undefined;

  constructor(options: TokenizerOptions = {}) {
    this.lowercase = checkBoolean(options.lowercase ?? true, 'tokenizer.lowercase');
    this.maxLength = checkPositiveInt(options.maxLength ?? 64, 'tokenizer.maxLength');
    this.minFrequency = checkPositiveInt(options.minFrequency ?? 1, 'tokenizer.minFrequency');
    this.maxVocabSize = checkPositiveInt(options.maxVocabSize ?? 20000, 'tokenizer.maxVocabSize');
    if (this.maxVocabSize < 3) throw new ConfigError(`must be at least 3 (the reserved ids), got ${this.maxVocabSize}`, { path: 'tokenizer.maxVocabSize' });
    this.maxInputChars = checkPositiveInt(options.maxInputChars ?? Math.max(1024, 64 * this.maxLength), 'tokenizer.maxInputChars');
  }

  /**
   * Split cleaned text into tokens. Implementations may stop once they have `limit` tokens; returning more
   * is fine (the caller truncates).
   */
  protected abstract split(normalized: string, limit: number): string[];

  /** Clean and split a text. Never throws for any string. */
  tokenize(text: string): { tokens: string[]; truncated: boolean } {
    let raw = text;
    let cut = false;
    if (raw.length > this.maxInputChars) {
      let end = this.maxInputChars;
      // Do not cut a surrogate pair in half (it would become U+FFFD, a token the text never had).
      const last = raw.charCodeAt(end - 1);
      if (last >= 0xd800 && last <= 0xdbff) end -= 1;
      raw = raw.slice(0, end);
      cut = true;
    }
    const normalized = normalizeText(raw, { lowercase: this.lowercase });
    if (normalized.length === 0) return { tokens: [], truncated: cut };
    const tokens = this.split(normalized, this.maxLength + 1);
    const truncated = cut || tokens.length > this.maxLength;
    if (tokens.length > this.maxLength) tokens.length = this.maxLength;
    return { tokens, truncated };
  }

  /** Fit the vocabulary on training texts. Returns `this`. */
  fit(texts: Iterable<string>): this {
    const lists: string[][] = [];
    for (const t of texts) lists.push(this.tokenize(t).tokens);
    return this.fitTokens(lists);
  }

  /** Fit the vocabulary on already tokenized training texts (what the encoder's `prepare` made). */
  fitTokens(tokenLists: Iterable<readonly string[]>): this {
    this.vocabulary = Vocabulary.fit(tokenLists, { minFrequency: this.minFrequency, maxVocabSize: this.maxVocabSize });
    return this;
  }

  /** Tokenize and, once fitted, map to ids. */
  encode(text: string): TokenizedText {
    const { tokens, truncated } = this.tokenize(text);
    return this.vocabulary === undefined ? { tokens, truncated } : { tokens, ids: this.vocabulary.toIds(tokens), truncated };
  }

  /** Options as given (defaults written out), for configs. */
  options(): Required<TokenizerOptions> {
    return {
      lowercase: this.lowercase,
      maxLength: this.maxLength,
      minFrequency: this.minFrequency,
      maxVocabSize: this.maxVocabSize,
      maxInputChars: this.maxInputChars,
    };
  }

  /** Type, options and fitted vocabulary as JSON. */
  toJSON(): JsonObject {
    const json: JsonObject = { type: this.type, ...this.options() };
    if (this.vocabulary !== undefined) json.vocabulary = this.vocabulary.toJSON();
    return json;
  }

  /** Restore the vocabulary part of {@link toJSON}; checks that the type matches. */
  protected restoreVocabulary(json: JsonObject): this {
    if (json.type !== this.type) throw new ModelFormatError(`tokenizer state is for type ${JSON.stringify(json.type)}, not "${this.type}"`);
    const vocab = json.vocabulary;
    this.vocabulary = vocab === undefined || vocab === null ? undefined : Vocabulary.fromJSON(vocab as JsonObject);
    return this;
  }
}

/** Read the common options out of a tokenizer JSON (unknown keys ignored). */
export function tokenizerOptionsFromJSON(json: JsonObject): TokenizerOptions {
  const out: TokenizerOptions = {};
  if (typeof json.lowercase === 'boolean') out.lowercase = json.lowercase;
  for (const key of ['maxLength', 'minFrequency', 'maxVocabSize', 'maxInputChars'] as const) {
    const v = json[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}
