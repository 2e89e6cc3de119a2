/**
 * Subword tokenizer: a Hugging Face `tokenizer.json` (WordPiece, BPE, Unigram) read from a local folder and
 * run by `@xenova/transformers` (loaded on first use, so the other tokenizers do not pay for it). Its
 * token strings then go through a vocabulary fitted on the training set like every other tokenizer, so the
 * embedding table only holds subwords the training data uses. The folder must be present wherever the
 * fitted model is restored: the state stores its path, not its contents.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, ModelFormatError } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { Tokenizer, tokenizerOptionsFromJSON } from './tokenizer.js';
import type { TokenizerOptions } from './tokenizer.js';

/** Options of {@link SubwordTokenizer.load}. */
export interface SubwordTokenizerOptions extends TokenizerOptions {
  /** Folder holding `tokenizer.json` (and optionally `tokenizer_config.json`), or the `tokenizer.json` file. */
  path: string;
}

/** The part of a transformers.js tokenizer used here. */
interface HfTokenizer {
  _encode_text(text: string | null): string[] | null;
}
type HfTokenizerClass = new (tokenizerJSON: unknown, tokenizerConfig: unknown) => HfTokenizer;

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelFormatError(`cannot read ${file} as JSON: ${(err as Error).message}`, { file, cause: err });
  }
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
    let folder = path.resolve(options.path);
    if (existsSync(folder) && statSync(folder).isFile()) folder = path.dirname(folder);
    const tokenizerFile = path.join(folder, 'tokenizer.json');
    if (!existsSync(tokenizerFile)) {
      throw new ConfigError(`no tokenizer.json in ${JSON.stringify(folder)}; point it at a Hugging Face tokenizer folder`, { path: 'tokenizer.path' });
    }
    const tokenizerJson = readJson(tokenizerFile);
    const configFile = path.join(folder, 'tokenizer_config.json');
    const tokenizerConfig = (existsSync(configFile) ? readJson(configFile) : {}) as { tokenizer_class?: string };
    const transformers = await import('@xenova/transformers');
    // Pick the class the way AutoTokenizer does, without its hub lookup (so no global env is touched).
    const mapping = transformers.AutoTokenizer.TOKENIZER_CLASS_MAPPING as unknown as Record<string, HfTokenizerClass>;
    const className = (tokenizerConfig.tokenizer_class ?? '').replace(/Fast$/, '');
    const Cls = mapping[className] ?? (transformers.PreTrainedTokenizer as unknown as HfTokenizerClass);
    let hf: HfTokenizer;
    try {
      hf = new Cls(tokenizerJson, tokenizerConfig);
    } catch (err) {
      throw new ModelFormatError(`${tokenizerFile} is not a tokenizer transformers.js can load: ${(err as Error).message}`, { file: tokenizerFile, cause: err });
    }
    return new SubwordTokenizer(options, folder, hf);
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
