/**
 * `@mmfuse/vision-cnn/preprocess`: image decoding and preprocessing with sharp, augmentation and channel
 * statistics. Side-effect free: importing it registers no encoder and does not load TensorFlow.js.
 */
export { DEFAULT_MAX_PIXELS, IMAGE_FITS, RESIZE_KERNELS, SUPPORTED_IMAGE_FORMATS, loadImage } from './load-image.js';
export type { CropBox, ImageFit, ImageSize, LoadImageOptions, LoadedImage, ResizeKernel, SupportedImageFormat } from './load-image.js';
export { flipHorizontal, jitterBrightnessContrast, sampleResizedCrop } from './augment.js';
export type { JitterFactors, JitterOptions, ResizedCropOptions } from './augment.js';
export { IMAGENET_MEAN, IMAGENET_STD, fitChannelStats } from './normalization.js';
export type { ChannelStats } from './normalization.js';
