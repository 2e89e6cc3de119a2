/**
 * The declared options of the image encoders, as schemas (checked by the registry and the constructors;
 * the source of the config's JSON Schema). Each matches its documented interface: the encoder files check
 * it with `OptionsMatch`.
 */
import { maxBytesOption, z } from '@mmfuse/core/base';

const int = (min: number, max: number) => z.int().min(min).max(max);

/** Default `maxBytes` of the image encoders: 64 MiB per image file. */
export const IMAGE_MAX_BYTES = 64 * 1024 * 1024;

const colour = z.string().regex(/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i, 'a colour written "#rrggbb" or "#rgb"');
const range = z.tuple([z.number(), z.number()]);

export const imageAugmentOptionsSchema = z.strictObject({
  crop: z.strictObject({
    scale: range.optional().describe('Area fraction [min, max], 0 < min <= max <= 1. Default [0.8, 1].'),
    ratio: range.optional().describe('Aspect ratio [min, max]. Default [3/4, 4/3].'),
  }).nullable().optional().describe('Random resized crop before resizing; null = none.'),
  flip: z.boolean().optional().describe('Mirror left-right with probability 1/2. Default true.'),
  brightness: z.number().min(0).max(1).optional().describe('Brightness factor drawn from [1 - x, 1 + x]. Default 0.2.'),
  contrast: z.number().min(0).max(1).optional().describe('Contrast factor drawn from [1 - x, 1 + x]. Default 0.2.'),
});

export const imageCnnOptionsSchema = z.strictObject({
  width: int(1, 8192).optional().describe('Input width in pixels after resizing. Default 64.'),
  height: int(1, 8192).optional().describe('Input height in pixels after resizing. Default 64.'),
  channels: z.literal([1, 3]).optional().describe('1 (grey) or 3 (RGB). Default 3.'),
  fit: z.enum(['cover', 'contain', 'fill']).optional().describe('How images are fitted to width x height. Default cover.'),
  kernel: z.enum(['nearest', 'linear', 'cubic', 'mitchell', 'lanczos3']).optional().describe('Resize kernel. Default linear.'),
  background: colour.optional().describe('Colour that alpha is flattened on and that contain pads with. Default #ffffff.'),
  normalization: z.union([
    z.enum(['fit', 'imagenet', 'none']),
    z.strictObject({ mean: z.array(z.number()), std: z.array(z.number()) }),
  ]).optional().describe('Channel normalization: fit, imagenet, none, or { mean, std }. Default fit.'),
  augment: imageAugmentOptionsSchema.nullable().optional().describe('Training-only augmentation; null = none.'),
  blocks: z.array(int(1, 4096)).min(1).optional().describe('Output channels of each conv block. Default [16, 32, 64].'),
  kernelSize: int(1, 31).optional().describe('Kernel size of every block (odd). Default 3.'),
  batchNorm: z.boolean().optional().describe('Batch norm in every block. Default true.'),
  residual: z.boolean().optional().describe('Shortcut connection in every block. Default false.'),
  pool: int(1, 64).optional().describe('Max-pool size of every block. Default 2.'),
  output: z.enum(['regions', 'pooled']).optional().describe('regions: one token per cell of the final map; pooled: one token. Default regions.'),
  maxPixels: int(1, 2 ** 40).optional().describe('Largest source image accepted, in pixels. Default 40000000.'),
  dropout: z.number().min(0).max(0.99).optional().describe('Dropout on the output tokens in training. Default 0.1.'),
  maxBytes: maxBytesOption(IMAGE_MAX_BYTES).optional(),
});

export const imagePretrainedOptionsSchema = z.strictObject({
  model: z.string().min(1).describe('Model folder (absolute, or relative to the current folder). Required.'),
  output: z.enum(['patches', 'cls', 'pooled']).optional().describe('Tokens to emit. Default patches.'),
  background: colour.optional().describe('Colour that transparency is flattened on. Default #ffffff.'),
  maxPixels: int(1, 2 ** 40).optional().describe('Largest source image accepted, in pixels. Default 40000000.'),
  maxBytes: maxBytesOption(IMAGE_MAX_BYTES).optional(),
});
