/**
 * @mmfuse/vision-cnn: sharp-based image preprocessing, augmentation, a conv block layer and the `image/cnn`
 * and `image/pretrained` encoders. Importing this module registers both encoders.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { ImageCnnEncoder } from './image-cnn-encoder.js';
import type { ImageCnnEncoderConfig } from './image-cnn-encoder.js';
import { ImagePretrainedEncoder } from './image-pretrained-encoder.js';
import type { ImagePretrainedEncoderConfig } from './image-pretrained-encoder.js';

export { DEFAULT_MAX_PIXELS, IMAGE_FITS, RESIZE_KERNELS, SUPPORTED_IMAGE_FORMATS, loadImage } from './load-image.js';
export type { CropBox, ImageFit, ImageSize, LoadImageOptions, LoadedImage, ResizeKernel, SupportedImageFormat } from './load-image.js';
export { flipHorizontal, jitterBrightnessContrast, sampleResizedCrop } from './augment.js';
export type { JitterFactors, JitterOptions, ResizedCropOptions } from './augment.js';
export { IMAGENET_MEAN, IMAGENET_STD, fitChannelStats } from './normalization.js';
export type { ChannelStats } from './normalization.js';
export { ConvBlock } from './conv-block.js';
export type { ConvBlockArgs, ConvBlockCallOptions } from './conv-block.js';
export { ImageCnnEncoder } from './image-cnn-encoder.js';
export type { ImageAugmentConfig, ImageCnnEncoderConfig, ImageNormalization, PreparedImage } from './image-cnn-encoder.js';
export { ImagePretrainedEncoder } from './image-pretrained-encoder.js';
export type { ImagePretrainedEncoderConfig, PreparedImageFeatures, PretrainedImageOutput } from './image-pretrained-encoder.js';

registerEncoderOnce(ImageCnnEncoder.kind, 'image', (config) => new ImageCnnEncoder(config as ImageCnnEncoderConfig), 'images → conv blocks → region tokens (or one pooled token)');
registerEncoderOnce(ImagePretrainedEncoder.kind, 'image', (config) => new ImagePretrainedEncoder(config as unknown as ImagePretrainedEncoderConfig), 'frozen ViT/CLIP-style features from a local @xenova/transformers model folder');
