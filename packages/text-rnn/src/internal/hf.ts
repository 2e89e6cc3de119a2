/**
 * Loading local Hugging Face folders with `@xenova/transformers`, imported lazily so that users of the other
 * tokenizers and of `text/rnn` never load ONNX Runtime.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, ModelFormatError, loadPretrainedModel } from '@mmfuse/core/base';
import type { TransformersModule } from '@mmfuse/core/base';

/** The parts of a transformers.js tokenizer used here. */
export interface HfTokenizer {
  _encode_text(text: string | null): string[] | null;
  (text: string, options?: { truncation?: boolean; max_length?: number; add_special_tokens?: boolean }): {
    input_ids: HfTensor;
    attention_mask: HfTensor;
    token_type_ids?: HfTensor;
  };
}
/** The parts of a transformers.js tensor used here. */
export interface HfTensor {
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array;
}
/** The parts of a transformers.js model used here. */
export interface HfModel {
  (inputs: Record<string, HfTensor>): Promise<Record<string, HfTensor>>;
  dispose(): Promise<unknown>;
}
type HfTokenizerClass = new (tokenizerJSON: unknown, tokenizerConfig: unknown) => HfTokenizer;

export function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelFormatError(`cannot read ${file} as JSON: ${(err as Error).message}`, { file, cause: err });
  }
}

/** The folder holding `tokenizer.json`: `p` itself, or its folder when `p` is the file. */
export function tokenizerFolder(p: string, configPath: string): string {
  let folder = path.resolve(p);
  if (existsSync(folder) && statSync(folder).isFile()) folder = path.dirname(folder);
  if (!existsSync(path.join(folder, 'tokenizer.json'))) {
    throw new ConfigError(`no tokenizer.json in ${JSON.stringify(folder)}; point it at a Hugging Face tokenizer folder`, { path: configPath });
  }
  return folder;
}

/** Build the tokenizer class AutoTokenizer would pick, from the folder's files, without the hub lookup. */
export async function loadHfTokenizer(folder: string): Promise<HfTokenizer> {
  const tokenizerFile = path.join(folder, 'tokenizer.json');
  const tokenizerJson = readJsonFile(tokenizerFile);
  const configFile = path.join(folder, 'tokenizer_config.json');
  const tokenizerConfig = (existsSync(configFile) ? readJsonFile(configFile) : {}) as { tokenizer_class?: string };
  const transformers = await import('@xenova/transformers');
  const mapping = transformers.AutoTokenizer.TOKENIZER_CLASS_MAPPING as unknown as Record<string, HfTokenizerClass>;
  const className = (tokenizerConfig.tokenizer_class ?? '').replace(/Fast$/, '');
  const Cls = mapping[className] ?? (transformers.PreTrainedTokenizer as unknown as HfTokenizerClass);
  try {
    return new Cls(tokenizerJson, tokenizerConfig);
  } catch (err) {
    throw new ModelFormatError(`${tokenizerFile} is not a tokenizer transformers.js can load: ${(err as Error).message}`, { file: tokenizerFile, cause: err });
  }
}

/**
 * Load `<folder>/onnx/model.onnx` (unquantized unless asked) from disk only, never the network, through
 * core's one loader, which serializes every mmfuse use of transformers.js's global `env`.
 */
export async function loadHfModel(folder: string, quantized: boolean): Promise<HfModel> {
  const transformers = await import('@xenova/transformers');
  return loadPretrainedModel<HfModel>(transformers as unknown as TransformersModule, folder, { quantized });
}
