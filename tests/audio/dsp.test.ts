/**
 * DSP properties beyond the reference vectors: the FFT against a direct DFT for many sizes (primes,
 * Bluestein sizes), Parseval, sine peaks, mel filters for other parameters against an independent
 * implementation, resampling at other ratios against a direct sum, MFCC orthonormality, fbank options,
 * argument errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { amplitudeToDb, fbank, logMel, logMelImplementation, melFilterBank, melSpectrogram, mfcc, resample, spectrogram } from '@mmfuse/audio';
import type { MelScale } from '@mmfuse/audio';

function randomSignal(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** |DFT|^2 of one periodic-Hann-windowed frame, summed directly. */
function directPowerFrame(x: Float32Array, start: number, nFft: number): Float64Array {
  const bins = Math.floor(nFft / 2) + 1;
  const out = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    let re = 0;
    let im = 0;
    for (let n = 0; n < nFft; n++) {
      const v = (x[start + n] as number) * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft));
      re += v * Math.cos((2 * Math.PI * k * n) / nFft);
      im -= v * Math.sin((2 * Math.PI * k * n) / nFft);
    }
    out[k] = re * re + im * im;
  }
  return out;
}

describe('spectrogram', () => {
  it('equals a direct DFT for even, odd, prime and large-prime-factor sizes', () => {
    for (const nFft of [2, 8, 30, 97, 128, 202, 400, 401, 512, 1000, 2 * 1009]) {
      const x = randomSignal(nFft * 2, nFft);
      const spec = spectrogram(x, { nFft, hopLength: Math.floor(nFft / 2), center: false });
      expect(spec.bins).toBe(Math.floor(nFft / 2) + 1);
      expect(spec.frames).toBe(3);
      const direct = directPowerFrame(x, Math.floor(nFft / 2), nFft);
      let max = 0;
      let diff = 0;
      direct.forEach((v, k) => { max = Math.max(max, v); diff = Math.max(diff, Math.abs(v - (spec.data[spec.bins + k] as number))); });
      expect(diff, `nFft ${nFft}`).toBeLessThan(1e-5 * max + 1e-6);
    }
  });

  it('satisfies Parseval for any frame size (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 700 }), fc.integer({ min: 0, max: 1000 }), (nFft, seed) => {
      const x = randomSignal(nFft, seed);
      const spec = spectrogram(x, { nFft, center: false, hopLength: nFft });
      let timeEnergy = 0;
      for (let n = 0; n < nFft; n++) timeEnergy += ((x[n] as number) * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft))) ** 2;
      let freqEnergy = 0;
      for (let k = 0; k < spec.bins; k++) {
        // one-sided: interior bins stand for two (k and nFft - k)
        const twice = k > 0 && !(nFft % 2 === 0 && k === nFft / 2);
        freqEnergy += (twice ? 2 : 1) * (spec.data[k] as number);
      }
      expect(Math.abs(freqEnergy / nFft - timeEnergy)).toBeLessThan(1e-5 * Math.max(timeEnergy, 1e-6));
    }), { numRuns: 40 });
  });

  it('puts a sine at its bin, and power 1 is the magnitude', () => {
    const rate = 16000;
    for (const bin of [3, 50, 120, 199]) {
      const freq = (bin * rate) / 400;
      const x = Float32Array.from({ length: 4000 }, (_, i) => Math.sin((2 * Math.PI * freq * i) / rate));
      const power = spectrogram(x, { nFft: 400, hopLength: 160 });
      const mag = spectrogram(x, { nFft: 400, hopLength: 160, power: 1 });
      const t = 10 * power.bins;
      let best = 0;
      for (let k = 0; k < power.bins; k++) if ((power.data[t + k] as number) > (power.data[t + best] as number)) best = k;
      expect(best).toBe(bin);
      // a unit sine under a Hann window of 400: |X| = 400 * 0.5 / 2 = 100 at its bin
      expect(mag.data[t + bin]).toBeCloseTo(100, 2);
      expect(Math.sqrt(power.data[t + bin] as number)).toBeCloseTo(mag.data[t + bin] as number, 3);
    }
  });

  it('centres frames with each pad mode and a window shorter than nFft', () => {
    const x = randomSignal(1000, 3);
    for (const padMode of ['reflect', 'constant', 'replicate', 'circular'] as const) {
      const s = spectrogram(x, { nFft: 256, winLength: 200, hopLength: 100, padMode });
      expect(s.frames).toBe(11);
      // frame 5 lies inside the signal: padding cannot matter there; window of 200 centred in 256
      const w = new Float64Array(256);
      for (let n = 0; n < 200; n++) w[28 + n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / 200);
      let re = 0;
      let im = 0;
      for (let n = 0; n < 256; n++) {
        const v = (x[500 - 128 + n] as number) * (w[n] as number);
        re += v * Math.cos((2 * Math.PI * 7 * n) / 256);
        im -= v * Math.sin((2 * Math.PI * 7 * n) / 256);
      }
      expect(s.data[5 * s.bins + 7]).toBeCloseTo(re * re + im * im, 4);
    }
    // the edge frame differs between pad modes
    const a = spectrogram(x, { nFft: 256, hopLength: 100, padMode: 'reflect' });
    const b = spectrogram(x, { nFft: 256, hopLength: 100, padMode: 'constant' });
    expect(a.data[3]).not.toBeCloseTo(b.data[3] as number, 6);
  });

  it('refuses bad options and bad samples with typed errors', () => {
    const x = randomSignal(1000, 1);
    expect(() => spectrogram(x, { nFft: 0 })).toThrow(ConfigError);
    expect(() => spectrogram(x, { nFft: 256, winLength: 300 })).toThrow(/winLength: must be <= nFft \(256\), got 300/);
    expect(() => spectrogram(x, { hopLength: 1.5 })).toThrow(/hopLength: must be an integer/);
    expect(() => spectrogram(x, { padMode: 'mirror' as never })).toThrow(/padMode: must be one of/);
    expect(() => spectrogram(x, { power: -1 })).toThrow(ConfigError);
    const bad = x.slice();
    bad[10] = Number.NaN;
    expect(() => spectrogram(bad)).toThrow(/samples\[10\] is NaN/);
    expect(() => spectrogram(new Float32Array(150), { nFft: 400 })).toThrow(InvalidInputError);
    expect(() => spectrogram(new Float32Array(150), { nFft: 400, center: false })).toThrow(/shorter than nFft 400/);
  });
});

/** torchaudio.functional.melscale_fbanks, written independently (dense loops, explicit slopes). */
function referenceMel(nFreqs: number, fMin: number, fMax: number, nMels: number, sr: number, scale: MelScale, slaneyNorm: boolean): number[][] {
  const toMel = (f: number) => (scale === 'htk' ? 2595 * Math.log10(1 + f / 700) : f < 1000 ? (3 * f) / 200 : 15 + (27 * Math.log(f / 1000)) / Math.log(6.4));
  const toHz = (m: number) => (scale === 'htk' ? 700 * (10 ** (m / 2595) - 1) : m < 15 ? (200 * m) / 3 : 1000 * Math.exp((Math.log(6.4) / 27) * (m - 15)));
  const all = Array.from({ length: nFreqs }, (_, i) => (Math.floor(sr / 2) * i) / (nFreqs - 1));
  const lo = toMel(fMin);
  const hi = toMel(fMax);
  const pts = Array.from({ length: nMels + 2 }, (_, i) => toHz(lo + ((hi - lo) * i) / (nMels + 1)));
  return all.map((f) => Array.from({ length: nMels }, (_, m) => {
    const [a, b, c] = [pts[m] as number, pts[m + 1] as number, pts[m + 2] as number];
    const w = Math.max(0, Math.min((f - a) / (b - a), (c - f) / (c - b)));
    return slaneyNorm ? (w * 2) / (c - a) : w;
  }));
}

describe('melFilterBank', () => {
  it('matches an independent implementation for other sizes, ranges, rates and scales (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 8, max: 1025 }), fc.integer({ min: 1, max: 128 }), fc.constantFrom(8000, 16000, 22050, 44100, 48000, 11025),
      fc.double({ min: 0, max: 0.4, noNaN: true }), fc.double({ min: 0.5, max: 1, noNaN: true }), fc.constantFrom<MelScale>('htk', 'slaney'), fc.boolean(),
      (nFreqs, nMels, sr, lo, hi, scale, slaney) => {
        const fMin = lo * (sr / 2);
        const fMax = hi * (sr / 2);
        const fb = melFilterBank({ nFreqs, sampleRateHz: sr, nMels, fMin, fMax, melScale: scale, norm: slaney ? 'slaney' : null });
        const ref = referenceMel(nFreqs, fMin, fMax, nMels, sr, scale, slaney);
        let max = 0;
        let diff = 0;
        ref.forEach((row, f) => row.forEach((v, m) => { max = Math.max(max, Math.abs(v)); diff = Math.max(diff, Math.abs(v - (fb.data[f * nMels + m] as number))); }));
        expect(diff).toBeLessThanOrEqual(1e-6 * Math.max(max, 1e-3));
      }), { numRuns: 60 });
  });

  it('refuses ranges that make no sense', () => {
    expect(() => melFilterBank({ nFreqs: 201, sampleRateHz: 16000, fMin: 5000, fMax: 4000 })).toThrow(/fMax: must be greater than fMin/);
    expect(() => melFilterBank({ nFreqs: 201, sampleRateHz: 16000, fMax: 9000 })).toThrow(/fMax: must be a finite number >= 0 and <= 8000/);
    expect(() => melFilterBank({ nFreqs: 201, sampleRateHz: 16000, melScale: 'bark' as never })).toThrow(ConfigError);
    expect(() => melFilterBank({ nFreqs: 201, sampleRateHz: 16000, nMels: 0 })).toThrow(/nMels: must be an integer >= 1/);
  });
});

describe('mel spectrogram, dB, MFCC, log-mel', () => {
  const x = randomSignal(8000, 9);

  it('melSpectrogram is the spectrogram times the filterbank', () => {
    const spec = spectrogram(x, { nFft: 512, hopLength: 128 });
    const fb = melFilterBank({ nFreqs: 257, sampleRateHz: 16000, nMels: 30, fMin: 100, fMax: 7000, melScale: 'slaney', norm: 'slaney' });
    const mel = melSpectrogram(x, { sampleRateHz: 16000, nFft: 512, hopLength: 128, nMels: 30, fMin: 100, fMax: 7000, melScale: 'slaney', norm: 'slaney' });
    expect([mel.frames, mel.bins]).toEqual([spec.frames, 30]);
    for (const t of [0, 17, mel.frames - 1]) {
      for (const m of [0, 11, 29]) {
        let s = 0;
        for (let f = 0; f < 257; f++) s += (spec.data[t * 257 + f] as number) * (fb.data[f * 30 + m] as number);
        expect(mel.data[t * 30 + m]).toBeCloseTo(s, 4);
      }
    }
  });

  it('logMel is ln(mel + 1e-6) with the benchmark defaults', () => {
    const lm = logMel(x, { sampleRateHz: 16000 });
    const mel = melSpectrogram(x, { sampleRateHz: 16000, nFft: 400, hopLength: 160, nMels: 64 });
    expect([lm.frames, lm.bins]).toEqual([51, 64]);
    let diff = 0;
    lm.data.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - Math.log((mel.data[i] as number) + 1e-6))); });
    expect(diff).toBeLessThan(1e-5);
  });

  it('logMel (a generated WebAssembly SIMD kernel where the FFT size allows) equals ln(melSpectrogram + offset) for other parameters', () => {
    const tone = Float32Array.from({ length: 7001 }, (_, i) => Math.sin(i * 0.37) + 0.01 * Math.sin(i * 2.1));
    const cases = [
      { sampleRateHz: 16000 },
      { sampleRateHz: 16000, nFft: 512, hopLength: 128, nMels: 40, melScale: 'slaney' as const, norm: 'slaney' as const },
      { sampleRateHz: 22050, nFft: 300, winLength: 256, hopLength: 100, nMels: 80, fMin: 50, fMax: 9000, padMode: 'constant' as const },
      { sampleRateHz: 8000, nFft: 256, hopLength: 80, nMels: 23, center: false, offset: 1e-3 },
      { sampleRateHz: 16000, nFft: 400, hopLength: 160, normalized: true, padMode: 'replicate' as const },
      { sampleRateHz: 16000, nFft: 194, hopLength: 97, nMels: 20 }, // 97 is prime: the JS path
    ];
    for (const signal of [x, tone, Float64Array.from(tone)]) {
      for (const c of cases) {
        const lm = logMel(signal, c);
        const mel = melSpectrogram(signal, { nFft: 400, hopLength: 160, nMels: 64, ...c });
        expect([lm.frames, lm.bins]).toEqual([mel.frames, mel.bins]);
        // The kernel computes in float32 as torchaudio does: a mel energy is exact to about 1e-6 of the
        // frame's largest energy, which in the log domain is 1e-6 * max / (mel + offset).
        const offset = c.offset ?? 1e-6;
        let worst = 0;
        for (let t = 0; t < lm.frames; t++) {
          let max = 0;
          for (let m = 0; m < lm.bins; m++) max = Math.max(max, mel.data[t * lm.bins + m] as number);
          for (let m = 0; m < lm.bins; m++) {
            const e = (mel.data[t * lm.bins + m] as number) + offset;
            const allowed = 1e-5 + 2e-6 * (max / e);
            worst = Math.max(worst, Math.abs((lm.data[t * lm.bins + m] as number) - Math.log(e)) / allowed);
          }
        }
        expect(worst, JSON.stringify(c)).toBeLessThan(1);
      }
    }
  });

  it('builds the SIMD kernel for radix-2/3/4/5 FFT sizes and declines others', () => {
    // The generated kernel must really build here, or logMel would silently take the slower JS path.
    const opts = (nFft: number) => ({ sampleRateHz: 16000, nFft, hopLength: 160, nMels: 8 });
    for (const n of [400, 512, 300, 256, 270]) expect(logMelImplementation(opts(n)), `nFft ${n}`).toBe('simd');
    for (const n of [402, 2 * 97, 4096]) expect(logMelImplementation(opts(n)), `nFft ${n}`).toBe('js');
    expect(logMelImplementation({ ...opts(400), power: 1 })).toBe('js');
  });

  it('amplitudeToDb floors at max - topDb and magnitude uses 20 log10', () => {
    const m = { data: Float32Array.from([1, 1e-3, 1e-12, 100]), frames: 2, bins: 2 };
    expect(Array.from(amplitudeToDb(m).data)).toEqual([0, -30, -100, 20].map(Math.fround));
    expect(Array.from(amplitudeToDb(m, { topDb: 40 }).data)).toEqual([0, -20, -20, 20]);
    expect(Array.from(amplitudeToDb(m, { stype: 'magnitude', ref: 10 }).data).map((v) => Math.round(v))).toEqual([-20, -80, -220, 20]);
  });

  it('mfcc with nMfcc = nMels is an orthonormal transform of the dB mel spectrogram', () => {
    const opts = { sampleRateHz: 16000, nFft: 400, hopLength: 160, nMels: 24 };
    const c = mfcc(x, { ...opts, nMfcc: 24 });
    const db = amplitudeToDb(melSpectrogram(x, opts), { topDb: 80 });
    for (let t = 0; t < c.frames; t++) {
      let e1 = 0;
      let e2 = 0;
      for (let k = 0; k < 24; k++) { e1 += (c.data[t * 24 + k] as number) ** 2; e2 += (db.data[t * 24 + k] as number) ** 2; }
      expect(e1 / e2).toBeCloseTo(1, 4);
    }
    expect(() => mfcc(x, { ...opts, nMfcc: 30 })).toThrow(/nMfcc: must be <= nMels \(24\)/);
  });
});

describe('fbank options', () => {
  it('snipEdges false gives one frame per shift, and a tone lands in the bin around its frequency', () => {
    const rate = 16000;
    const x = Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate));
    const snip = fbank(x, { sampleRateHz: rate, numMelBins: 23 });
    const noSnip = fbank(x, { sampleRateHz: rate, numMelBins: 23, snipEdges: false, windowType: 'hamming' });
    expect(snip.frames).toBe(98);
    expect(noSnip.frames).toBe(100);
    // Kaldi mel centres: the bin whose centre is closest to 1000 Hz has the most energy
    const mel = (f: number) => 1127 * Math.log(1 + f / 700);
    const d = (mel(8000) - mel(20)) / 24;
    const centres = Array.from({ length: 23 }, (_, b) => mel(20) + (b + 1) * d);
    const expected = centres.reduce((best, c, b) => (Math.abs(c - mel(1000)) < Math.abs((centres[best] as number) - mel(1000)) ? b : best), 0);
    for (const m of [snip, noSnip]) {
      const row = Array.from(m.data.subarray(40 * 23, 41 * 23));
      expect(row.indexOf(Math.max(...row))).toBe(expected);
    }
    const centred = fbank(x, { sampleRateHz: rate, numMelBins: 23, subtractMean: true });
    let colMean = 0;
    for (let t = 0; t < centred.frames; t++) colMean += centred.data[t * 23 + 5] as number;
    expect(Math.abs(colMean / centred.frames)).toBeLessThan(1e-4);
    expect(() => fbank(x, { sampleRateHz: rate, lowFreq: 9000 })).toThrow(ConfigError);
    expect(() => fbank(new Float32Array(100), { sampleRateHz: rate })).toThrow(/shorter than one frame \(400 samples\)/);
  });
});

/** torchaudio's sinc_interp_hann resampling as a direct sum over input samples, written independently. */
function directResample(x: Float32Array, from: number, to: number): Float64Array {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(from, to);
  const o = from / g;
  const n = to / g;
  const base = Math.min(o, n) * 0.99;
  const outLen = Math.ceil((n * x.length) / o);
  const y = new Float64Array(outLen);
  for (let m = 0; m < outLen; m++) {
    // t = (p / o - m / n) * base must lie inside (-6, 6)
    const pLo = Math.max(0, Math.floor((m / n - 6 / base) * o));
    const pHi = Math.min(x.length - 1, Math.ceil((m / n + 6 / base) * o));
    let s = 0;
    for (let p = pLo; p <= pHi; p++) {
      const t = (p / o - m / n) * base;
      if (Math.abs(t) >= 6) continue;
      const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
      s += (x[p] as number) * sinc * Math.cos((Math.PI * t) / 12) ** 2 * (base / o);
    }
    y[m] = s;
  }
  return y;
}

describe('resample', () => {
  it('equals a direct windowed-sinc sum at other ratios', () => {
    for (const [from, to] of [[16000, 8000], [44100, 16000], [8000, 22050], [48000, 44100], [3, 2], [16000, 16001]] as const) {
      const x = randomSignal(Math.min(3000, from * 2), from + to);
      const y = resample(x, from, to);
      const ref = directResample(x, from, to);
      expect(y.length).toBe(ref.length);
      let diff = 0;
      ref.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - (y[i] as number))); });
      expect(diff, `${from} -> ${to}`).toBeLessThan(1e-5);
    }
  });

  it('keeps an in-band sine, removes an out-of-band one, and copies at equal rates', () => {
    const x = Float32Array.from({ length: 44100 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 44100) + 0.5 * Math.sin((2 * Math.PI * 12000 * i) / 44100));
    const y = resample(x, 44100, 16000);
    let err = 0;
    for (let i = 1000; i < y.length - 1000; i++) err = Math.max(err, Math.abs((y[i] as number) - Math.sin((2 * Math.PI * 440 * i) / 16000)));
    expect(err).toBeLessThan(0.01);
    const same = resample(x, 8000, 8000);
    expect(same).not.toBe(x);
    expect(Array.from(same.subarray(0, 10))).toEqual(Array.from(x.subarray(0, 10)));
    expect(() => resample(x, 0, 8000)).toThrow(ConfigError);
    // coprime extreme rates would need gigabytes of filter table: refused up front
    expect(() => resample(x.subarray(0, 100), 9_999_991, 16_000)).toThrow(/9999991 Hz -> 16000 Hz needs a table of about \d+ M taps/);
    expect(() => resample(x, 44100.5, 8000)).toThrow(/fromHz: must be an integer/);
  });
});
