/**
 * Token → id table fitted on a training set. Ids 0, 1 and 2 are reserved: 0 = padding, 1 = unknown token,
 * 2 = CLS (a summary position a model may prepend); fitted tokens start at 3.
 */
import { ConfigError, ModelFormatError } from '@mmfuse/core/base';
import type { JsonObject } from '@mmfuse/core/base';

/** Id of the padding token. */
export const PAD_ID = 0;
/** Id of tokens absent from the vocabulary. */
export const UNKNOWN_ID = 1;
/** Id of the CLS (classification summary) token. */
export const CLS_ID = 2;
/** The reserved tokens, at ids 0, 1, 2. Angle brackets keep them apart from any text token. */
export const RESERVED_TOKENS: readonly string[] = ['<pad>', '<unk>', '<cls>'];

/** Options of {@link Vocabulary.fit}. */
export interface VocabularyFitOptions {
  /** Keep tokens seen at least this many times in the training set. Default 1. */
  minFrequency?: number;
  /** Largest vocabulary, reserved ids included; the most frequent tokens are kept. Default 20000. */
  maxVocabSize?: number;
}

/** A fitted vocabulary. Immutable once built; `fit` returns a new one. */
export class Vocabulary {
  /** Token of each id (index = id), reserved tokens first. */
  readonly tokens: readonly string[];
  private readonly index: Map<string, number>;

  constructor(tokens: readonly string[]) {
    for (let i = 0; i < RESERVED_TOKENS.length; i++) {
      if (tokens[i] !== RESERVED_TOKENS[i]) {
        throw new ModelFormatError(`vocabulary: id ${i} must be the reserved token ${JSON.stringify(RESERVED_TOKENS[i])}, got ${JSON.stringify(tokens[i])}`);
      }
    }
    this.tokens = tokens.slice();
    this.index = new Map();
    tokens.forEach((t, i) => {
      if (typeof t !== 'string') throw new ModelFormatError(`vocabulary: token ${i} is ${typeof t}, not a string`);
      if (this.index.has(t)) throw new ModelFormatError(`vocabulary: token ${JSON.stringify(t)} appears twice (ids ${this.index.get(t)} and ${i})`);
      this.index.set(t, i);
    });
  }

  /** Count tokens over the training set and keep the most frequent (ties: code-unit order, so it is deterministic). */
  static fit(tokenLists: Iterable<readonly string[]>, options: VocabularyFitOptions = {}): Vocabulary {
    const minFrequency = options.minFrequency ?? 1;
    const maxVocabSize = options.maxVocabSize ?? 20000;
    if (!Number.isInteger(minFrequency) || minFrequency < 1) {
      throw new ConfigError(`must be an integer >= 1, got ${minFrequency}`, { path: 'tokenizer.minFrequency' });
    }
    if (!Number.isInteger(maxVocabSize) || maxVocabSize < RESERVED_TOKENS.length) {
      throw new ConfigError(`must be an integer >= ${RESERVED_TOKENS.length} (the reserved ids), got ${maxVocabSize}`, { path: 'tokenizer.maxVocabSize' });
    }
    const counts = new Map<string, number>();
    for (const list of tokenLists) for (const t of list) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const r of RESERVED_TOKENS) counts.delete(r);
    const kept = [...counts.entries()]
      .filter(([, n]) => n >= minFrequency)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxVocabSize - RESERVED_TOKENS.length)
      .map(([t]) => t);
    return new Vocabulary([...RESERVED_TOKENS, ...kept]);
  }

  /** Number of ids, reserved ones included. */
  get size(): number {
    return this.tokens.length;
  }

  /** Id of a token, {@link UNKNOWN_ID} when absent. */
  idOf(token: string): number {
    return this.index.get(token) ?? UNKNOWN_ID;
  }

  /**
   * Ids of a text's tokens. A text token that spells a reserved token (e.g. the text "<pad>" from a subword
   * tokenizer) maps to {@link UNKNOWN_ID}, never to padding or CLS.
   */
  toIds(tokens: readonly string[]): Int32Array {
    const ids = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const id = this.idOf(tokens[i] as string);
      ids[i] = id < RESERVED_TOKENS.length ? UNKNOWN_ID : id;
    }
    return ids;
  }

  toJSON(): JsonObject {
    return { tokens: this.tokens.slice() };
  }

  static fromJSON(json: JsonObject): Vocabulary {
    const tokens = json.tokens;
    if (!Array.isArray(tokens)) throw new ModelFormatError('vocabulary: "tokens" must be an array of strings');
    return new Vocabulary(tokens as string[]);
  }
}
