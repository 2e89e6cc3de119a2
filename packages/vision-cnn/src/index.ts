/**
 * @mmfuse/vision-cnn: sharp-based image preprocessing, augmentation, a conv block layer and the `image/cnn`
 * and `image/pretrained` encoders. Importing this module registers both encoders;
 * `@mmfuse/vision-cnn/preprocess` has the preprocessing alone, with no side effects.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { IMAGE_MAX_BYTES, imageCnnOptionsSchema, imagePretrainedOptionsSchema } from './encoder-options.js';
import { ImageCnnEncoder } from './image-cnn-encoder.js';
import type { ImageCnnEncoderConfig } from './image-cnn-encoder.js';
import { ImagePretrainedEncoder } from './image-pretrained-encoder.js';
import type { ImagePretrainedEncoderConfig } from './image-pretrained-encoder.js';

export * from './preprocess.js';
export { IMAGE_MAX_BYTES, imageAugmentOptionsSchema, imageCnnOptionsSchema, imagePretrainedOptionsSchema } from './encoder-options.js';
export { ConvBlock } from './conv-block.js';
export type { ConvBlockArgs, ConvBlockCallOptions } from './conv-block.js';
export { IMAGE_MEDIA_TYPES, ImageCnnEncoder } from './image-cnn-encoder.js';
export type { ImageAugmentConfig, ImageCnnEncoderConfig, ImageNormalization, PreparedImage } from './image-cnn-encoder.js';
export { ImagePretrainedEncoder } from './image-pretrained-encoder.js';
export type { ImagePretrainedEncoderConfig, PreparedImageFeatures, PretrainedImageOutput } from './image-pretrained-encoder.js';

declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'image/cnn': ImageCnnEncoderConfig;
    'image/pretrained': ImagePretrainedEncoderConfig;
  }
}

registerEncoderOnce({
  kind: ImageCnnEncoder.kind,
  modality: 'image',
  options: imageCnnOptionsSchema,
  input: { kind: 'file', maxBytes: IMAGE_MAX_BYTES },
  factory: (options) => new ImageCnnEncoder(options),
  description: 'images → conv blocks → region tokens (or one pooled token)',
});
registerEncoderOnce({
  kind: ImagePretrainedEncoder.kind,
  modality: 'image',
  options: imagePretrainedOptionsSchema,
  input: { kind: 'file', maxBytes: IMAGE_MAX_BYTES },
  factory: (options) => new ImagePretrainedEncoder(options),
  description: 'frozen ViT/CLIP-style features from a local @xenova/transformers model folder',
});
