/**
 * `image/pretrained`: frozen image features from a local ViT/CLIP-style ONNX model folder, run with
 * `@xenova/transformers` (never the model hub). The features are computed in `prepare`, off the tensor path, so
 * training only stacks them; the encoder has no weights.
 *
 * Folder layout (as transformers.js expects): `config.json`, `preprocessor_config.json`, `onnx/model.onnx`
 * taking `pixel_values` [B, 3, H, W] and giving `last_hidden_state` [B, T, D] (and optionally `pooler_output`).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, ModelFormatError, StateError, checkInteger, checkOneOf, checkRawInput, describeValue, loadPretrainedModel, parseOptions } from '@mmfuse/core';
import type { TransformersModule as CoreTransformersModule } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, ExpectTrue, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OptionsMatch, PrepareContext, RawInputSpec, Rng, TensorMap, z } from '@mmfuse/core';
import { IMAGE_MAX_BYTES, imagePretrainedOptionsSchema } from './encoder-options.js';
import { IMAGE_MEDIA_TYPES } from './image-cnn-encoder.js';
import { checkColour } from './internal/options.js';
import { DEFAULT_MAX_PIXELS, loadImage } from './load-image.js';

/**
 * Which features become tokens: `'patches'` every token of `last_hidden_state` ([CLS] first, then one per patch),
 * `'cls'` its first token, `'pooled'` the model's `pooler_output`.
 */
export type PretrainedImageOutput = 'patches' | 'cls' | 'pooled';

export interface ImagePretrainedEncoderConfig {
  /** Model folder (absolute, or relative to the current folder). */
  model: string;
  /** Tokens to emit. Default `'patches'`. */
  output?: PretrainedImageOutput;
  /** Colour that transparency is flattened on. Default `'#ffffff'`. */
  background?: string;
  /** Largest source image accepted, in pixels. Default 40,000,000. */
  maxPixels?: number;
  /** Largest image file (or byte buffer) accepted, in bytes, checked before decoding. Default 67108864 (64 MiB). */
  maxBytes?: number;
}

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<ImagePretrainedEncoderConfig, z.input<typeof imagePretrainedOptionsSchema>>>;

/** Features of one image: `tokens × dim` float32 values, token by token. */
export interface PreparedImageFeatures {
  features: Float32Array;
  tokens: number;
  dim: number;
}

/** The part of `preprocessor_config.json` that this encoder applies. */
interface Preprocessing {
  width: number;
  height: number;
  fit: 'fill' | 'cover';
  kernel: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
  resize: boolean;
  scale: number;
  mean: number[];
  std: number[];
}

interface Model {
  (inputs: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
  dispose(): Promise<unknown>;
}
interface TransformersModule {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  AutoModel: { from_pretrained(id: string, options: Record<string, unknown>): Promise<Model> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
}

function readJson(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelFormatError(`cannot read ${what} ${JSON.stringify(file)}: ${(err as Error).message}`, { file, cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ModelFormatError(`${what} ${JSON.stringify(file)} is not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
}

// PIL resample codes that image processors write.
const RESAMPLE: Record<number, Preprocessing['kernel']> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic' };

function readPreprocessing(folder: string): Preprocessing {
  const file = path.join(folder, 'preprocessor_config.json');
  const p = readJson(file, 'preprocessor config');
  const bad = (key: string, value: unknown): never => {
    throw new ModelFormatError(`${key} in ${file} is ${describeValue(value)}; expected ${key === 'size' || key === 'crop_size' ? 'a number, { height, width } or { shortest_edge }' : 'valid values'}`, { file });
  };
  const dims = (key: string, value: unknown): { width: number; height: number; shortest: boolean } => {
    if (typeof value === 'number' && value > 0) return { width: value, height: value, shortest: false };
    if (typeof value === 'object' && value !== null) {
      const v = value as Record<string, unknown>;
      if (typeof v.height === 'number' && typeof v.width === 'number') return { width: v.width, height: v.height, shortest: false };
      if (typeof v.shortest_edge === 'number') return { width: v.shortest_edge, height: v.shortest_edge, shortest: true };
    }
    return bad(key, value);
  };
  const size = dims('size', p.size);
  const crop = p.do_center_crop === true ? dims('crop_size', p.crop_size ?? p.size) : undefined;
  const target = crop ?? size;
  const channelVector = (key: string, value: unknown, fallback: number): number[] => {
    if (value === undefined) return [fallback, fallback, fallback];
    const arr = typeof value === 'number' ? [value, value, value] : value;
    if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((x) => typeof x === 'number' && Number.isFinite(x))) return bad(key, value);
    return arr as number[];
  };
  const normalize = p.do_normalize !== false;
  const std = normalize ? channelVector('image_std', p.image_std, 1) : [1, 1, 1];
  if (std.some((s) => s <= 0)) bad('image_std', p.image_std);
  const resample = typeof p.resample === 'number' ? RESAMPLE[p.resample] : 'linear';
  if (resample === undefined) bad('resample', p.resample);
  return {
    width: target.width,
    height: target.height,
    // A shortest-edge resize followed by a centre crop is what `cover` does in one step.
    fit: size.shortest || crop !== undefined ? 'cover' : 'fill',
    kernel: resample as Preprocessing['kernel'],
    resize: p.do_resize !== false,
    scale: p.do_rescale === false ? 1 : typeof p.rescale_factor === 'number' ? p.rescale_factor : 1 / 255,
    mean: normalize ? channelVector('image_mean', p.image_mean, 0) : [0, 0, 0],
    std,
  };
}

export class ImagePretrainedEncoder implements ModalityEncoder<string | Uint8Array, PreparedImageFeatures> {
  static readonly kind = 'image/pretrained';
  readonly kind = ImagePretrainedEncoder.kind;
  readonly modality = 'image';
  /** An image file (path or bytes) of up to `maxBytes`; the pixel cap is checked in the header. */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  /** Tokens per image: 1 + patches for `patches`, 1 otherwise. */
  readonly tokens: number;
  private readonly folder: string;
  private readonly config: Required<Omit<ImagePretrainedEncoderConfig, 'maxBytes'>>;
  private readonly pre: Preprocessing;
  private model?: Promise<{ model: Model; Tensor: TransformersModule['Tensor'] }>;

  constructor(config: ImagePretrainedEncoderConfig) {
    if (typeof config?.model !== 'string' || config.model.length === 0) {
      throw new ConfigError(`must be the path of a local model folder, got ${describeValue(config?.model)}`, { path: 'model' });
    }
    const o = parseOptions(imagePretrainedOptionsSchema, config);
    this.input = { kind: 'file', maxBytes: o.maxBytes ?? IMAGE_MAX_BYTES, mediaTypes: IMAGE_MEDIA_TYPES };
    this.config = {
      model: o.model,
      output: checkOneOf(config.output ?? 'patches', 'output', ['patches', 'cls', 'pooled'] as const),
      background: checkColour(config.background ?? '#ffffff', 'background'),
      maxPixels: checkInteger(config.maxPixels ?? DEFAULT_MAX_PIXELS, 'maxPixels', 1, 2 ** 40),
    };
    this.folder = path.resolve(config.model);
    const modelConfig = readJson(path.join(this.folder, 'config.json'), 'model config');
    this.pre = readPreprocessing(this.folder);
    const hidden = modelConfig.hidden_size ?? (modelConfig.vision_config as Record<string, unknown> | undefined)?.hidden_size;
    if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1) {
      throw new ModelFormatError(`config.json has no integer hidden_size (got ${describeValue(hidden)})`, { file: path.join(this.folder, 'config.json') });
    }
    const channels = modelConfig.num_channels ?? 3;
    if (channels !== 3) throw new ModelFormatError(`only 3-channel models are supported, config.json has num_channels ${describeValue(channels)}`, { file: path.join(this.folder, 'config.json') });
    const patch = modelConfig.patch_size;
    this.outputDim = hidden;
    this.tokens = this.config.output === 'patches' && typeof patch === 'number'
      ? 1 + Math.floor(this.pre.height / patch) * Math.floor(this.pre.width / patch)
      : 1;
  }

  private loadModel(): Promise<{ model: Model; Tensor: TransformersModule['Tensor'] }> {
    this.model ??= (async () => {
      let tr: TransformersModule;
      try {
        tr = (await import('@xenova/transformers')) as unknown as TransformersModule;
      } catch (err) {
        throw new ConfigError('image/pretrained needs the optional peer dependency @xenova/transformers (npm install @xenova/transformers)', { cause: err });
      }
      const model = await loadPretrainedModel<Model>(tr as unknown as CoreTransformersModule, this.folder);
      return { model, Tensor: tr.Tensor };
    })();
    // A failed load is retried on the next call instead of caching the failure.
    this.model.catch(() => { this.model = undefined; });
    return this.model;
  }

  /** Decode and preprocess as `preprocessor_config.json` says, run the model, and return the chosen tokens. */
  async prepare(raw: string | Uint8Array, ctx: PrepareContext): Promise<PreparedImageFeatures> {
    const location = { sample: ctx.sample, field: ctx.field };
    checkRawInput(raw, this.input, ctx);
    const p = this.pre;
    const img = await loadImage(raw, {
      ...(p.resize ? { width: p.width, height: p.height } : {}),
      fit: p.fit,
      kernel: p.kernel,
      channels: 3,
      background: this.config.background,
      maxPixels: this.config.maxPixels,
      ...(ctx.baseDir !== undefined ? { baseDir: ctx.baseDir } : {}),
      ...(ctx.allowOutsideBaseDir !== undefined ? { allowOutsideBaseDir: ctx.allowOutsideBaseDir } : {}),
      location,
    });
    if (img.width !== p.width || img.height !== p.height) {
      throw new InvalidInputError(`image is ${img.width}×${img.height} but the model takes ${p.width}×${p.height} and its preprocessor does not resize`, location);
    }
    // HWC in [0, 1] → CHW pixel values the way the processor computes them: x·255·rescale, then (x - mean) / std.
    const hw = p.width * p.height;
    const chw = new Float32Array(3 * hw);
    const k = 255 * p.scale;
    for (let i = 0; i < hw; i++) {
      for (let c = 0; c < 3; c++) chw[c * hw + i] = ((img.data[i * 3 + c] as number) * k - (p.mean[c] as number)) / (p.std[c] as number);
    }
    const { model, Tensor } = await this.loadModel();
    const out = await model({ pixel_values: new Tensor('float32', chw, [1, 3, p.height, p.width]) });
    const hidden = out.last_hidden_state;
    if (this.config.output === 'pooled') {
      const pooled = out.pooler_output ?? out.image_embeds;
      if (pooled === undefined) throw new ModelFormatError(`the model in ${this.folder} has no pooler_output; use output "cls" or "patches"`, { file: this.folder });
      return { features: Float32Array.from(pooled.data), tokens: 1, dim: pooled.dims[1] as number };
    }
    if (hidden === undefined || hidden.dims.length !== 3) {
      throw new ModelFormatError(`the model in ${this.folder} gives no last_hidden_state [batch, tokens, dim]`, { file: this.folder });
    }
    const [, tokens, dim] = hidden.dims as [number, number, number];
    if (dim !== this.outputDim) throw new ModelFormatError(`model output width ${dim} differs from hidden_size ${this.outputDim} in config.json`, { file: this.folder });
    const features = this.config.output === 'cls' ? Float32Array.from(hidden.data.subarray(0, dim)) : Float32Array.from(hidden.data);
    return { features, tokens: this.config.output === 'cls' ? 1 : tokens, dim };
  }

  build(_rng: Rng): void {
    // Frozen: no weights to create.
  }

  /** Stack into `{ features: [B, T, D], mask: [B, T] }`, padding shorter sequences with zeros (mask 0). */
  collate(values: readonly PreparedImageFeatures[]): TensorMap {
    const T = Math.max(1, ...values.map((v) => v.tokens));
    const D = this.outputDim;
    const features = new Float32Array(values.length * T * D);
    const mask = new Float32Array(values.length * T);
    values.forEach((v, b) => {
      if (v?.dim !== D || !(v.features instanceof Float32Array) || v.features.length !== v.tokens * D) {
        throw new InvalidInputError(`prepared features are ${describeValue(v?.features)} with dim ${describeValue(v?.dim)}, expected tokens × ${D}; prepare it again with this encoder`, { sample: b, field: 'features' });
      }
      features.set(v.features, b * T * D);
      mask.fill(1, b * T, b * T + v.tokens);
    });
    return { features: tf.tensor3d(features, [values.length, T, D]), mask: tf.tensor2d(mask, [values.length, T]) };
  }

  encode(batch: TensorMap, _options: EncodeOptions): EncoderOutput {
    const { features, mask } = batch;
    if (features === undefined || mask === undefined) throw new StateError('image/pretrained: batch needs "features" and "mask"; build it with collate()');
    // Copies, so the caller may dispose the batch and the output independently.
    return { features: tf.clone(features) as tf.Tensor3D, mask: tf.clone(mask) as tf.Tensor2D };
  }

  /**
   * The tensor part as ONNX: inputs `features` [batch, time, dim] and `mask` [batch, time] float32, passed
   * through (the pretrained model itself runs in `prepare`, chained before the graph on every runtime).
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    const features = g.input('features', 'float32', [g.batch, 'time', this.outputDim]);
    const mask = g.input('mask', 'float32', [g.batch, 'time']);
    // The token count is known unless the model's config has no patch_size.
    return this.config.output !== 'patches' || this.tokens > 1 ? { features, mask, maxSteps: this.tokens } : { features, mask };
  }

  get trainableWeights(): tf.Variable[] {
    return [];
  }

  get weights(): tf.Variable[] {
    return [];
  }

  getConfig(): JsonObject {
    return { ...this.config, maxBytes: this.input.maxBytes };
  }

  getState(): JsonObject {
    return {};
  }

  setState(_state: JsonObject): void {
    // Nothing is fitted: the model folder is the state.
  }

  dispose(): void {
    const pending = this.model;
    this.model = undefined;
    void pending?.then(({ model }) => model.dispose()).catch(() => undefined);
  }
}
