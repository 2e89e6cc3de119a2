/** Build a tokenizer from its type and options, or restore one from its JSON. */
import { ConfigError, ModelFormatError } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { CharTokenizer } from './char-tokenizer.js';
import { CjkTokenizer } from './cjk-tokenizer.js';
import { SubwordTokenizer } from './subword-tokenizer.js';
import type { Tokenizer, TokenizerOptions, TokenizerType } from './tokenizer.js';
import { WordTokenizer } from './word-tokenizer.js';

/** Tokenizer options with the type; `path` is required for `subword`. */
export interface TokenizerConfig extends TokenizerOptions {
  /** Which tokenizer. Default `word`. */
  type?: TokenizerType;
  /** `subword` only: folder of the Hugging Face `tokenizer.json`. */
  path?: string;
}

export const TOKENIZER_TYPES: readonly TokenizerType[] = ['word', 'char', 'cjk', 'subword'];

/** Create an unfitted tokenizer (async because a subword tokenizer reads its files). */
export async function createTokenizer(config: TokenizerConfig = {}): Promise<Tokenizer> {
  const { type = 'word', path, ...options } = config;
  switch (type) {
    case 'word': return new WordTokenizer(options);
    case 'char': return new CharTokenizer(options);
    case 'cjk': return new CjkTokenizer(options);
    case 'subword': return SubwordTokenizer.load({ ...options, path: path ?? '' });
    default:
      throw new ConfigError(`unknown tokenizer type ${JSON.stringify(type)}; use one of ${TOKENIZER_TYPES.join(', ')}`, { path: 'tokenizer.type' });
  }
}

/** Restore a tokenizer, fitted vocabulary included, from `tokenizer.toJSON()`. */
export async function tokenizerFromJSON(json: JsonObject): Promise<Tokenizer> {
  switch (json.type) {
    case 'word': return WordTokenizer.fromJSON(json);
    case 'char': return CharTokenizer.fromJSON(json);
    case 'cjk': return CjkTokenizer.fromJSON(json);
    case 'subword': return SubwordTokenizer.fromJSON(json);
    default:
      throw new ModelFormatError(`unknown tokenizer type ${JSON.stringify(json.type)} in saved state`);
  }
}
