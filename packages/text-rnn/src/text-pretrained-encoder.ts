/**
 * `text/pretrained`: token or sentence embeddings from a local transformers.js model folder
 * (`onnx/model.onnx`, `config.json`, `tokenizer.json`, `tokenizer_config.json`), frozen. The model runs in
 * `prepare`, off the tensor path, so its output is plain data that the pipeline can cache; `encode` only
 * pads and masks. Never touches the network.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, InvalidInputError, ModelFormatError, checkRawInput, describeValue, parseOptions } from '@mmfuse/core';
import type { JsonObject, PrepareContext, RawInputSpec } from '@mmfuse/core';
import { loadHfModel, loadHfTokenizer, readJsonFile } from './internal/hf.js';
import type { HfModel, HfTensor, HfTokenizer } from './internal/hf.js';
import { normalizeText } from './normalize-text.js';
import { FrozenTextEncoder } from './frozen-text-encoder.js';
import type { PreparedTextEmbedding } from './frozen-text-encoder.js';
import { TEXT_MAX_BYTES, textPretrainedOptionsSchema } from './options.js';
import type { ExpectTrue, OptionsMatch, z } from '@mmfuse/core/base';

/** How token embeddings become the encoder's sequence. */
export type TextPooling = 'none' | 'mean' | 'cls';

export interface TextPretrainedEncoderConfig {
  /** The model folder (absolute, or relative to the working directory). Required. */
  modelPath: string;
  /**
   * `none`: one step per token (special tokens included); `mean`: one step, the mean over tokens;
   * `cls`: one step, the first token's embedding. Default `mean`.
   */
  pooling?: TextPooling;
  /** Most tokens fed to the model, special tokens included; longer texts are truncated and flagged. Default 128 (at most the model's `max_position_embeddings`). */
  maxLength?: number;
  /** Load `onnx/model_quantized.onnx` instead of `onnx/model.onnx`. Default `false`. */
  quantized?: boolean;
  /** Largest text accepted, in bytes of UTF-8 (longer texts are refused with LimitExceededError). Default 1048576 (1 MiB). */
  maxBytes?: number;
}

interface Loaded {
  tokenizer: HfTokenizer;
  model: HfModel;
}

export class TextPretrainedEncoder extends FrozenTextEncoder<Loaded> {
  static readonly kind = 'text/pretrained';
  readonly kind = TextPretrainedEncoder.kind;
  /** A string of up to `maxBytes` bytes of UTF-8. */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  readonly modelPath: string;
  readonly pooling: TextPooling;
  readonly maxLength: number;
  readonly quantized: boolean;

  constructor(config: TextPretrainedEncoderConfig) {
    super();
    if (typeof config?.modelPath !== 'string' || config.modelPath.length === 0) {
      throw new ConfigError('text/pretrained needs the folder of a local transformers.js model', { path: 'modelPath' });
    }
    const o = parseOptions(textPretrainedOptionsSchema, config);
    this.input = { kind: 'text', maxBytes: o.maxBytes ?? TEXT_MAX_BYTES };
    this.modelPath = path.resolve(o.modelPath);
    for (const file of ['config.json', 'tokenizer.json']) {
      if (!existsSync(path.join(this.modelPath, file))) {
        throw new ConfigError(`${JSON.stringify(this.modelPath)} has no ${file}; it must hold onnx/model.onnx, config.json, tokenizer.json and tokenizer_config.json`, { path: 'modelPath' });
      }
    }
    const modelConfig = readJsonFile(path.join(this.modelPath, 'config.json')) as { hidden_size?: number; d_model?: number; max_position_embeddings?: number };
    const dim = modelConfig.hidden_size ?? modelConfig.d_model;
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) {
      throw new ModelFormatError(`config.json of ${this.modelPath} has no positive integer hidden_size`, { file: path.join(this.modelPath, 'config.json') });
    }
    this.outputDim = dim;
    this.pooling = o.pooling ?? 'mean';
    const limit = modelConfig.max_position_embeddings ?? Number.POSITIVE_INFINITY;
    const maxLength = o.maxLength ?? Math.min(128, limit);
    if (maxLength > limit) {
      throw new ConfigError(`must be an integer in 2..${limit} (the model's max_position_embeddings), got ${JSON.stringify(maxLength)}`, { path: 'maxLength' });
    }
    this.maxLength = maxLength;
    this.quantized = o.quantized ?? false;
  }

  protected get maxSteps(): number {
    return this.pooling === 'none' ? this.maxLength : 1;
  }

  protected async loadModel(): Promise<Loaded> {
    const tokenizer = await loadHfTokenizer(this.modelPath);
    const model = await loadHfModel(this.modelPath, this.quantized);
    return { tokenizer, model };
  }

  async prepare(raw: string, ctx: PrepareContext): Promise<PreparedTextEmbedding> {
    if (typeof raw !== 'string') {
      throw new InvalidInputError(`expected text (a string), got ${describeValue(raw)}`, { sample: ctx.sample, field: ctx.field });
    }
    checkRawInput(raw, this.input, ctx);
    const { tokenizer, model } = await this.load();
    // Same clean-up as the other tokenizers (lone surrogates, controls); case is left to the model's tokenizer.
    const text = normalizeText(raw);
    const full = tokenizer(text);
    const truncated = full.input_ids.dims[1] as number > this.maxLength;
    const inputs = truncated ? tokenizer(text, { truncation: true, max_length: this.maxLength }) : full;
    const feeds: Record<string, HfTensor> = { input_ids: inputs.input_ids, attention_mask: inputs.attention_mask };
    if (inputs.token_type_ids !== undefined) feeds.token_type_ids = inputs.token_type_ids;
    let output: Record<string, HfTensor>;
    try {
      output = await model(feeds);
    } catch (err) {
      throw new InvalidInputError(`the model failed on this text: ${(err as Error).message}`, { sample: ctx.sample, field: ctx.field, cause: err });
    }
    const hidden = output.last_hidden_state;
    if (hidden === undefined || !(hidden.data instanceof Float32Array) || hidden.dims.length !== 3 || hidden.dims[2] !== this.outputDim) {
      throw new ModelFormatError(`the model of ${this.modelPath} did not return last_hidden_state [1, T, ${this.outputDim}]`, { file: this.modelPath });
    }
    const steps = hidden.dims[1] as number;
    const dim = this.outputDim;
    const tokens = Float32Array.from(hidden.data); // [T, D] (batch 1)
    if (this.pooling === 'none') return { embeddings: tokens, length: steps, truncated };
    if (this.pooling === 'cls') return { embeddings: tokens.slice(0, dim), length: 1, truncated };
    const mean = new Float32Array(dim);
    for (let t = 0; t < steps; t++) for (let d = 0; d < dim; d++) mean[d]! += tokens[t * dim + d]! / steps;
    return { embeddings: mean, length: 1, truncated };
  }


  getConfig(): JsonObject {
    return { modelPath: this.modelPath, pooling: this.pooling, maxLength: this.maxLength, quantized: this.quantized, maxBytes: this.input.maxBytes };
  }
}

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<TextPretrainedEncoderConfig, z.input<typeof textPretrainedOptionsSchema>>>;
