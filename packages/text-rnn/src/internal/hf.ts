/**
 * Loading local Hugging Face folders with `@xenova/transformers`, imported lazily so that users of the other
 * tokenizers and of `text/rnn` never load ONNX Runtime.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, ModelFormatError } from '@mmfuse/core';

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

// transformers.js resolves local models through its global `env`; loads are serialized so two of ours never
// interleave their settings.
let loading: Promise<unknown> = Promise.resolve();

/** Load `<folder>/onnx/model.onnx` (unquantized unless asked) from disk only, never the network. */
export function loadHfModel(folder: string, quantized: boolean): Promise<HfModel> {
  const run = async (): Promise<HfModel> => {
    const { AutoModel, env } = await import('@xenova/transformers');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${path.dirname(folder)}/`;
    try {
      return (await AutoModel.from_pretrained(path.basename(folder), { quantized, local_files_only: true })) as unknown as HfModel;
    } catch (err) {
      throw new ModelFormatError(`cannot load the ONNX model of ${folder}: ${(err as Error).message}`, { file: folder, cause: err });
    }
  };
  const result = loading.then(run, run);
  loading = result.catch(() => undefined);
  return result;
}
