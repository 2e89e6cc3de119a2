// Small test encoders for the fusion tests, registered on import (as a plugin package would).
// `vec/linear`: a list of numbers of any length; each number becomes one token (value * w + b), padded
// to the longest list of the batch with mask 0, so padding and masking are exercised.
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, registerEncoderOnce } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, PrepareContext, Rng, TensorMap } from '@mmfuse/core';

export const prepareCalls = { count: 0 };

export class VecEncoder implements ModalityEncoder<number[], Float32Array> {
  static readonly kind: string = 'vec/linear';
  readonly kind: string = VecEncoder.kind;
  readonly modality = 'vec';
  readonly outputDim: number;
  /** Also return `aux.energy` [B, T] (mean squared feature per step), for auxiliary-loss tests. */
  private readonly aux: boolean;
  private scale = 1;
  private w?: tf.Variable;
  private b?: tf.Variable;

  constructor(config: JsonObject) {
    this.outputDim = typeof config.dim === 'number' ? config.dim : 8;
    this.aux = config.aux === true;
  }

  async prepare(raw: number[], ctx: PrepareContext): Promise<Float32Array> {
    prepareCalls.count++;
    if (!Array.isArray(raw) || raw.length === 0) throw new InvalidInputError('expected a non-empty array of numbers', { sample: ctx.sample, field: ctx.field });
    raw.forEach((v, i) => { if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidInputError(`item ${i} is ${JSON.stringify(v)}, not a finite number`, { sample: ctx.sample, field: ctx.field }); });
    return Float32Array.from(raw);
  }

  fit(values: readonly Float32Array[]): void {
    let m = 0;
    for (const v of values) for (const x of v) m = Math.max(m, Math.abs(x));
    this.scale = m || 1;
  }

  build(rng: Rng): void {
    if (this.w !== undefined) return;
    // tf.variable copies its initial value: the temporary tensors are freed here.
    this.w = tf.tidy(() => tf.variable(tf.tensor1d(Array.from({ length: this.outputDim }, () => rng.normal(0, 1)))));
    this.b = tf.tidy(() => tf.variable(tf.tensor1d(Array.from({ length: this.outputDim }, () => rng.normal(0, 0.1)))));
  }

  collate(values: readonly Float32Array[]): TensorMap {
    const t = Math.max(...values.map((v) => v.length));
    const x = new Float32Array(values.length * t);
    const mask = new Float32Array(values.length * t);
    values.forEach((v, r) => v.forEach((val, i) => { x[r * t + i] = val / this.scale; mask[r * t + i] = 1; }));
    return { x: tf.tensor2d(x, [values.length, t]), mask: tf.tensor2d(mask, [values.length, t]) };
  }

  encode(batch: TensorMap, _options: EncodeOptions): EncoderOutput {
    const x = batch.x as tf.Tensor2D; // [B, T]
    const features = x.expandDims(2).mul(this.w as tf.Variable).add(this.b as tf.Variable).tanh() as tf.Tensor3D; // [B, T, dim]
    const mask = (batch.mask as tf.Tensor2D).clone();
    return this.aux ? { features, mask, aux: { energy: features.square().mean(2) } } : { features, mask };
  }

  get trainableWeights(): tf.Variable[] { return this.w === undefined ? [] : [this.w, this.b as tf.Variable]; }
  get weights(): tf.Variable[] { return this.trainableWeights; }
  getConfig(): JsonObject { return this.aux ? { dim: this.outputDim, aux: true } : { dim: this.outputDim }; }
  getState(): JsonObject { return { scale: this.scale }; }
  setState(state: JsonObject): void { this.scale = state.scale as number; }
  dispose(): void { this.w?.dispose(); this.b?.dispose(); this.w = undefined; this.b = undefined; }
}

registerEncoderOnce(VecEncoder.kind, 'vec', (c) => new VecEncoder(c), 'test: numbers as tokens');

/** Seeded XOR data: fields `a` and `b` carry one noisy ±1 bit each (plus padding-length noise); label = a xor b. */
export function xorSamples(n: number, seed: number): { id: string; fields: Record<string, unknown> }[] {
  let s = seed >>> 0;
  const rand = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  return Array.from({ length: n }, (_, i) => {
    const a = rand() < 0.5 ? 0 : 1; const b = rand() < 0.5 ? 0 : 1;
    const len = (k: number) => 1 + Math.floor(rand() * k);
    const bit = (v: number, l: number) => Array.from({ length: l }, () => (v === 1 ? 1 : -1) + (rand() - 0.5) * 0.4);
    return { id: `s${i}`, fields: { a: bit(a, len(3)), b: bit(b, len(2)), label: a === b ? 'same' : 'diff' } };
  });
}

export function tinyConfig(overrides: { strategy?: 'transformer' | 'late' | 'cross-attention'; epochs?: number; modalityDropout?: number; dropout?: number; seed?: number } = {}) {
  return {
    inputs: { a: { type: 'vec', encoder: { kind: 'linear', dim: 8 } }, b: { type: 'vec', encoder: { kind: 'linear', dim: 8 } } },
    fusion: { strategy: overrides.strategy ?? 'transformer', dModel: 16, layers: 1, heads: 2, ffDim: 32, dropout: overrides.dropout ?? 0, modalityDropout: overrides.modalityDropout ?? 0 },
    output: { field: 'label', type: 'category' as const },
    training: { epochs: overrides.epochs ?? 25, batchSize: 16, learningRate: 5e-3, warmupSteps: 5, seed: overrides.seed ?? 7, validationSplit: 0, earlyStoppingPatience: null },
  };
}
