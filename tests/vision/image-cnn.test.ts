import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, LimitExceededError, createRng, encoders, isMmfuseError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { ImageCnnEncoder, loadImage } from '@mmfuse/vision-cnn';
import type { PreparedImage } from '@mmfuse/vision-cnn';
import { encode, noise, pngClaiming, withConvGradBackend } from './helpers.js';

// Small and fast: 16×16 RGB, two blocks → a 4×4 map of 8 channels = 16 region tokens.
const small = { width: 16, height: 16, blocks: [4, 8], augment: null, dropout: 0.1 };

async function images(n: number, size = 20): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => encode(noise(size * size * 3, 100 + i), size, size, 3, 'png')));
}

async function prepared(enc: ModalityEncoder, n = 4): Promise<PreparedImage[]> {
  const raw = await images(n);
  return Promise.all(raw.map((r, i) => enc.prepare(r, { sample: i, field: 'image' }) as Promise<PreparedImage>));
}

describe('image/cnn encoder', () => {
  it('is registered on import and rebuilds from getConfig()', () => {
    expect(encoders.has('image/cnn')).toBe(true);
    const enc = encoders.create('image/cnn', small);
    expect(enc).toBeInstanceOf(ImageCnnEncoder);
    expect([enc.kind, enc.modality, enc.outputDim]).toEqual(['image/cnn', 'image', 8]);
    const copy = encoders.create('image/cnn', enc.getConfig());
    expect(copy.getConfig()).toEqual(enc.getConfig());
    // documented defaults
    const defaults = new ImageCnnEncoder().getConfig();
    expect(defaults).toMatchObject({ width: 64, height: 64, channels: 3, fit: 'cover', background: '#ffffff', normalization: 'fit', blocks: [16, 32, 64], residual: false, output: 'regions', maxPixels: 40_000_000, dropout: 0.1 });
    expect(defaults.augment).toEqual({ crop: { scale: [0.8, 1], ratio: [0.75, 4 / 3] }, flip: true, brightness: 0.2, contrast: 0.2 });
  });

  it('prepare gives plain HWC data equal to loadImage; fit computes channel statistics', async () => {
    const enc = new ImageCnnEncoder(small);
    const raw = await images(3);
    const values = await Promise.all(raw.map((r, i) => enc.prepare(r, { sample: i, field: 'image' })));
    const direct = await loadImage(raw[0]!, { width: 16, height: 16 });
    expect(values[0]).toEqual({ data: direct.data, height: 16, width: 16, channels: 3 });
    // plain data: survives structured cloning (disk cache, worker threads)
    expect(structuredClone(values[0])).toEqual(values[0]);
    enc.fit(values);
    const state = enc.getState() as { mean: number[]; std: number[] };
    for (let c = 0; c < 3; c++) {
      const all = values.flatMap((v) => Array.from(v.data).filter((_, i) => i % 3 === c));
      const mean = all.reduce((a, b) => a + b, 0) / all.length;
      const std = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
      expect(state.mean[c]).toBeCloseTo(mean, 6);
      expect(state.std[c]).toBeCloseTo(std, 6);
    }
    // collate normalizes with the fitted statistics
    const batch = enc.collate(values);
    const x = batch.images!;
    expect(x.shape).toEqual([3, 16, 16, 3]);
    const d = x.dataSync();
    expect(d[5]).toBeCloseTo((values[0]!.data[5]! - state.mean[2]!) / state.std[2]!, 5);
    x.dispose();
    // state round-trips through JSON
    const copy = new ImageCnnEncoder(small);
    copy.setState(JSON.parse(JSON.stringify(enc.getState())));
    expect(copy.getState()).toEqual(enc.getState());
    // normalization "fit" without fit() is a state error, not silent identity
    expect(() => new ImageCnnEncoder(small).collate(values)).toThrow(/fit\(\) has not run/);
  });

  it('regions: [B, H\'·W\', C] with an all-ones mask, row-major tokens; pooled: [B, 1, C] = the mean of the regions', async () => {
    const enc = new ImageCnnEncoder({ ...small, normalization: 'imagenet' });
    const pooled = new ImageCnnEncoder({ ...small, normalization: 'imagenet', output: 'pooled' });
    enc.build(createRng(5));
    pooled.build(createRng(5));
    const values = await prepared(enc, 3);
    const batch = enc.collate(values);
    const out = tf.tidy(() => enc.encode(batch, { training: false }));
    expect(out.features.shape).toEqual([3, 16, 8]);
    expect(out.mask.shape).toEqual([3, 16]);
    expect(Array.from(out.mask.dataSync())).toEqual(new Array(48).fill(1));
    // tokens are the final feature map read row by row
    const map = tf.tidy(() => {
      let x = batch.images as tf.Tensor4D;
      for (const b of (enc as unknown as { blocks: { apply: (x: tf.Tensor4D, o: { training: boolean }) => tf.Tensor4D }[] }).blocks) x = b.apply(x, { training: false });
      return x;
    });
    expect(map.shape).toEqual([3, 4, 4, 8]);
    const m = map.arraySync();
    const f = out.features.arraySync();
    expect(f[1]![2 * 4 + 3]).toEqual(m[1]![2]![3]);
    const p = tf.tidy(() => pooled.encode(batch, { training: false }));
    expect(p.features.shape).toEqual([3, 1, 8]);
    expect(p.mask.shape).toEqual([3, 1]);
    const meanOfRegions = tf.tidy(() => out.features.mean(1));
    const pd = p.features.dataSync();
    meanOfRegions.dataSync().forEach((v, i) => expect(pd[i]).toBeCloseTo(v, 5));
    tf.dispose([out.features, out.mask, p.features, p.mask, map, meanOfRegions, batch.images!]);
    enc.dispose();
    pooled.dispose();
  });

  it('checklist: one training step changes weights, every trainable weight gets a gradient, running stats move only in training', async () => {
    for (const residual of [false, true]) {
      const enc = new ImageCnnEncoder({ ...small, normalization: 'imagenet', residual });
      enc.build(createRng(11));
      const values = await prepared(enc, 4);
      await withConvGradBackend(() => {
        const batch = enc.collate(values);
        // running statistics: unchanged by inference, changed by a training call
        const stats = () => enc.weights.slice(enc.trainableWeights.length).map((w) => Array.from(w.dataSync()));
        const s0 = stats();
        expect(s0.length).toBe(4); // mean and var of two blocks
        tf.tidy(() => { enc.encode(batch, { training: false }); });
        expect(stats()).toEqual(s0);
        const loss = () => {
          const o = enc.encode(batch, { training: true, rng: createRng(1) });
          return tf.mean(tf.square(tf.sub(o.features, 0.5))) as tf.Scalar;
        };
        const { value, grads } = tf.variableGrads(loss, enc.trainableWeights);
        expect(stats()).not.toEqual(s0);
        for (const w of enc.trainableWeights) {
          expect(grads[w.name], w.name).toBeDefined();
          expect(tf.sum(tf.abs(grads[w.name]!)).dataSync()[0], w.name).toBeGreaterThan(0);
        }
        const before = enc.trainableWeights.map((w) => Array.from(w.dataSync()));
        const opt = tf.train.sgd(0.1);
        opt.applyGradients(grads);
        enc.trainableWeights.forEach((w, i) => expect(Array.from(w.dataSync())).not.toEqual(before[i]));
        tf.dispose([value, ...Object.values(grads), batch.images!]);
        opt.dispose();
      });
      enc.dispose();
    }
  });

  it('checklist: getConfig → rebuild + state + weights gives identical outputs', async () => {
    const enc = encoders.create('image/cnn', small);
    const values = await prepared(enc, 3);
    await enc.fit?.(values);
    enc.build(createRng(3));
    // move the running statistics away from their initial values first
    const warm = enc.collate(values);
    tf.tidy(() => { enc.encode(warm, { training: true, rng: createRng(2) }); });
    const copy = encoders.create('image/cnn', JSON.parse(JSON.stringify(enc.getConfig())));
    copy.setState(JSON.parse(JSON.stringify(enc.getState())));
    copy.build(createRng(999));
    expect(copy.weights.map((w) => w.shape)).toEqual(enc.weights.map((w) => w.shape));
    copy.weights.forEach((w, i) => w.assign(enc.weights[i]!));
    const b2 = copy.collate(values);
    const a = tf.tidy(() => enc.encode(warm, { training: false }).features);
    const b = tf.tidy(() => copy.encode(b2, { training: false }).features);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, warm.images!, b2.images!]);
    enc.dispose();
    copy.dispose();
  });

  it('dropout only in training, seeded from the rng: kept values are scaled by 1 / (1 - rate)', async () => {
    // Without batch norm, training and inference differ by dropout alone.
    const enc = new ImageCnnEncoder({ ...small, batchNorm: false, normalization: 'none', dropout: 0.3 });
    enc.build(createRng(4));
    const batch = enc.collate(await prepared(enc, 2));
    const run = (training: boolean, seed: number) => tf.tidy(() => Array.from(enc.encode(batch, { training, rng: createRng(seed) }).features.dataSync()));
    const plain = run(false, 0);
    expect(run(false, 1)).toEqual(plain);
    const t1 = run(true, 7);
    expect(run(true, 7)).toEqual(t1);
    expect(run(true, 8)).not.toEqual(t1);
    let dropped = 0;
    let live = 0;
    t1.forEach((v, i) => {
      const p = plain[i]!;
      if (p === 0) return;
      live++;
      if (v === 0) dropped++;
      else expect(Math.abs(v - p / 0.7)).toBeLessThan(1e-5 * Math.max(1, Math.abs(p)));
    });
    expect(dropped / live).toBeGreaterThan(0.15);
    expect(dropped / live).toBeLessThan(0.45);
    batch.images!.dispose();
    enc.dispose();
  });

  it('checklist: tf.memory().numTensors is unchanged after repeated calls', async () => {
    const enc = new ImageCnnEncoder({ ...small, normalization: 'none' });
    enc.build(createRng(1));
    const values = await prepared(enc, 2);
    const batch = enc.collate(values);
    for (const training of [false, true]) {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const out = tf.tidy(() => enc.encode(batch, { training, rng: createRng(i) }));
        tf.dispose([out.features, out.mask]);
      }
      expect(tf.memory().numTensors).toBe(before);
    }
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(Object.values(enc.collate(values)));
    expect(tf.memory().numTensors).toBe(before);
    batch.images!.dispose();
    enc.dispose();
  });

  it('default config: 64×64 RGB → 8×8 map of 64 channels = 64 region tokens of width 64', async () => {
    const enc = new ImageCnnEncoder({ normalization: 'imagenet' });
    expect([enc.outputDim, enc.tokens]).toEqual([64, 64]);
    enc.build(createRng(1));
    const raw = await images(2, 80);
    const values = await Promise.all(raw.map((r, i) => enc.prepare(r, { sample: i, field: 'image' })));
    const batch = enc.collate(values);
    expect(batch.images!.shape).toEqual([2, 64, 64, 3]);
    const out = tf.tidy(() => enc.encode(batch, { training: false }));
    expect(out.features.shape).toEqual([2, 64, 64]);
    expect(out.mask.shape).toEqual([2, 64]);
    tf.dispose([out.features, out.mask, batch.images!]);
    enc.dispose();
  });

  it('1-channel images and a given normalization', async () => {
    const enc = new ImageCnnEncoder({ ...small, channels: 1, normalization: { mean: [0.5], std: [0.25] }, output: 'pooled' });
    enc.build(createRng(1));
    const v = await enc.prepare((await images(1))[0]!, { sample: 0, field: 'image' });
    expect(v.channels).toBe(1);
    expect(v.data.length).toBe(256);
    const batch = enc.collate([v]);
    expect(batch.images!.dataSync()[0]).toBeCloseTo((v.data[0]! - 0.5) / 0.25, 5);
    const out = tf.tidy(() => enc.encode(batch, { training: false }));
    expect(out.features.shape).toEqual([1, 1, 8]);
    tf.dispose([out.features, out.mask, batch.images!]);
    enc.dispose();
  });

  it('bad input: typed errors naming sample and field', async () => {
    const enc = new ImageCnnEncoder({ ...small, maxPixels: 1_000_000 });
    const ctx = { sample: 'row-3', field: 'photo' };
    await expect(enc.prepare(pngClaiming(50_000, 50_000), ctx)).rejects.toThrow(LimitExceededError);
    await expect(enc.prepare(new Uint8Array(0), ctx)).rejects.toThrow(/sample "row-3", field "photo": image bytes are empty/);
    await expect(enc.prepare(Buffer.from('GIF89a garbage'), ctx)).rejects.toThrow(InvalidInputError);
    await expect(enc.prepare(12 as unknown as string, ctx)).rejects.toThrow(/sample "row-3", field "photo": expected an image file path/);
    await expect(enc.prepare('missing.png', { ...ctx, baseDir: '/tmp' })).rejects.toThrow(/sample "row-3", field "photo": image file .* does not exist/);
    const err = await enc.prepare('../../etc/passwd', { ...ctx, baseDir: '/tmp' }).catch((e: unknown) => e);
    expect(isMmfuseError(err) && err.code).toBe('INVALID_INPUT');
    // training with augmentation needs a seeded rng
    const aug = new ImageCnnEncoder({ ...small, augment: {} });
    await expect(aug.prepare((await images(1))[0]!, { ...ctx, training: true })).rejects.toThrow(/needs ctx\.rng/);
    // a prepared value of another size is refused in collate
    const wrong = { data: new Float32Array(12), height: 2, width: 2, channels: 3 };
    const n = new ImageCnnEncoder({ ...small, normalization: 'none' });
    expect(() => n.collate([wrong])).toThrow(/sample 0, field "images": prepared image is 2×2×3, expected 16×16×3/);
  });

  it('bad config: ConfigError with the key path', () => {
    expect(() => new ImageCnnEncoder({ blocks: [] })).toThrow(/blocks: must have at least 1 item/);
    expect(() => new ImageCnnEncoder({ width: 8, height: 8, blocks: [4, 4, 4, 4] })).toThrow(/shrink 8×8 below one cell/);
    expect(() => new ImageCnnEncoder({ channels: 1, normalization: 'imagenet' })).toThrow(ConfigError);
    expect(() => new ImageCnnEncoder({ normalization: { mean: [0, 0], std: [1, 1] } })).toThrow(/normalization\.mean: must be an array of 3 numbers/);
    expect(() => new ImageCnnEncoder({ output: 'cls' as 'pooled' })).toThrow(/output: must be one of/);
    expect(() => new ImageCnnEncoder({ augment: { crop: { scale: [0.9, 0.5] } } })).toThrow(/augment\.crop\.scale: must satisfy/);
    expect(() => new ImageCnnEncoder({ dropout: 1 })).toThrow(/dropout/);
  });
});
