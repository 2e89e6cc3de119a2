/**
 * Training-time image augmentation: pure functions over HWC `Float32Array`s (values in [0, 1]) and crop
 * boxes, every random choice drawn from a caller's `Rng`, so one seed reproduces a run.
 */
import { ConfigError, InvalidInputError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';
import type { CropBox, ImageSize } from './load-image.js';

/** Options of `sampleResizedCrop`. */
export interface ResizedCropOptions {
  /** Range of the crop's area as a fraction of the image area. Default `[0.08, 1]` (as torchvision). */
  scale?: [number, number];
  /** Range of the crop's aspect ratio (width / height), sampled log-uniformly. Default `[3/4, 4/3]`. */
  ratio?: [number, number];
}

/**
 * Sample a random resized crop: a box whose area is a `scale` fraction of the image and whose aspect ratio lies
 * in `ratio`, placed uniformly. Up to 10 tries; if none fits, the largest centred box with a ratio inside
 * `ratio` (the whole image when its own ratio is inside).
 */
export function sampleResizedCrop(size: ImageSize, rng: Rng, options: ResizedCropOptions = {}): CropBox {
  const [smin, smax] = options.scale ?? [0.08, 1];
  const [rmin, rmax] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(smin > 0 && smin <= smax && smax <= 1)) throw new ConfigError(`sampleResizedCrop: scale must satisfy 0 < min <= max <= 1, got [${smin}, ${smax}]`);
  if (!(rmin > 0 && rmin <= rmax)) throw new ConfigError(`sampleResizedCrop: ratio must satisfy 0 < min <= max, got [${rmin}, ${rmax}]`);
  const { width, height } = size;
  const area = width * height;
  const logMin = Math.log(rmin);
  const logMax = Math.log(rmax);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(smin, smax);
    const ratio = Math.exp(rng.uniform(logMin, logMax));
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w >= 1 && h >= 1 && w <= width && h <= height) {
      return { left: rng.int(width - w + 1), top: rng.int(height - h + 1), width: w, height: h };
    }
  }
  const own = width / height;
  let w = width;
  let h = height;
  if (own < rmin) h = Math.max(1, Math.min(height, Math.round(width / rmin)));
  else if (own > rmax) w = Math.max(1, Math.min(width, Math.round(height * rmax)));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** Mirror an HWC image left-right into a new array. `data`: [height, width, channels] flattened row by row. */
export function flipHorizontal(data: Float32Array, size: { width: number; height: number; channels: number }): Float32Array {
  const { width, height, channels } = size;
  if (data.length !== width * height * channels) {
    throw new InvalidInputError(`flipHorizontal: data has ${data.length} values, expected ${height}×${width}×${channels} = ${width * height * channels}`);
  }
  const out = new Float32Array(data.length);
  const row = width * channels;
  for (let y = 0; y < height; y++) {
    const base = y * row;
    for (let x = 0; x < width; x++) {
      const src = base + x * channels;
      const dst = base + (width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) out[dst + c] = data[src + c] as number;
    }
  }
  return out;
}

/** Factors chosen by `jitterBrightnessContrast`, returned so that callers and tests can see them. */
export interface JitterFactors {
  brightness: number;
  contrast: number;
}

/** Options of `jitterBrightnessContrast`: factors are drawn uniformly from `[max(0, 1 - x), 1 + x]`. */
export interface JitterOptions {
  /** Brightness strength; 0 leaves brightness alone. Default 0. */
  brightness?: number;
  /** Contrast strength; 0 leaves contrast alone. Default 0. */
  contrast?: number;
}

/**
 * Apply brightness factors then contrast factors to an HWC image in [0, 1] (as torchvision's ColorJitter with
 * hue and saturation 0): `x' = b·x`, then `x'' = c·x' + (1 - c)·m` where `m` is the mean grey level of `x'`
 * (BT.601 luminance for 3 channels). Results are clipped to [0, 1], the valid pixel range, as the reference
 * transform does. Returns the new image and the factors drawn (brightness first, then contrast).
 */
export function jitterBrightnessContrast(
  data: Float32Array,
  channels: number,
  rng: Rng,
  options: JitterOptions,
): { data: Float32Array; factors: JitterFactors } {
  const bs = options.brightness ?? 0;
  const cs = options.contrast ?? 0;
  if (!(bs >= 0 && cs >= 0)) throw new ConfigError(`jitterBrightnessContrast: strengths must be >= 0, got brightness ${bs}, contrast ${cs}`);
  if (channels !== 1 && channels !== 3) throw new ConfigError(`jitterBrightnessContrast: channels must be 1 or 3, got ${channels}`);
  const brightness = bs > 0 ? rng.uniform(Math.max(0, 1 - bs), 1 + bs) : 1;
  const contrast = cs > 0 ? rng.uniform(Math.max(0, 1 - cs), 1 + cs) : 1;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(1, Math.max(0, (data[i] as number) * brightness));
  if (contrast !== 1) {
    let sum = 0;
    if (channels === 3) {
      for (let i = 0; i < out.length; i += 3) sum += 0.299 * (out[i] as number) + 0.587 * (out[i + 1] as number) + 0.114 * (out[i + 2] as number);
    } else {
      for (let i = 0; i < out.length; i++) sum += out[i] as number;
    }
    const grey = sum / (out.length / channels);
    const offset = (1 - contrast) * grey;
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, contrast * (out[i] as number) + offset));
  }
  return { data: out, factors: { brightness, contrast } };
}
