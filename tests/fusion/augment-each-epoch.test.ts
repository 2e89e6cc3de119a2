// `FitOptions.augmentEachEpoch`: the training inputs are prepared again at the start of every epoch as
// training data (ctx.training, a random stream per seed, epoch, sample and field), so an encoder that
// augments in `prepare` gives fresh values each epoch, reproducibly; validation stays clean.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, registerEncoderOnce } from '@mmfuse/core';
import type { PrepareContext } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import type { LossTerm } from '@mmfuse/fusion';
import { VecEncoder, tinyConfig, xorSamples } from './helpers.js';

/** `vec/linear` that adds N(0, 0.1) to every number when prepared as training data. */
class JitterEncoder extends VecEncoder {
  static override readonly kind: string = 'vec/jitter';
  override readonly kind: string = JitterEncoder.kind;
  override async prepare(raw: number[], ctx: PrepareContext): Promise<Float32Array> {
    const clean = await super.prepare(raw, ctx);
    if (ctx.training !== true || ctx.rng === undefined) return clean;
    const rng = ctx.rng;
    return clean.map((v) => v + rng.normal(0, 0.1));
  }
}
registerEncoderOnce(JitterEncoder.kind, 'vec', (c) => new JitterEncoder(c), 'test: numbers as tokens, jittered in training');

/** `vec/linear` whose training-time augmentation is misconfigured (as a bad `augment` range would be). */
class MisconfiguredEncoder extends VecEncoder {
  static override readonly kind: string = 'vec/misconfigured';
  override readonly kind: string = MisconfiguredEncoder.kind;
  override async prepare(raw: number[], ctx: PrepareContext): Promise<Float32Array> {
    if (ctx.training === true) throw new ConfigError('must be [min, max] with min <= max, got [30, 0]', { path: 'augment.noise.snrDb' });
    return super.prepare(raw, ctx);
  }
}
registerEncoderOnce(MisconfiguredEncoder.kind, 'vec', (c) => new MisconfiguredEncoder(c), 'test: augmentation settings refused in training');

function config(epochs: number) {
  const cfg = tinyConfig({ epochs });
  return { ...cfg, inputs: { a: { type: 'vec', encoder: { kind: 'jitter', dim: 8 } }, b: { type: 'vec', encoder: { kind: 'linear', dim: 8 } } } };
}

/** A zero loss term that records the value of input `a` of every training sample seen, per epoch. */
function recorder(seen: Map<string, number[]>[]): LossTerm {
  let step = 0;
  return {
    name: 'record',
    compute(ctx) {
      const epoch = Math.floor(step++ / 3); // 48 samples, batch 16: 3 steps per epoch
      seen[epoch] ??= new Map();
      for (const s of ctx.samples) if (s.values[0] !== undefined) (seen[epoch] as Map<string, number[]>).set(s.id, Array.from(s.values[0] as Float32Array));
      return tf.scalar(0);
    },
  };
}

describe('augmentEachEpoch', () => {
  it('prepares the chosen inputs again each epoch with fresh, reproducible augmentation; off by default', async () => {
    const data = xorSamples(48, 4);
    const clean = new Map(data.map((s) => [s.id, Array.from(Float32Array.from(s.fields.a as number[]))]));
    const run = async (augmentEachEpoch?: string[]): Promise<Map<string, number[]>[]> => {
      const seen: Map<string, number[]>[] = [];
      const m = FusionModel.create(config(3));
      await m.fit(data, { progress: 'none', lossTerms: [recorder(seen)], ...(augmentEachEpoch === undefined ? {} : { augmentEachEpoch }) });
      m.dispose();
      return seen;
    };
    const plain = await run();
    expect(plain).toHaveLength(3);
    for (const epoch of plain) for (const [id, v] of epoch) expect(v).toEqual(clean.get(id));
    const a = await run(['a']);
    const b = await run(['a']);
    expect(a).toHaveLength(3);
    for (const [id, v] of a[0] as Map<string, number[]>) {
      expect(v).not.toEqual(clean.get(id));
      expect(v).not.toEqual((a[1] as Map<string, number[]>).get(id));
      expect(v).toEqual((b[0] as Map<string, number[]>).get(id));
      v.forEach((x, i) => expect(Math.abs(x - (clean.get(id) as number[])[i]!)).toBeLessThan(1));
    }
    expect((a[2] as Map<string, number[]>).size).toBe(48);
    // The same from the config (what `mmfuse train` reads); fit's option, when given, wins.
    const fromConfig: Map<string, number[]>[] = [];
    const c = FusionModel.create({ ...config(3), training: { ...config(3).training, augmentEachEpoch: ['a'] } });
    await c.fit(data, { progress: 'none', lossTerms: [recorder(fromConfig)] });
    c.dispose();
    expect(fromConfig).toEqual(a);
    const overridden: Map<string, number[]>[] = [];
    const o = FusionModel.create({ ...config(3), training: { ...config(3).training, augmentEachEpoch: ['a'] } });
    await o.fit(data, { progress: 'none', lossTerms: [recorder(overridden)], augmentEachEpoch: false });
    o.dispose();
    expect(overridden).toEqual(plain);
    expect(() => FusionModel.create({ ...config(1), training: { ...config(1).training, augmentEachEpoch: 'yes' as unknown as boolean } })).toThrow(ConfigError);
    const unknown = FusionModel.create({ ...config(1), training: { ...config(1).training, augmentEachEpoch: ['nope'] } });
    await expect(unknown.fit(data, { progress: 'none' })).rejects.toMatchObject({ name: 'ConfigError', path: 'training.augmentEachEpoch' });
    unknown.dispose();
    // A bad augmentation setting fails the run with its ConfigError, instead of leaving every sample unaugmented.
    const bad = FusionModel.create({ ...config(2), inputs: { a: { type: 'vec', encoder: { kind: 'misconfigured', dim: 8 } }, b: { type: 'vec', encoder: { kind: 'linear', dim: 8 } } } });
    await expect(bad.fit(data, { progress: 'none', augmentEachEpoch: ['a'] })).rejects.toThrow(/augment\.noise\.snrDb/);
    bad.dispose();
    // Unknown input names and other values are refused; repeated runs leak no tensors.
    const m = FusionModel.create(config(1));
    await expect(m.fit(data, { progress: 'none', augmentEachEpoch: ['nope'] })).rejects.toThrow(ConfigError);
    await expect(m.fit(data, { progress: 'none', augmentEachEpoch: 'yes' as unknown as boolean })).rejects.toThrow(/true, false or a list/);
    await m.fit(data, { progress: 'none', augmentEachEpoch: true, epochs: 1 });
    const after = tf.memory().numTensors;
    await m.fit(data, { progress: 'none', augmentEachEpoch: true, epochs: 1 });
    expect(tf.memory().numTensors).toBe(after);
    m.dispose();
  });
});
