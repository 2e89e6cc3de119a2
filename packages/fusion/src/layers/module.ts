/**
 * The smallest possible module system: a module owns named variables and child modules, and lists every
 * variable under a dotted name in a stable order (declaration order), which is the order save/load uses.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mmfuse/core';

/** How a new weight is filled. */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal'; std: number }
  /** Uniform in [-limit, limit]. */
  | { kind: 'uniform'; limit: number };

/** Fill a Float32Array of `size` values from a seeded stream (JS-side, so every engine gets the same numbers). */
export function initValues(size: number, init: Init, rng: Rng): Float32Array {
  const out = new Float32Array(size);
  switch (init.kind) {
    case 'zeros': break;
    case 'ones': out.fill(1); break;
    case 'normal': for (let i = 0; i < size; i++) out[i] = rng.normal(0, init.std); break;
    case 'uniform': for (let i = 0; i < size; i++) out[i] = rng.uniform(-init.limit, init.limit); break;
  }
  return out;
}

/** Glorot/Xavier uniform limit for a [fanIn, fanOut] kernel. */
export function glorotLimit(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}

export abstract class Module {
  private readonly ownWeights: [string, tf.Variable][] = [];
  private readonly childModules: [string, Module][] = [];

  /**
   * Create a trainable weight. Variables get tfjs' automatic unique names (two models may live in one
   * process); the module's own dotted names are what save/load and the optimizer state use.
   */
  protected weight(name: string, shape: number[], init: Init, rng: Rng): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = initValues(size, init, rng);
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true)); // tidy frees the initial tensor
    this.ownWeights.push([name, v]);
    return v;
  }

  protected child<T extends Module>(name: string, module: T): T {
    this.childModules.push([name, module]);
    return module;
  }

  /** Every weight under a dotted name, own weights first, then children in declaration order. */
  namedWeights(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = this.ownWeights.map(([n, v]) => [prefix + n, v]);
    for (const [n, c] of this.childModules) out.push(...c.namedWeights(`${prefix}${n}.`));
    return out;
  }

  get weights(): tf.Variable[] {
    return this.namedWeights().map(([, v]) => v);
  }

  dispose(): void {
    for (const [, v] of this.namedWeights()) v.dispose();
  }
}

/** Options shared by every `apply` that may behave differently in training. */
export interface ApplyOptions {
  training: boolean;
  /** Stream for dropout masks; required when training with dropout > 0. */
  rng?: Rng;
}
