/**
 * Random configurations of a search space. Trial t's values come from the Rng of (seed, t), each parameter
 * from its own fork, so a trial's configuration depends neither on the order trials run in nor on the
 * other parameters of the space.
 */
import { createRng } from '@mmfuse/core/base';
import type { JsonValue, Rng } from '@mmfuse/core/base';
import type { ParamSpec, SearchSpace } from './space.js';

/** One value of a parameter. */
export function sampleParam(spec: ParamSpec, rng: Rng): JsonValue {
  switch (spec.type) {
    case 'choice':
      return spec.values[rng.int(spec.values.length)] as JsonValue;
    case 'uniform':
      return rng.uniform(spec.min, spec.max);
    case 'log-uniform':
      return Math.exp(rng.uniform(Math.log(spec.min), Math.log(spec.max)));
    case 'int': {
      const steps = Math.floor((spec.max - spec.min) / spec.step);
      if (!spec.log) return spec.min + spec.step * rng.int(steps + 1);
      // Log scale: uniform in log space, then onto the grid of steps.
      const v = Math.exp(rng.uniform(Math.log(spec.min), Math.log(spec.max + 1)));
      return Math.min(spec.min + steps * spec.step, spec.min + spec.step * Math.floor((v - spec.min) / spec.step));
    }
  }
}

/** The parameter values of trial `trial` (0-based), by key path, in the space's key order. */
export function sampleParams(space: Pick<SearchSpace, 'seed' | 'params'>, trial: number): Record<string, JsonValue> {
  const root = createRng(space.seed).fork(`trial:${trial}`);
  const out: Record<string, JsonValue> = {};
  for (const [key, spec] of Object.entries(space.params)) out[key] = sampleParam(spec, root.fork(key));
  return out;
}
