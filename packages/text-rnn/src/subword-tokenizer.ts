/**
 * Subword tokenizer: a Hugging Face `tokenizer.json` (WordPiece, BPE, Unigram) read from a local folder and
 * run by `@xenova/transformers` (loaded on first use, so the other tokenizers do not pay for it). Its
 * token strings then go through a vocabulary fitted on the training set like every other tokenizer, so the
 * embedding table only holds subwords the training data uses. The folder must be present wherever the
 * fitted model is restored: the state stores its path, not its contents.
 */
import { ConfigError } from '@mmfuse/core/base';
import type { JsonObject } from '@mmfuse/core/base';
import { loadHfTokenizer, tokenizerFolder } from './internal/hf.js';
import type { HfTokenizer } from './internal/hf.js';
import { Tokenizer, tokenizerOptionsFromJSON } from './tokenizer.js';
import type { TokenizerOptions } from './tokenizer.js';

/** Options of {@link SubwordTokenizer.load}. */
export interface SubwordTokenizerOptions extends TokenizerOptions {
  /** Folder holding `tokenizer.json` (and optionally `tokenizer_config.json`), or the `tokenizer.json` file. */
  path: string;
}

export class SubwordTokenizer extends Tokenizer {
  static readonly type = 'subword';
  readonly type = SubwordTokenizer.type;
  /** Absolute path of the folder holding `tokenizer.json`. */
  readonly path: string;
  private readonly hf: HfTokenizer;

  private constructor(options: SubwordTokenizerOptions, folder: string, hf: HfTokenizer) {
    super(options);
    this.path = folder;
    this.hf = hf;
  }

  /** Read `tokenizer.json` from a local folder (never the network). */
  static async load(options: SubwordTokenizerOptions): Promise<SubwordTokenizer> {
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw new ConfigError('a subword tokenizer needs the folder of its tokenizer.json', { path: 'tokenizer.path' });
    }
    const folder = tokenizerFolder(options.path, 'tokenizer.path');
    return new SubwordTokenizer(options, folder, await loadHfTokenizer(folder));
  }

  protected split(normalized: string, limit: number): string[] {
    const tokens = this.hf._encode_text(normalized) ?? [];
    return tokens.length > limit ? tokens.slice(0, limit) : tokens;
  }

  override toJSON(): JsonObject {
    return { ...super.toJSON(), path: this.path };
  }

  /** Restore from {@link toJSON}: reloads `tokenizer.json` from the saved path. */
  static async fromJSON(json: JsonObject): Promise<SubwordTokenizer> {
    const tok = await SubwordTokenizer.load({ ...tokenizerOptionsFromJSON(json), path: String(json.path ?? '') });
    return tok.restoreVocabulary(json);
  }
}
