/**
 * Image decoding and resizing with sharp (libvips): the one preprocessing path that scripts and the
 * `image/cnn` encoder share, so an image looks the same to a model in training and in a script.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import type { Metadata, OutputInfo } from 'sharp';
import { ConfigError, InternalError, InvalidInputError, LimitExceededError, UnsupportedFormatError, checkInteger, checkOneOf, describeValue, resolveDataPath } from '@mmfuse/core/base';
import type { ErrorLocation } from '@mmfuse/core/base';
import { checkChannelVector, checkColour } from './internal/options.js';
import { sniffImageFormat } from './internal/sniff.js';

/** Container formats `loadImage` decodes (sharp's names; AVIF reports itself as `heif`). */
export const SUPPORTED_IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'heif', 'gif', 'tiff'] as const;
export type SupportedImageFormat = (typeof SUPPORTED_IMAGE_FORMATS)[number];

/**
 * How an image is fitted to the target size:
 * - `cover`: scale so the image covers the target, then cut the overflow equally on both sides (centre crop);
 * - `contain`: scale so the whole image fits, then pad equally on both sides with `background`;
 * - `fill`: scale each axis independently (the aspect ratio changes).
 */
export type ImageFit = 'cover' | 'contain' | 'fill';
export const IMAGE_FITS: readonly ImageFit[] = ['cover', 'contain', 'fill'];

/** Resampling kernel (sharp's names). `linear` is bilinear with a support widened when downscaling (antialiased). */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos3';
export const RESIZE_KERNELS: readonly ResizeKernel[] = ['nearest', 'linear', 'cubic', 'mitchell', 'lanczos3'];

/** A rectangle of the (orientation-corrected) source image, in pixels. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Size of the source image after EXIF orientation is applied. */
export interface ImageSize {
  width: number;
  height: number;
}

export interface LoadImageOptions {
  /** Target width in pixels. Default: the source width (no resize unless `height` is given). */
  width?: number;
  /** Target height in pixels. Default: the source height. */
  height?: number;
  /** How the source is fitted to `width` × `height`. Default `'cover'`. */
  fit?: ImageFit;
  /** Resampling kernel. Default `'linear'` (bilinear, antialiased when shrinking, as Pillow's BILINEAR). */
  kernel?: ResizeKernel;
  /**
   * sharp's option of the same name: when shrinking a JPEG/WebP a lot, let the decoder shrink harder while it
   * decodes (sharp always uses some shrink-on-load; this allows more, at the risk of slight moiré or a dimension
   * rounded down before the final resize). Default `true`.
   */
  fastShrinkOnLoad?: boolean;
  /** 1 (libvips' luminance of the sRGB image) or 3 (sRGB). Default 3. */
  channels?: 1 | 3;
  /** Colour that transparent pixels are flattened on, and that `contain` pads with. Default `'#ffffff'`. */
  background?: string;
  /** Per-channel mean subtracted after scaling to [0, 1]. Default: none (values stay in [0, 1]). */
  mean?: number[];
  /** Per-channel standard deviation divided by after subtracting `mean`. Default: none. */
  std?: number[];
  /**
   * Refuse a source whose header claims more pixels (width × height) than this, before decoding anything.
   * Default 40,000,000.
   */
  maxPixels?: number;
  /**
   * Cut this region of the orientation-corrected source before resizing (e.g. a random resized crop).
   * A function receives the source size and returns the box, so a caller can sample it without decoding twice.
   */
  crop?: CropBox | ((size: ImageSize) => CropBox);
  /** Folder that a relative path resolves against. Default: the current folder, with `allowOutsideBaseDir` implied. */
  baseDir?: string;
  /** Allow absolute paths and `..` escapes from `baseDir`. Default `false` when `baseDir` is set. */
  allowOutsideBaseDir?: boolean;
  /** Sample and field that error messages name. */
  location?: ErrorLocation;
}

/** A decoded image: `data` is `height × width × channels` float32 values, row by row, channels interleaved (HWC). */
export interface LoadedImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
  /** The container format that was decoded. */
  format: SupportedImageFormat;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;

/** Resolved, checked options. */
interface Resolved {
  width?: number;
  height?: number;
  fit: ImageFit;
  kernel: ResizeKernel;
  channels: 1 | 3;
  background: string;
  mean?: number[];
  std?: number[];
  maxPixels: number;
  fastShrinkOnLoad: boolean;
}

function resolveOptions(options: LoadImageOptions): Resolved {
  const channels = checkOneOf(options.channels ?? 3, 'channels', [1, 3] as const);
  const out: Resolved = {
    fit: checkOneOf(options.fit ?? 'cover', 'fit', IMAGE_FITS),
    kernel: checkOneOf(options.kernel ?? 'linear', 'kernel', RESIZE_KERNELS),
    channels,
    background: checkColour(options.background ?? '#ffffff', 'background'),
    maxPixels: checkInteger(options.maxPixels ?? DEFAULT_MAX_PIXELS, 'maxPixels', 1, 2 ** 40),
    fastShrinkOnLoad: options.fastShrinkOnLoad ?? true,
  };
  if (options.width !== undefined) out.width = checkInteger(options.width, 'width', 1, 65536);
  if (options.height !== undefined) out.height = checkInteger(options.height, 'height', 1, 65536);
  if ((options.mean === undefined) !== (options.std === undefined)) {
    throw new ConfigError('give both mean and std (one number per channel), or neither', { path: options.mean === undefined ? 'mean' : 'std' });
  }
  if (options.mean !== undefined) out.mean = checkChannelVector(options.mean, 'mean', channels, false);
  if (options.std !== undefined) out.std = checkChannelVector(options.std, 'std', channels, true);
  return out;
}

/** Read the bytes of a path or take the given bytes; empty input is refused here. */
async function readInput(input: string | Uint8Array, options: LoadImageOptions, loc: ErrorLocation): Promise<{ bytes: Uint8Array; file?: string }> {
  if (typeof input === 'string') {
    const file = options.baseDir === undefined
      ? resolveDataPath(process.cwd(), input, { ...loc, allowOutside: options.allowOutsideBaseDir ?? true })
      : resolveDataPath(options.baseDir, input, { ...loc, allowOutside: options.allowOutsideBaseDir ?? false });
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new InvalidInputError(`image path ${JSON.stringify(file)} is not a regular file`, { ...loc, file });
      size = st.size;
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      const code = (err as { code?: string }).code;
      throw new InvalidInputError(
        code === 'ENOENT' ? `image file ${JSON.stringify(file)} does not exist; check the path in the data` : `cannot read image file ${JSON.stringify(file)}: ${(err as Error).message}`,
        { ...loc, file, cause: err },
      );
    }
    if (size === 0) throw new InvalidInputError(`image file ${JSON.stringify(file)} is empty (0 bytes)`, { ...loc, file });
    return { bytes: await readFile(file), file };
  }
  if (!(input instanceof Uint8Array)) {
    throw new InvalidInputError(`expected an image file path or encoded image bytes (Uint8Array/Buffer), got ${describeValue(input)}`, loc);
  }
  if (input.byteLength === 0) throw new InvalidInputError('image bytes are empty (0 bytes)', loc);
  return { bytes: input };
}

function checkCrop(box: CropBox, size: ImageSize, loc: ErrorLocation): CropBox {
  const ok = [box.left, box.top, box.width, box.height].every((v) => Number.isInteger(v)) &&
    box.left >= 0 && box.top >= 0 && box.width >= 1 && box.height >= 1 &&
    box.left + box.width <= size.width && box.top + box.height <= size.height;
  if (!ok) {
    throw new InvalidInputError(`crop ${JSON.stringify(box)} does not lie inside the ${size.width}×${size.height} image`, loc);
  }
  return box;
}

/**
 * Decode an image (JPEG, PNG 8/16-bit with or without alpha, WebP, AVIF, GIF first frame, TIFF), apply its EXIF
 * orientation, flatten transparency on `background`, convert to 1 or 3 channels, optionally crop and resize,
 * and return float32 HWC values in [0, 1] (or normalized with `mean`/`std`).
 *
 * Bad input is refused with typed errors naming `options.location`: `InvalidInputError` for a missing, empty,
 * truncated or corrupt file or non-image bytes, `UnsupportedFormatError` for an image format outside
 * `SUPPORTED_IMAGE_FORMATS`, and `LimitExceededError` when the header claims more than `maxPixels` pixels
 * (checked on the header alone, before any pixel is decoded).
 */
export async function loadImage(input: string | Uint8Array, options: LoadImageOptions = {}): Promise<LoadedImage> {
  const opts = resolveOptions(options);
  const loc: ErrorLocation = { ...options.location };
  const { bytes, file } = await readInput(input, options, loc);
  if (file !== undefined) loc.file = file;

  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    // Not a signature we decode: ask libvips (header only) whether it is some other image format, to tell
    // "unsupported" from "not an image".
    let other: string | undefined;
    try {
      other = (await sharp(bytes, { limitInputPixels: false }).metadata()).format;
    } catch {
      other = undefined;
    }
    if (other !== undefined) {
      throw new UnsupportedFormatError(`image format "${other}" is not supported; convert it to one of ${SUPPORTED_IMAGE_FORMATS.join(', ')}`, loc);
    }
    throw new InvalidInputError(`not an image (${describeBytes(bytes)}); expected ${SUPPORTED_IMAGE_FORMATS.join(', ')}`, loc);
  }

  // One libvips pipeline per image: sharp checks the header against limitInputPixels before decoding any pixel,
  // and applies its operations in a fixed order (orient, extract, flatten, resize, colourspace).
  let img = sharp(bytes, { limitInputPixels: opts.maxPixels, failOn: 'truncated', autoOrient: true, pages: 1 });
  let crop: CropBox | undefined;
  if (options.crop !== undefined) {
    const source = await orientedSize(bytes, format, opts.maxPixels, loc);
    crop = checkCrop(typeof options.crop === 'function' ? options.crop(source) : options.crop, source, loc);
    img = img.extract(crop);
  }
  img = img.flatten({ background: opts.background }); // only acts on images with alpha
  if (opts.width !== undefined || opts.height !== undefined) {
    img = img.resize(opts.width ?? crop?.width, opts.height ?? crop?.height, { fit: opts.fit, kernel: opts.kernel, background: opts.background, position: 'centre', fastShrinkOnLoad: opts.fastShrinkOnLoad });
  }
  const wide = await isSixteenBit(bytes, format, loc);
  img = opts.channels === 1 ? img.toColourspace(wide ? 'grey16' : 'b-w') : img.toColourspace(wide ? 'rgb16' : 'srgb');
  img = img.removeAlpha();

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await img.raw({ depth: wide ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? '';
    if (/pixel limit/i.test(message)) {
      const size = await sharp(bytes, { limitInputPixels: false }).metadata().then((m) => ({ width: m.width, height: m.pageHeight ?? m.height }), () => undefined);
      const claimed = size === undefined ? 'image' : `image is ${size.width}×${size.height} = ${size.width * size.height} pixels,`;
      throw new LimitExceededError(`${claimed} over the limit of ${opts.maxPixels}; shrink it or raise maxPixels`, { ...loc, cause: err, details: { ...size, maxPixels: opts.maxPixels } });
    }
    throw new InvalidInputError(`${format} image is truncated or corrupt (${message})`, { ...loc, cause: err });
  }
  const { info } = decoded;
  if (info.channels !== opts.channels || (opts.width !== undefined && info.width !== opts.width) || (opts.height !== undefined && info.height !== opts.height)) {
    // Guards the fixed-order assumptions above; reaching it is a bug in this function, not bad input.
    throw new InternalError(`loadImage: sharp returned ${info.width}×${info.height}×${info.channels}, expected ${opts.width ?? '?'}×${opts.height ?? '?'}×${opts.channels}`);
  }
  const samples = wide ? new Uint16Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength / 2) : decoded.data;
  const data = toFloat(samples, wide ? 65535 : 255, opts.channels, opts.mean, opts.std);
  return { data, width: info.width, height: info.height, channels: opts.channels, format };
}

/**
 * Whether the source has more than 8 bits per sample, so that the decode keeps them. JPEG, WebP and GIF are 8-bit;
 * PNG says so in its IHDR; TIFF and HEIF (AVIF may be 10/12-bit) are asked of libvips (header only).
 */
async function isSixteenBit(bytes: Uint8Array, format: SupportedImageFormat, loc: ErrorLocation): Promise<boolean> {
  if (format === 'jpeg' || format === 'webp' || format === 'gif') return false;
  if (format === 'png') return bytes.length > 24 && bytes[24] === 16; // IHDR bit depth
  try {
    const depth = (await sharp(bytes, { limitInputPixels: false }).metadata()).depth;
    return depth === 'ushort' || depth === 'short' || depth === 'uint' || depth === 'float' || depth === 'double';
  } catch (err) {
    throw new InvalidInputError(`${format} image header is corrupt (${(err as Error).message.split('\n')[0]})`, { ...loc, cause: err });
  }
}

/** Source size after EXIF orientation (header only), for crops. */
async function orientedSize(bytes: Uint8Array, format: string, maxPixels: number, loc: ErrorLocation): Promise<ImageSize> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new InvalidInputError(`${format} image header is corrupt (${(err as Error).message.split('\n')[0]})`, { ...loc, cause: err });
  }
  const width = meta.width;
  const height = meta.pageHeight ?? meta.height;
  if (width * height > maxPixels) {
    throw new LimitExceededError(`image is ${width}×${height} = ${width * height} pixels, over the limit of ${maxPixels}; shrink it or raise maxPixels`, { ...loc, details: { width, height, maxPixels } });
  }
  const swap = (meta.orientation ?? 1) >= 5;
  return { width: swap ? height : width, height: swap ? width : height };
}

/** A short description of bytes that are not an image, for error messages. */
function describeBytes(bytes: Uint8Array): string {
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${bytes.byteLength} bytes starting ${head}`;
}

/** Integer samples → float32 / maxValue, then (x - mean[c]) / std[c] when given. */
function toFloat(samples: ArrayLike<number>, maxValue: number, channels: number, mean?: number[], std?: number[]): Float32Array {
  const n = samples.length;
  const out = new Float32Array(n);
  if (mean === undefined || std === undefined) {
    const inv = 1 / maxValue;
    for (let i = 0; i < n; i++) out[i] = (samples[i] as number) * inv;
    return out;
  }
  // Fold the scaling into one multiply-add per sample: (s / max - m) / d = s * (1 / (max d)) - m / d.
  const scale = std.map((d) => 1 / (maxValue * d));
  const shift = mean.map((m, c) => m / (std[c] as number));
  if (channels === 3) {
    const [s0, s1, s2] = scale as [number, number, number];
    const [t0, t1, t2] = shift as [number, number, number];
    for (let i = 0; i < n; i += 3) {
      out[i] = (samples[i] as number) * s0 - t0;
      out[i + 1] = (samples[i + 1] as number) * s1 - t1;
      out[i + 2] = (samples[i + 2] as number) * s2 - t2;
    }
  } else {
    const s0 = scale[0] as number;
    const t0 = shift[0] as number;
    for (let i = 0; i < n; i++) out[i] = (samples[i] as number) * s0 - t0;
  }
  return out;
}
