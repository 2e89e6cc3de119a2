/** The `augment` option of the audio encoders: `augmentChain` options (checked again, with value ranges, when they are used). */
import { z } from '@mmfuse/core';

const range = z.tuple([z.number(), z.number()]);

export const augmentOptionsSchema = z.strictObject({
  speed: z.strictObject({ probability: z.number().min(0).max(1).optional(), factor: range.optional() }).nullable().optional(),
  reverb: z.strictObject({ probability: z.number().min(0).max(1).optional(), rt60Seconds: range.optional(), directToReverberantDb: range.optional() }).nullable().optional(),
  noise: z.strictObject({ probability: z.number().min(0).max(1).optional(), snrDb: range.optional(), types: z.array(z.enum(['white', 'pink', 'babble'])).optional() }).nullable().optional(),
  telephone: z.strictObject({ probability: z.number().min(0).max(1).optional(), codecProbability: z.number().min(0).max(1).optional() }).nullable().optional(),
  gain: z.strictObject({ probability: z.number().min(0).max(1).optional(), gainDb: range.optional() }).nullable().optional(),
});

/** `augmentChain` options of an audio encoder's `augment`. */
export type AudioAugmentOptions = z.input<typeof augmentOptionsSchema>;
