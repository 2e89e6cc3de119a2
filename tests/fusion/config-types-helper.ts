// Type helpers of tests/fusion/config-types.test.ts.
import type { FusionModelConfig, ResolvedConfig, TypedModelConfig } from '@mmfuse/fusion';

export type { FusionModelConfig, TypedModelConfig };
/** A normalized config is itself a valid config to create a model from. */
export type ModelConfigInputCheck = ResolvedConfig extends FusionModelConfig ? true : false;
