import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRng } from '@mmfuse/core';
import { ImageCnnEncoder, flipHorizontal, jitterBrightnessContrast, loadImage, sampleResizedCrop } from '@mmfuse/vision-cnn';
import { encode, noise } from './helpers.js';

describe('sampleResizedCrop', () => {
  it('is deterministic under a seed and keeps area, ratio and position in range', () => {
    const size = { width: 120, height: 80 };
    const opts = { scale: [0.3, 0.6] as [number, number], ratio: [0.5, 2] as [number, number] };
    const a = Array.from({ length: 200 }, ((rng) => () => sampleResizedCrop(size, rng, opts))(createRng(42)));
    const b = Array.from({ length: 200 }, ((rng) => () => sampleResizedCrop(size, rng, opts))(createRng(42)));
    expect(b).toEqual(a);
    const c = Array.from({ length: 200 }, ((rng) => () => sampleResizedCrop(size, rng, opts))(createRng(43)));
    expect(c).not.toEqual(a);
    for (const box of a) {
      expect(box.left + box.width).toBeLessThanOrEqual(120);
      expect(box.top + box.height).toBeLessThanOrEqual(80);
      expect(Math.min(box.left, box.top)).toBeGreaterThanOrEqual(0);
      // rounding to whole pixels moves area and ratio a little
      const area = (box.width * box.height) / (120 * 80);
      expect(area).toBeGreaterThan(0.3 * 0.95);
      expect(area).toBeLessThan(0.6 * 1.05);
      expect(box.width / box.height).toBeGreaterThan(0.5 * 0.95);
      expect(box.width / box.height).toBeLessThan(2 * 1.05);
    }
    // positions spread over the image
    expect(new Set(a.map((x) => x.left)).size).toBeGreaterThan(20);
  });

  it('falls back to the largest centred box inside the ratio range when sampling cannot fit', () => {
    // a 100×10 strip cannot hold a near-square crop of ≥ 90 % of its area
    const box = sampleResizedCrop({ width: 100, height: 10 }, createRng(1), { scale: [0.9, 1], ratio: [0.9, 1.1] });
    expect(box).toEqual({ left: 44, top: 0, width: 11, height: 10 });
    expect(sampleResizedCrop({ width: 10, height: 10 }, createRng(1), { scale: [1, 1], ratio: [1, 1] })).toEqual({ left: 0, top: 0, width: 10, height: 10 });
    expect(() => sampleResizedCrop({ width: 10, height: 10 }, createRng(1), { scale: [0, 1] })).toThrow(ConfigError);
  });
});

describe('augmentation properties (fast-check)', () => {
  it('every sampled crop lies inside the image, for any size, scale range and seed', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 400 }),
      fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.nat(),
      (width, height, s1, s2, seed) => {
        const box = sampleResizedCrop({ width, height }, createRng(seed), { scale: [Math.min(s1, s2), Math.max(s1, s2)] });
        return Number.isInteger(box.left) && Number.isInteger(box.top) && box.width >= 1 && box.height >= 1 &&
          box.left >= 0 && box.top >= 0 && box.left + box.width <= width && box.top + box.height <= height;
      },
    ), { numRuns: 300 });
  });

  it('flipping twice is the identity, for any shape', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.constantFrom(1, 3), fc.nat(), (width, height, channels, seed) => {
      const rng = createRng(seed);
      const data = Float32Array.from({ length: width * height * channels }, () => rng.next());
      const twice = flipHorizontal(flipHorizontal(data, { width, height, channels }), { width, height, channels });
      return twice.every((v, i) => v === data[i]);
    }), { numRuns: 200 });
  });
});

describe('flipHorizontal', () => {
  it('mirrors each row, keeps channels together, and is its own inverse', () => {
    // 3 wide, 2 high, 2 channels
    const data = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const f = flipHorizontal(data, { width: 3, height: 2, channels: 2 });
    expect(Array.from(f)).toEqual([5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8]);
    expect(Array.from(flipHorizontal(f, { width: 3, height: 2, channels: 2 }))).toEqual(Array.from(data));
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // input untouched
    expect(() => flipHorizontal(data, { width: 2, height: 2, channels: 2 })).toThrow(/expected 2×2×2 = 8/);
  });
});

describe('jitterBrightnessContrast', () => {
  const img = Float32Array.from(noise(8 * 8 * 3, 6), (v) => v / 255);

  it('draws factors in range from the seed and applies x·b then c·x + (1 - c)·grey, clipped to [0, 1]', () => {
    const r1 = jitterBrightnessContrast(img, 3, createRng(5), { brightness: 0.4, contrast: 0.3 });
    const r2 = jitterBrightnessContrast(img, 3, createRng(5), { brightness: 0.4, contrast: 0.3 });
    expect(r2).toEqual(r1);
    const { brightness: b, contrast: c } = r1.factors;
    expect(b).toBeGreaterThanOrEqual(0.6);
    expect(b).toBeLessThanOrEqual(1.4);
    expect(c).toBeGreaterThanOrEqual(0.7);
    expect(c).toBeLessThanOrEqual(1.3);
    // independent recomputation in float64
    const bright = Array.from(img, (v) => Math.min(1, Math.max(0, v * b)));
    let grey = 0;
    for (let i = 0; i < bright.length; i += 3) grey += 0.299 * bright[i]! + 0.587 * bright[i + 1]! + 0.114 * bright[i + 2]!;
    grey /= bright.length / 3;
    r1.data.forEach((v, i) => expect(Math.abs(v - Math.min(1, Math.max(0, c * bright[i]! + (1 - c) * grey)))).toBeLessThan(1e-6));
    expect(r1.data.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('strength 0 leaves the image alone and draws nothing', () => {
    const rng = createRng(3);
    const r = jitterBrightnessContrast(img, 3, rng, {});
    expect(r.factors).toEqual({ brightness: 1, contrast: 1 });
    expect(Array.from(r.data)).toEqual(Array.from(img));
    expect(rng.next()).toBe(createRng(3).next());
  });
});

describe('image/cnn augmentation in prepare', () => {
  const cfg = { width: 16, height: 16, blocks: [4], normalization: 'none' as const };

  it('is applied only in training, and the same seed gives the same image', async () => {
    const png = await encode(noise(40 * 30 * 3, 12), 40, 30, 3, 'png');
    const enc = new ImageCnnEncoder({ ...cfg, augment: { crop: { scale: [0.5, 0.9] }, flip: true, brightness: 0.3, contrast: 0.3 } });
    const ctx = { sample: 1, field: 'image' };
    const plain = await enc.prepare(png, ctx);
    expect(plain.data).toEqual((await loadImage(png, { width: 16, height: 16 })).data);
    expect((await enc.prepare(png, { ...ctx, training: false, rng: createRng(1) })).data).toEqual(plain.data);
    const runs = await Promise.all([1, 1, 2, 3].map((seed) => enc.prepare(png, { ...ctx, training: true, rng: createRng(seed) })));
    expect(runs[1]!.data).toEqual(runs[0]!.data);
    expect(runs[0]!.data).not.toEqual(plain.data);
    expect(runs[2]!.data).not.toEqual(runs[0]!.data);
    expect(runs[3]!.data).not.toEqual(runs[2]!.data);
  });

  it('crops the oriented image, stretches the crop to size, then flips: equal to doing each step by hand', async () => {
    const stored = noise(40 * 24 * 3, 77);
    const png = await sharp(Buffer.from(stored), { raw: { width: 40, height: 24, channels: 3 } }).png().withMetadata({ orientation: 8 }).toBuffer();
    const enc = new ImageCnnEncoder({ ...cfg, augment: { crop: { scale: [0.3, 0.5], ratio: [0.8, 1.25] }, flip: true, brightness: 0, contrast: 0 } });
    let flips = 0;
    for (let seed = 0; seed < 6; seed++) {
      const got = await enc.prepare(png, { sample: seed, field: 'image', training: true, rng: createRng(seed) });
      // the same draws, in the documented order: crop box, then the flip coin
      const rng = createRng(seed);
      const box = sampleResizedCrop({ width: 24, height: 40 }, rng, { scale: [0.3, 0.5], ratio: [0.8, 1.25] });
      const flip = rng.bernoulli(0.5);
      flips += flip ? 1 : 0;
      const cropped = await loadImage(png, { crop: box, width: 16, height: 16, fit: 'fill' });
      expect(Array.from(got.data)).toEqual(Array.from(flip ? flipHorizontal(cropped.data, cropped) : cropped.data));
    }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(6);
  });
});
