/** Build a tokenizer from its type and options, or restore one from its JSON. */
import { ConfigError, ModelFormatError } from '@mmfuse/core/base';
import type { JsonObject } from '@mmfuse/core/base';
import { CharTokenizer } from './char-tokenizer.js';
import { CjkTokenizer } from './cjk-tokenizer.js';
import { SubwordTokenizer } from './subword-tokenizer.js';
import type { CjkSplit } from './cjk-tokenizer.js';
import type { charNgramOptionsSchema, tokenizerOptionsSchema } from './options.js';
import type { CharNgramOptions } from './char-ngrams.js';
import type { ExpectTrue, OptionsMatch, z } from '@mmfuse/core/base';
import type { Tokenizer, TokenizerOptions, TokenizerType } from './tokenizer.js';
import { WordTokenizer } from './word-tokenizer.js';

/** Tokenizer options with the type; `path` is required for `subword`. */
export interface TokenizerConfig extends TokenizerOptions {
  /** Which tokenizer. Default `word`. */
  type?: TokenizerType;
  /** `subword` only: folder of the Hugging Face `tokenizer.json`. */
  path?: string;
  /** `cjk` only: `character` (default) or `word` (words of CJK runs by `Intl.Segmenter`). */
  cjkSplit?: CjkSplit;
  /** `cjk` with `cjkSplit: 'word'` only: the segmenter's locale. Default `zh`. */
  locale?: string;
}

export const TOKENIZER_TYPES: readonly TokenizerType[] = ['word', 'char', 'cjk', 'subword'];

/** Create an unfitted tokenizer (async because a subword tokenizer reads its files). */
export async function createTokenizer(config: TokenizerConfig = {}): Promise<Tokenizer> {
  const { type = 'word', path, cjkSplit, locale, ...options } = config;
  if (type !== 'cjk' && (cjkSplit !== undefined || locale !== undefined)) {
    throw new ConfigError(`applies to the "cjk" tokenizer only, not "${type}"`, { path: cjkSplit !== undefined ? 'tokenizer.cjkSplit' : 'tokenizer.locale' });
  }
  switch (type) {
    case 'word': return new WordTokenizer(options);
    case 'char': return new CharTokenizer(options);
    case 'cjk': return new CjkTokenizer({ ...options, ...(cjkSplit !== undefined ? { cjkSplit } : {}), ...(locale !== undefined ? { locale } : {}) });
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

// The documented interfaces and the declared schemas accept the same options (checked by tsc).
type _SameTokenizer = ExpectTrue<OptionsMatch<TokenizerConfig, z.input<typeof tokenizerOptionsSchema>>>;
type _SameNgrams = ExpectTrue<OptionsMatch<CharNgramOptions, z.input<typeof charNgramOptionsSchema>>>;
