/** Per-channel image normalization statistics. */
import { ConfigError, InvalidInputError } from '@mmfuse/core/base';

/** ImageNet statistics (RGB) that most pretrained vision models expect. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

/** Mean and standard deviation per channel. */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

/**
 * Mean and (population) standard deviation of each channel over every pixel of every image. `images` are HWC
 * `Float32Array`s with `channels` interleaved channels. Accumulates in float64 around a first-pass mean, so
 * large sets do not lose precision. A channel with zero spread gets std 1 (dividing by it changes nothing).
 */
export function fitChannelStats(images: readonly Float32Array[], channels: number): ChannelStats {
  if (!Number.isInteger(channels) || channels < 1) throw new ConfigError(`fitChannelStats: must be a positive integer, got ${channels}`, { path: 'channels' });
  const sum = new Float64Array(channels);
  let pixels = 0;
  images.forEach((img, i) => {
    if (img.length % channels !== 0) throw new InvalidInputError(`fitChannelStats: image ${i} has ${img.length} values, not a multiple of ${channels} channels`);
    for (let j = 0; j < img.length; j++) sum[j % channels] = (sum[j % channels] as number) + (img[j] as number);
    pixels += img.length / channels;
  });
  if (pixels === 0) throw new InvalidInputError('fitChannelStats: no pixels to fit (empty training set)');
  const mean = Array.from(sum, (s) => s / pixels);
  const sq = new Float64Array(channels);
  for (const img of images) {
    for (let j = 0; j < img.length; j++) {
      const d = (img[j] as number) - (mean[j % channels] as number);
      sq[j % channels] = (sq[j % channels] as number) + d * d;
    }
  }
  const std = Array.from(sq, (s) => Math.sqrt(s / pixels) || 1);
  return { mean, std };
}
