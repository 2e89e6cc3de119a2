/** The `augment` option of the audio encoders: `augmentChain` options (checked again, with value ranges, when they are used). */
import { ConfigError, z } from '@mmfuse/core';
import type { PrepareContext } from '@mmfuse/core';
import { augmentChain } from '../augment-chain.js';
import type { AugmentChainOptions } from '../augment-chain.js';

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

/**
 * What an audio encoder's `prepare` hears: the clip itself, or, while training with `augment` set, a version
 * drawn from `ctx.rng` (a ConfigError naming `augment` when a training context has no rng).
 */
export function augmentForTraining(samples: Float32Array, augment: AudioAugmentOptions | Omit<AugmentChainOptions, 'sampleRateHz' | 'noiseClips'> | null, sampleRateHz: number, ctx: PrepareContext, kind: string): Float32Array {
  if (ctx.training !== true || augment === null) return samples;
  if (ctx.rng === undefined) throw new ConfigError(`${kind} augmentation needs ctx.rng while training`, { path: 'augment' });
  return augmentChain(samples, { ...augment, sampleRateHz } as AugmentChainOptions, ctx.rng).samples;
}
