/** Training aids: statistics, normalization, SpecAugment, silence trimming. */
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRng } from '@mmfuse/core';
import { featureStatistics, normalize, specAugment, trimSilence } from '@mmfuse/audio';
import type { FeatureMatrix } from '@mmfuse/audio';

function matrix(frames: number, bins: number, f: (t: number, b: number) => number): FeatureMatrix {
  const data = new Float32Array(frames * bins);
  for (let t = 0; t < frames; t++) for (let b = 0; b < bins; b++) data[t * bins + b] = f(t, b);
  return { data, frames, bins };
}

describe('featureStatistics and normalize', () => {
  it('fits per-bin mean and population std over all frames of all matrices', () => {
    const a = matrix(2, 2, (t, b) => (b === 0 ? t : 10));
    const b = matrix(2, 2, (t, b) => (b === 0 ? t + 2 : 10));
    const s = featureStatistics([a, b]);
    expect(s.frames).toBe(4);
    expect(s.mean).toEqual([1.5, 10]);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(s.std[1]).toBe(0);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(() => featureStatistics([a, matrix(1, 3, () => 0)])).toThrow(/matrices\[1\]: has 3 bins but matrices\[0\] has 2/);
    expect(() => featureStatistics([])).toThrow(ConfigError);
    expect(() => featureStatistics([matrix(0, 2, () => 0)])).toThrow(InvalidInputError);
  });

  it('standardizes with global or per-utterance statistics', () => {
    const rng = createRng(1);
    const m = matrix(50, 3, (_, b) => 5 * b + (b + 1) * rng.normal());
    for (const out of [normalize(m, 'utterance'), normalize(m, featureStatistics([m]))]) {
      const s = featureStatistics([out]);
      s.mean.forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-5));
      s.std.forEach((v) => expect(v).toBeCloseTo(1, 3));
    }
    // global statistics from another set shift rather than centre
    const shifted = normalize(m, { mean: [1, 1, 1], std: [1, 1, 1], frames: 1 }, { epsilon: 0 });
    expect(shifted.data[0]).toBeCloseTo((m.data[0] as number) - 1, 6);
    // constant bins become 0, not NaN
    expect(Array.from(normalize(matrix(4, 1, () => 3), 'utterance').data)).toEqual([0, 0, 0, 0]);
    expect(() => normalize(m, { mean: [0], std: [1], frames: 1 })).toThrow(/stats: must be "utterance" or statistics with 3 means/);
  });
});

describe('specAugment', () => {
  const m = matrix(100, 40, (t, b) => 1 + t * 40 + b);

  it('masks whole bands and spans with the mask value, reproducibly from the seed, without touching the input', () => {
    const opts = { timeMasks: 2, timeMaskMax: 10, freqMasks: 2, freqMaskMax: 5, maskValue: -1 };
    const a = specAugment(m, opts, createRng(3));
    const b = specAugment(m, opts, createRng(3));
    const c = specAugment(m, opts, createRng(4));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    expect(m.data.every((v) => v > 0)).toBe(true);
    const maskedBins = new Set<number>();
    const maskedFrames = new Set<number>();
    for (let t = 0; t < 100; t++) for (let bin = 0; bin < 40; bin++) {
      const v = a.data[t * 40 + bin] as number;
      if (v === -1) { maskedBins.add(bin); maskedFrames.add(t); } else expect(v).toBe(m.data[t * 40 + bin]);
    }
    // every masked cell lies in a fully masked bin (all frames) or a fully masked frame (all bins)
    const fullBins = [...maskedBins].filter((bin) => Array.from({ length: 100 }, (_, t) => a.data[t * 40 + bin]).every((v) => v === -1));
    const fullFrames = [...maskedFrames].filter((t) => Array.from(a.data.subarray(t * 40, t * 40 + 40)).every((v) => v === -1));
    for (let t = 0; t < 100; t++) for (let bin = 0; bin < 40; bin++) {
      if (a.data[t * 40 + bin] === -1) expect(fullBins.includes(bin) || fullFrames.includes(t)).toBe(true);
    }
    expect(fullBins.length).toBeLessThanOrEqual(10);
    expect(fullFrames.length).toBeLessThanOrEqual(20);
  });

  it('over many seeds, mask widths cover 0..max and never leave the matrix', () => {
    const small = matrix(8, 4, () => 1);
    let sawWide = false;
    for (let seed = 0; seed < 200; seed++) {
      const out = specAugment(small, { timeMasks: 1, timeMaskMax: 20, freqMasks: 0, freqMaskMax: 0 }, createRng(seed));
      const zeros = out.data.filter((v) => v === 0).length;
      expect(zeros % 4).toBe(0);
      if (zeros === 32) sawWide = true;
    }
    expect(sawWide).toBe(true);
    expect(() => specAugment(m, { timeMasks: -1 }, createRng(1))).toThrow(/specAugment.timeMasks/);
    expect(() => specAugment(m, {}, undefined as never)).toThrow(/needs an Rng/);
  });
});

describe('trimSilence', () => {
  it('cuts leading and trailing silence to frame precision and keeps the sound', () => {
    const x = new Float32Array(16000);
    for (let i = 4000; i < 12000; i++) x[i] = 0.5 * Math.sin(i / 5);
    const r = trimSilence(x);
    expect(r.start).toBeGreaterThan(4000 - 400);
    expect(r.start).toBeLessThanOrEqual(4000);
    expect(r.end).toBeGreaterThanOrEqual(12000);
    expect(r.end).toBeLessThan(12000 + 400 + 160);
    expect(r.samples.length).toBe(r.end - r.start);
    expect(r.samples[4000 - r.start]).toBe(x[4000]);
  });

  it('keeps quiet-but-not-silent parts within topDb, returns nothing for pure silence', () => {
    const x = new Float32Array(8000);
    for (let i = 0; i < 8000; i++) x[i] = (i < 4000 ? 0.001 : 0.5) * Math.sin(i / 3);
    // 0.001 vs 0.5 is -54 dB: kept at topDb 60, cut at topDb 40
    expect(trimSilence(x, { topDb: 60 }).start).toBe(0);
    expect(trimSilence(x, { topDb: 40 }).start).toBeGreaterThan(3500);
    expect(trimSilence(new Float32Array(1000)).samples.length).toBe(0);
    expect(() => trimSilence(x, { topDb: 0 })).toThrow(ConfigError);
  });
});
