/**
 * `image/cnn`: images → stacked conv blocks → the final feature map as a sequence of region tokens
 * `[B, H'·W', C']` (row-major: token = row·W' + column), so the fusion Transformer can attend to regions, or one
 * pooled token `[B, 1, C']`.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, StateError, checkRawInput, describeValue, dropout, parseOptions } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, ExpectTrue, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OptionsMatch, PrepareContext, PruningGroup, RawInputSpec, Rng, TensorMap, WeightDescription, z } from '@mmfuse/core';
import { IMAGE_MAX_BYTES, imageCnnOptionsSchema } from './encoder-options.js';
import { flipHorizontal, jitterBrightnessContrast, sampleResizedCrop } from './augment.js';
import { ConvBlock } from './conv-block.js';
import { checkChannelVector, checkColour } from './internal/options.js';
import { checkInteger, checkNumber, checkOneOf } from '@mmfuse/core/base';
import { DEFAULT_MAX_PIXELS, IMAGE_FITS, RESIZE_KERNELS, loadImage } from './load-image.js';
import type { ImageFit, ResizeKernel } from './load-image.js';
import { IMAGENET_MEAN, IMAGENET_STD, fitChannelStats } from './normalization.js';

/** Training-only augmentation of `image/cnn`; each part is optional. */
export interface ImageAugmentConfig {
  /** Random resized crop before resizing: area fraction `scale`, aspect ratio `ratio`. `null` = none. Default `{ scale: [0.8, 1], ratio: [3/4, 4/3] }`. */
  crop?: { scale?: [number, number]; ratio?: [number, number] } | null;
  /** Mirror left-right with probability 1/2. Default `true`. */
  flip?: boolean;
  /** Brightness factor drawn from [1 - x, 1 + x]. Default 0.2. */
  brightness?: number;
  /** Contrast factor drawn from [1 - x, 1 + x]. Default 0.2. */
  contrast?: number;
}

/**
 * Channel normalization applied in `collate`: given statistics, `'fit'` (computed by `fit()` on the training
 * set and saved in the state), `'imagenet'` (3 channels only) or `'none'` (values stay in [0, 1]).
 */
export type ImageNormalization = { mean: number[]; std: number[] } | 'fit' | 'imagenet' | 'none';

export interface ImageCnnEncoderConfig {
  /** Input width in pixels after resizing. Default 64. */
  width?: number;
  /** Input height in pixels after resizing. Default 64. */
  height?: number;
  /** 1 (grey) or 3 (RGB). Default 3. */
  channels?: 1 | 3;
  /** How images are fitted to width × height. Default `'cover'`. */
  fit?: ImageFit;
  /** Resize kernel. Default `'linear'` (antialiased bilinear). */
  kernel?: ResizeKernel;
  /** Colour that alpha is flattened on and that `contain` pads with. Default `'#ffffff'`. */
  background?: string;
  /** Channel normalization. Default `'fit'`. */
  normalization?: ImageNormalization;
  /** Augmentation used when `prepare` runs with `ctx.training`; `null` = none. Default: crop scale [0.8, 1], flip, brightness 0.2, contrast 0.2. */
  augment?: ImageAugmentConfig | null;
  /** Output channels of each conv block (depth = number of blocks). Default `[16, 32, 64]`. */
  blocks?: number[];
  /** Kernel size of every block. Default 3. */
  kernelSize?: number;
  /** Batch norm in every block. Default `true`. */
  batchNorm?: boolean;
  /** Shortcut connection in every block. Default `false`. */
  residual?: boolean;
  /** Max-pool size of every block. Default 2. */
  pool?: number;
  /** `'regions'`: one token per cell of the final map; `'pooled'`: one token, the spatial mean. Default `'regions'`. */
  output?: 'regions' | 'pooled';
  /** Largest source image accepted, in pixels (checked on the header). Default 40,000,000. */
  maxPixels?: number;
  /** Dropout on the output tokens in training. Default 0.1. */
  dropout?: number;
  /** Largest image file (or byte buffer) accepted, in bytes, checked before decoding. Default 67108864 (64 MiB). */
  maxBytes?: number;
}

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<ImageCnnEncoderConfig, z.input<typeof imageCnnOptionsSchema>>>;

/** What `prepare` returns: one image, HWC float32 in [0, 1] (normalization happens in `collate`). */
export interface PreparedImage {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

interface ResolvedAugment {
  crop: { scale: [number, number]; ratio: [number, number] } | null;
  flip: boolean;
  brightness: number;
  contrast: number;
}

type Resolved = Required<Omit<ImageCnnEncoderConfig, 'augment' | 'channels'>> & { channels: 1 | 3; augment: ResolvedAugment | null };

const DEFAULT_AUGMENT: ResolvedAugment = { crop: { scale: [0.8, 1], ratio: [3 / 4, 4 / 3] }, flip: true, brightness: 0.2, contrast: 0.2 };

function checkRange(value: unknown, path: string, min: number, max: number): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) throw new ConfigError(`must be [min, max], got ${describeValue(value)}`, { path });
  const lo = checkNumber(value[0], `${path}[0]`, min, max);
  const hi = checkNumber(value[1], `${path}[1]`, min, max);
  if (lo > hi || lo <= 0) throw new ConfigError(`must satisfy 0 < min <= max, got [${lo}, ${hi}]`, { path });
  return [lo, hi];
}

function resolveAugment(a: ImageAugmentConfig | null | undefined): ResolvedAugment | null {
  if (a === null) return null;
  if (a === undefined) return { ...DEFAULT_AUGMENT };
  const crop = a.crop === null
    ? null
    : {
      scale: checkRange(a.crop?.scale ?? DEFAULT_AUGMENT.crop?.scale, 'augment.crop.scale', 0, 1),
      ratio: checkRange(a.crop?.ratio ?? DEFAULT_AUGMENT.crop?.ratio, 'augment.crop.ratio', 0, 100),
    };
  const flip = a.flip ?? true;
  if (typeof flip !== 'boolean') throw new ConfigError(`must be true or false, got ${describeValue(flip)}`, { path: 'augment.flip' });
  return {
    crop,
    flip,
    brightness: checkNumber(a.brightness ?? 0.2, 'augment.brightness', 0, 1),
    contrast: checkNumber(a.contrast ?? 0.2, 'augment.contrast', 0, 1),
  };
}

function resolveConfig(raw: ImageCnnEncoderConfig): Resolved {
  const config = parseOptions(imageCnnOptionsSchema, raw);
  const channels = checkOneOf(config.channels ?? 3, 'channels', [1, 3] as const);
  const blocks = config.blocks ?? [16, 32, 64];
  if (!Array.isArray(blocks) || blocks.length === 0) throw new ConfigError(`must be a non-empty array of channel counts, got ${describeValue(blocks)}`, { path: 'blocks' });
  blocks.forEach((b, i) => checkInteger(b, `blocks[${i}]`, 1, 4096));
  let normalization = config.normalization ?? 'fit';
  if (typeof normalization === 'string') {
    checkOneOf(normalization, 'normalization', ['fit', 'imagenet', 'none']);
    if (normalization === 'imagenet' && channels !== 3) throw new ConfigError('"imagenet" statistics are for 3 channels; use "fit" or give { mean, std } for 1 channel', { path: 'normalization' });
  } else if (typeof normalization === 'object' && normalization !== null) {
    normalization = {
      mean: checkChannelVector(normalization.mean, 'normalization.mean', channels, false),
      std: checkChannelVector(normalization.std, 'normalization.std', channels, true),
    };
  } else {
    throw new ConfigError(`must be { mean, std }, "fit", "imagenet" or "none", got ${describeValue(normalization)}`, { path: 'normalization' });
  }
  const resolved: Resolved = {
    width: checkInteger(config.width ?? 64, 'width', 1, 8192),
    height: checkInteger(config.height ?? 64, 'height', 1, 8192),
    channels,
    fit: checkOneOf(config.fit ?? 'cover', 'fit', IMAGE_FITS),
    kernel: checkOneOf(config.kernel ?? 'linear', 'kernel', RESIZE_KERNELS),
    background: checkColour(config.background ?? '#ffffff', 'background'),
    normalization,
    augment: resolveAugment(config.augment),
    blocks: blocks.slice(),
    kernelSize: checkInteger(config.kernelSize ?? 3, 'kernelSize', 1, 31),
    batchNorm: config.batchNorm ?? true,
    residual: config.residual ?? false,
    pool: checkInteger(config.pool ?? 2, 'pool', 1, 64),
    output: checkOneOf(config.output ?? 'regions', 'output', ['regions', 'pooled'] as const),
    maxPixels: checkInteger(config.maxPixels ?? DEFAULT_MAX_PIXELS, 'maxPixels', 1, 2 ** 40),
    dropout: checkNumber(config.dropout ?? 0.1, 'dropout', 0, 0.99),
    maxBytes: config.maxBytes ?? IMAGE_MAX_BYTES,
  };
  const shrink = resolved.pool ** blocks.length;
  if (Math.floor(resolved.height / shrink) < 1 || Math.floor(resolved.width / shrink) < 1) {
    throw new ConfigError(`${blocks.length} blocks with pool ${resolved.pool} shrink ${resolved.width}×${resolved.height} below one cell; use fewer blocks or larger images`, { path: 'blocks' });
  }
  return resolved;
}

/** Media types of the images `image/cnn` decodes (through sharp). */
export const IMAGE_MEDIA_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/avif', 'image/tiff'];

export class ImageCnnEncoder implements ModalityEncoder<string | Uint8Array, PreparedImage> {
  static readonly kind = 'image/cnn';
  readonly kind = ImageCnnEncoder.kind;
  readonly modality = 'image';
  /** An image file (path or bytes) of up to `maxBytes`; the pixel cap is checked in the header. */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  /** Number of tokens per image: H'·W' for `regions`, 1 for `pooled`. */
  readonly tokens: number;
  private readonly config: Resolved;
  private readonly blocks: ConvBlock[];
  private mean?: number[];
  private std?: number[];
  private built = false;

  constructor(config: ImageCnnEncoderConfig = {}) {
    this.config = resolveConfig(config);
    const c = this.config;
    this.input = { kind: 'file', maxBytes: c.maxBytes, mediaTypes: IMAGE_MEDIA_TYPES };
    let inChannels: number = c.channels;
    this.blocks = c.blocks.map((out, i) => {
      const block = new ConvBlock({ inChannels, outChannels: out, kernelSize: c.kernelSize, batchNorm: c.batchNorm, residual: c.residual, pool: c.pool });
      inChannels = out;
      return block;
    });
    this.outputDim = c.blocks[c.blocks.length - 1] as number;
    const shrink = c.pool ** c.blocks.length;
    this.tokens = c.output === 'pooled' ? 1 : Math.floor(c.height / shrink) * Math.floor(c.width / shrink);
    if (typeof c.normalization === 'object') {
      this.mean = c.normalization.mean.slice();
      this.std = c.normalization.std.slice();
    } else if (c.normalization === 'imagenet') {
      this.mean = [...IMAGENET_MEAN];
      this.std = [...IMAGENET_STD];
    } else if (c.normalization === 'none') {
      this.mean = new Array<number>(c.channels).fill(0);
      this.std = new Array<number>(c.channels).fill(1);
    }
  }

  /**
   * Decode, orient, flatten, crop/resize to the configured size; with `ctx.training` (and augmentation on) a
   * random resized crop, a flip and brightness/contrast jitter drawn from `ctx.rng`.
   */
  async prepare(raw: string | Uint8Array, ctx: PrepareContext): Promise<PreparedImage> {
    const c = this.config;
    const location = { sample: ctx.sample, field: ctx.field };
    checkRawInput(raw, this.input, ctx);
    const augment = ctx.training === true ? c.augment : null;
    const rng = ctx.rng;
    if (augment !== null && rng === undefined) {
      throw new ConfigError('prepare in training with augmentation needs ctx.rng (a seeded Rng), so that runs are reproducible', location);
    }
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
      throw new InvalidInputError(`expected an image file path or encoded image bytes, got ${describeValue(raw)}`, location);
    }
    const crop = augment?.crop;
    const img = await loadImage(raw, {
      width: c.width,
      height: c.height,
      channels: c.channels,
      // A random crop already chose the region, so it is stretched to the target size as torchvision does.
      fit: crop ? 'fill' : c.fit,
      kernel: c.kernel,
      background: c.background,
      maxPixels: c.maxPixels,
      ...(ctx.baseDir !== undefined ? { baseDir: ctx.baseDir } : {}),
      ...(ctx.allowOutsideBaseDir !== undefined ? { allowOutsideBaseDir: ctx.allowOutsideBaseDir } : {}),
      ...(crop && rng ? { crop: (size) => sampleResizedCrop(size, rng, crop) } : {}),
      location,
    });
    let data = img.data;
    if (augment !== null && rng !== undefined) {
      if (augment.flip && rng.bernoulli(0.5)) data = flipHorizontal(data, img);
      if (augment.brightness > 0 || augment.contrast > 0) {
        data = jitterBrightnessContrast(data, c.channels, rng, { brightness: augment.brightness, contrast: augment.contrast }).data;
      }
    }
    return { data, height: img.height, width: img.width, channels: img.channels };
  }

  /** With `normalization: 'fit'`, compute each channel's mean and standard deviation over the training images. */
  fit(values: readonly PreparedImage[]): void {
    if (this.config.normalization !== 'fit') return;
    values.forEach((v, i) => this.checkPrepared(v, i));
    const stats = fitChannelStats(values.map((v) => v.data), this.config.channels);
    this.mean = stats.mean;
    this.std = stats.std;
  }

  build(rng: Rng): void {
    if (this.built) return;
    this.blocks.forEach((b, i) => b.build(rng.fork(`image/cnn/block${i}`)));
    this.built = true;
  }

  private checkPrepared(v: PreparedImage, index: number): void {
    const c = this.config;
    if (v === null || typeof v !== 'object' || !(v.data instanceof Float32Array) || v.height !== c.height || v.width !== c.width || v.channels !== c.channels ||
      v.data.length !== c.height * c.width * c.channels) {
      const got = v !== null && typeof v === 'object' ? `${v.height}×${v.width}×${v.channels}` : describeValue(v);
      throw new InvalidInputError(`prepared image is ${got}, expected ${c.height}×${c.width}×${c.channels}; prepare it again with this encoder's config`, { sample: index, field: 'images' });
    }
  }

  /** Stack and normalize: `{ images: [B, height, width, channels] }`. */
  collate(values: readonly PreparedImage[]): TensorMap {
    const c = this.config;
    if (this.mean === undefined || this.std === undefined) {
      throw new StateError('image/cnn: normalization is "fit" but fit() has not run (or setState() was not given saved statistics)');
    }
    const per = c.height * c.width * c.channels;
    const flat = new Float32Array(values.length * per);
    const scale = this.std.map((s) => 1 / s);
    values.forEach((v, b) => {
      this.checkPrepared(v, b);
      const offset = b * per;
      for (let i = 0; i < per; i++) {
        const ch = i % c.channels;
        flat[offset + i] = ((v.data[i] as number) - (this.mean?.[ch] as number)) * (scale[ch] as number);
      }
    });
    return { images: tf.tensor4d(flat, [values.length, c.height, c.width, c.channels]) };
  }

  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput {
    if (!this.built) throw new StateError('image/cnn: call build() before encode()');
    if (options.training && this.config.dropout > 0 && options.rng === undefined) {
      throw new StateError('image/cnn: encode while training needs options.rng (a seeded Rng) for dropout, so runs are reproducible');
    }
    const images = batch.images;
    if (images === undefined) throw new ConfigError('image/cnn: batch has no "images" tensor; build it with collate()');
    const c = this.config;
    return tf.tidy(() => {
      let x = images as tf.Tensor4D; // [B, H, W, C]
      for (const block of this.blocks) x = block.apply(x, { training: options.training });
      const [b, h, w, ch] = x.shape; // [B, H', W', C']
      let features = c.output === 'pooled'
        ? tf.mean(x, [1, 2]).reshape([b, 1, ch]) as tf.Tensor3D // [B, 1, C']
        : x.reshape([b, h * w, ch]) as tf.Tensor3D; // [B, H'·W', C'], token = row·W' + column
      features = dropout(features, c.dropout, options.training, options.rng);
      const mask = tf.ones([b, features.shape[1]]) as tf.Tensor2D; // every region is a real token
      return { features, mask };
    });
  }

  /**
   * The inference-mode `encode` as ONNX: input `images` [batch, height, width, channels] float32 (already
   * normalized by `collate`), the conv blocks in NCHW, then region tokens (row-major) or the pooled token,
   * every token real.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    if (!this.built) throw new StateError('image/cnn: call build() before exportOnnx()');
    const c = this.config;
    const images = g.input('images', 'float32', [g.batch, c.height, c.width, c.channels]);
    let x = g.op('Transpose', [images], { perm: [0, 3, 1, 2] }); // [B, C, H, W]
    for (const block of this.blocks) x = block.exportOnnx(g, x);
    const features = c.output === 'pooled'
      ? g.op('Unsqueeze', [g.op('ReduceMean', [x], { axes: [2, 3], keepdims: 0 }), g.ints([1])]) // [B, 1, C']
      : g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 3, 1] }), g.ints([0, -1, this.outputDim])]); // [B, H'·W', C'], token = row·W' + column
    const b = g.op('Gather', [g.op('Shape', [images]), g.ints([0])], { axis: 0 });
    const mask = g.op('Expand', [g.floats(1, [1, this.tokens]), g.op('Concat', [b, g.ints([this.tokens])], { axis: 0 })]); // [B, tokens]
    return { features, mask, maxSteps: this.tokens };
  }

  get trainableWeights(): tf.Variable[] {
    return this.blocks.flatMap((b) => b.trainableWeights);
  }

  /** Trainable weights of every block, then every block's running statistics. */
  get weights(): tf.Variable[] {
    const trainable = new Set(this.trainableWeights);
    return [...this.trainableWeights, ...this.blocks.flatMap((b) => b.weights.filter((w) => !trainable.has(w)))];
  }

  /** Conv filters and 1×1 shortcuts [k, k, in, out] per output channel (axis 3); bias, batch-norm parameters and statistics stay float32. */
  describeWeights(): WeightDescription[] {
    const trainable = this.blocks.flatMap((b, i) => [
      { name: `block${i}.kernel`, outputAxis: 3 },
      ...(b.useBias ? [{ name: `block${i}.bias`, outputAxis: null }] : []),
      ...(b.batchNorm ? [{ name: `block${i}.gamma`, outputAxis: null }, { name: `block${i}.beta`, outputAxis: null }] : []),
      ...(b.residual && b.inChannels !== b.outChannels ? [{ name: `block${i}.shortcut`, outputAxis: 3 }] : []),
    ]);
    const stats = this.blocks.flatMap((b, i) => (b.batchNorm ? [{ name: `block${i}.runningMean`, outputAxis: null }, { name: `block${i}.runningVar`, outputAxis: null }] : []));
    return [...trainable, ...stats];
  }

  /**
   * The output channels of each block. Channel u of block i owns filter u, its bias, batch-norm gamma, beta
   * and running statistics, and input channel u of the next block's filter; the last block's channel u is
   * output feature u. Zeroed, batch norm gives gamma · (x − mean) / σ + beta = 0 and relu(0) = 0, so removing
   * the channel changes nothing. With `residual` blocks an identity shortcut ties a block's channels to the
   * previous block's, which groups of counts cannot say: no groups then.
   */
  pruningGroups(): PruningGroup[] {
    if (this.config.residual) return [];
    const index: { kernel: number; bias?: number; gamma?: number; beta?: number; mean?: number; variance?: number }[] = [];
    let n = 0;
    for (const b of this.blocks) {
      const at: (typeof index)[number] = { kernel: n++ };
      if (b.useBias) at.bias = n++;
      if (b.batchNorm) { at.gamma = n++; at.beta = n++; }
      index.push(at);
    }
    for (const [i, b] of this.blocks.entries()) {
      if (b.batchNorm) { (index[i] as (typeof index)[number]).mean = n++; (index[i] as (typeof index)[number]).variance = n++; }
    }
    const last = this.blocks.length - 1;
    return this.blocks.map((b, i) => {
      const at = index[i] as (typeof index)[number];
      const own = (w: number | undefined): PruningGroup['slices'] => (w === undefined ? [] : [{ weight: w, axis: 0, indices: (u: number) => [u] }]);
      const slices: PruningGroup['slices'] = [
        { weight: at.kernel, axis: 3, indices: (u) => [u] },
        ...own(at.bias), ...own(at.gamma), ...own(at.beta), ...own(at.mean), ...own(at.variance),
      ];
      if (i < last) slices.push({ weight: (index[i + 1] as (typeof index)[number]).kernel, axis: 2, indices: (u) => [u] });
      const group: PruningGroup = { name: `block${i}.channels`, size: b.outChannels, slices };
      if (i === last) group.outputFeatures = (u) => [u];
      return group;
    });
  }

  prunedOptions(kept: Readonly<Record<string, number>>): JsonObject {
    return { blocks: this.config.blocks.map((n, i) => kept[`block${i}.channels`] ?? n) };
  }

  getConfig(): JsonObject {
    const { augment, normalization, ...rest } = this.config;
    return JSON.parse(JSON.stringify({ ...rest, normalization, augment })) as JsonObject;
  }

  getState(): JsonObject {
    return { mean: this.mean === undefined ? null : this.mean.slice(), std: this.std === undefined ? null : this.std.slice() };
  }

  setState(state: JsonObject): void {
    if (state.mean === null && state.std === null) return;
    const path = 'state';
    this.mean = checkChannelVector(state.mean, `${path}.mean`, this.config.channels, false);
    this.std = checkChannelVector(state.std, `${path}.std`, this.config.channels, true);
  }

  dispose(): void {
    for (const b of this.blocks) b.dispose();
    this.built = false;
  }
}
