/**
 * Channel/room augmentation of @mmfuse/audio: against torchaudio 0.13.1 / audioop reference vectors
 * (tests/fixtures/vectors/augment_*.json, made by scripts/make-augment-vectors.py) where a reference op
 * exists, and by properties elsewhere (measured SNR, RT60 by Schroeder integration, pink slope, chain
 * reproducibility).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRng } from '@mmfuse/core';
import {
  addNoise, augmentChain, babbleNoise, codecRoundTrip, fftConvolve, gain, highpassBiquad, lowpassBiquad, muLawDecode, muLawEncode,
  pinkNoise, roomImpulseResponse, speedPerturb, spectrogram, telephoneBand, whiteNoise,
} from '@mmfuse/audio';
import { compare, loadVector } from './helpers.js';
import type { StoredTensor } from './helpers.js';

interface Base { input_slice: [number, number]; input_scale: number }

function input(scale: number): Float32Array {
  const v = loadVector<{ samples: StoredTensor }>('audio_speech_input.json');
  const b = loadVector<Base>('augment_gain.json');
  return Float32Array.from(v.samples.data.slice(b.input_slice[0], b.input_slice[1]), (x) => (x / 32768) * scale);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, rel = 1e-4): void {
  const r = compare(actual, expected, 0);
  expect(r.maxDiff, `${label}: max diff ${r.maxDiff} at ${r.at}`).toBeLessThanOrEqual(Math.max(rel * (r.tolerance / 1e-4), 1e-6));
}

describe('reference vectors', () => {
  const x = input(0.5);

  it('mu-law encode/decode equal torchaudio (codes exactly)', () => {
    const v = loadVector<{ cases: { quantization_channels: number; encoded: StoredTensor; decoded: StoredTensor }[] }>('augment_mu_law.json');
    for (const c of v.cases) {
      const codes = muLawEncode(x, c.quantization_channels);
      let mismatches = 0;
      codes.forEach((code, i) => { if (code !== c.encoded.data[i]) mismatches++; });
      // float32 vs float64 rounding can move a value sitting exactly on a code boundary by one code
      expect(mismatches, `q=${c.quantization_channels}`).toBeLessThanOrEqual(2);
      expectClose(muLawDecode(c.encoded.data, c.quantization_channels), c.decoded.data, `decode q=${c.quantization_channels}`);
    }
    expect(() => muLawDecode([256])).toThrow(InvalidInputError);
  });

  it('lowpass/highpass biquads and the telephone band equal torchaudio', () => {
    const v = loadVector<{ cases: { type: string; cutoff_hz: number; q: number; sample_rate: number; output: StoredTensor }[]; telephone: { input_16k: StoredTensor; output: StoredTensor } }>('augment_biquad.json');
    for (const c of v.cases) {
      const f = c.type === 'lowpass' ? lowpassBiquad : highpassBiquad;
      expectClose(f(x, { sampleRateHz: c.sample_rate, cutoffHz: c.cutoff_hz, q: c.q }), c.output.data, `${c.type} ${c.cutoff_hz}`);
    }
    const tel = telephoneBand(Float32Array.from(v.telephone.input_16k.data), { sampleRateHz: 16000 });
    expectClose(tel, v.telephone.output.data, 'telephone band');
    expect(() => lowpassBiquad(x, { sampleRateHz: 8000, cutoffHz: 4000 })).toThrow(ConfigError);
  });

  it('speed perturbation equals torchaudio resampling from rate * factor', () => {
    const v = loadVector<{ cases: { factor: number; output: StoredTensor }[] }>('augment_speed.json');
    const x16 = Float32Array.from(loadVector<{ telephone: { input_16k: StoredTensor } }>('augment_biquad.json').telephone.input_16k.data);
    for (const c of v.cases) {
      const y = speedPerturb(x16, { sampleRateHz: 16000, factor: c.factor });
      expectClose(y, c.output.data, `speed ${c.factor}`);
    }
    expect(() => speedPerturb(x16, { sampleRateHz: 16000, factor: 3 })).toThrow(ConfigError);
  });

  it('gain, addNoise and fftConvolve equal the torch computations', () => {
    for (const c of loadVector<{ cases: { gain_db: number; output: StoredTensor }[] }>('augment_gain.json').cases) expectClose(gain(x, c.gain_db), c.output.data, `gain ${c.gain_db}`);
    const n = loadVector<{ noise: StoredTensor; cases: { snr_db: number; output: StoredTensor }[] }>('augment_add_noise.json');
    for (const c of n.cases) expectClose(addNoise(x, Float32Array.from(n.noise.data), { snrDb: c.snr_db }), c.output.data, `add_noise ${c.snr_db}`);
    const conv = loadVector<{ kernel: StoredTensor; output: StoredTensor }>('augment_convolve.json');
    expectClose(fftConvolve(x, Float32Array.from(conv.kernel.data)), conv.output.data, 'convolve');
    const same = fftConvolve(x, Float32Array.from(conv.kernel.data), 'same-start');
    expect(same.length).toBe(x.length);
    expectClose(same, conv.output.data.slice(0, x.length), 'convolve same-start');
  });

  it('G.711 A-law and mu-law round trips are bit-exact with audioop', () => {
    const v = loadVector<{ cases: { codec: 'a-law' | 'mu-law'; pcm16_out: number[] }[] }>('augment_g711.json');
    const full = input(1);
    for (const c of v.cases) {
      const y = codecRoundTrip(full, c.codec);
      const pcm = Array.from(y, (s) => Math.round(s * 32768));
      expect(pcm, c.codec).toEqual(c.pcm16_out);
    }
    expect(() => codecRoundTrip(Float32Array.of(0.5, 1.5), 'a-law')).toThrow(/outside \[-1, 1\]/);
  });
});

describe('properties', () => {
  const rng = createRng(5);
  const tone = Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000));

  it('the measured SNR equals the requested one, for white, pink and babble noise', () => {
    const babbleClips = [tone.subarray(0, 5000), Float32Array.from(tone, (v, i) => v * Math.cos(i / 300))];
    for (const noise of [whiteNoise(tone.length, rng), pinkNoise(tone.length, rng), babbleNoise(babbleClips, tone.length, rng)]) {
      for (const snr of [20, 5, 0, -5]) {
        const y = addNoise(tone, noise, { snrDb: snr });
        let es = 0;
        let en = 0;
        for (let i = 0; i < y.length; i++) { es += (tone[i] as number) ** 2; en += ((y[i] as number) - (tone[i] as number)) ** 2; }
        expect(10 * Math.log10(es / en)).toBeCloseTo(snr, 3);
      }
    }
    expect(() => addNoise(tone, whiteNoise(10, rng), { snrDb: 10 })).toThrow(ConfigError);
    expect(() => addNoise(new Float32Array(100), whiteNoise(100, rng), { snrDb: 10 })).toThrow(InvalidInputError);
  });

  it('pink noise falls about 3 dB per octave; white noise is flat', () => {
    const n = 1 << 16;
    const nFft = 4096;
    /** Welch estimate: power per bin averaged over frames. */
    const spectrum = (x: Float32Array): Float64Array => {
      const s = spectrogram(x, { nFft, hopLength: nFft / 2, center: false });
      const p = new Float64Array(s.bins);
      for (let t = 0; t < s.frames; t++) for (let k = 0; k < s.bins; k++) p[k] = (p[k] as number) + (s.data[t * s.bins + k] as number);
      return p;
    };
    const bandDb = (x: Float32Array, lo: number, hi: number): number => {
      const p = spectrum(x);
      let s = 0;
      for (let k = lo; k < hi; k++) s += p[k] as number;
      return 10 * Math.log10(s / (hi - lo));
    };
    const pink = pinkNoise(n, createRng(1));
    const white = whiteNoise(n, createRng(2));
    // mean power per bin in octave bands 500-1000, 1000-2000, 2000-4000 Hz at 16 kHz (bin = 16000 / nFft Hz)
    const bins = (hz: number): number => Math.round((hz * nFft) / 16000);
    const p1 = bandDb(pink, bins(500), bins(1000)), p2 = bandDb(pink, bins(1000), bins(2000)), p3 = bandDb(pink, bins(2000), bins(4000));
    expect(p1 - p2).toBeGreaterThan(2.2);
    expect(p1 - p2).toBeLessThan(3.8);
    expect(p2 - p3).toBeGreaterThan(2.2);
    expect(p2 - p3).toBeLessThan(3.8);
    const w1 = bandDb(white, bins(500), bins(1000)), w3 = bandDb(white, bins(2000), bins(4000));
    expect(Math.abs(w1 - w3)).toBeLessThan(0.5);
  });

  it('the room response decays by 60 dB in RT60 (Schroeder integration) and has the requested direct-to-reverberant ratio', () => {
    for (const rt60 of [0.2, 0.5, 1.0]) {
      const h = roomImpulseResponse({ sampleRateHz: 16000, rt60Seconds: rt60, directToReverberantDb: 6, earlyReflections: 0, lengthSeconds: rt60 * 1.5 }, createRng(rt60 * 10));
      expect(h[0]).toBe(1);
      let tail = 0;
      for (let i = 1; i < h.length; i++) tail += (h[i] as number) ** 2;
      expect(10 * Math.log10(1 / tail)).toBeCloseTo(6, 5);
      // Schroeder backward integral of the tail; fit the -5..-25 dB range (T20) and extrapolate to 60 dB.
      const edc = new Float64Array(h.length);
      let acc = 0;
      for (let i = h.length - 1; i >= 1; i--) { acc += (h[i] as number) ** 2; edc[i] = acc; }
      const db = (i: number): number => 10 * Math.log10((edc[i] as number) / (edc[1] as number));
      let i5 = 1;
      while (db(i5) > -5) i5++;
      let i25 = i5;
      while (db(i25) > -25) i25++;
      const measured = (3 * (i25 - i5)) / 16000;
      expect(Math.abs(measured - rt60) / rt60, `rt60 ${rt60}: measured ${measured}`).toBeLessThan(0.1);
    }
    expect(() => roomImpulseResponse({ sampleRateHz: 16000, rt60Seconds: 10 }, rng)).toThrow(ConfigError);
  });

  it('the telephone band removes energy below 300 Hz and above 3400 Hz', () => {
    const sine = (hz: number): Float32Array => Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / 16000));
    const rms = (x: Float32Array): number => Math.sqrt(x.subarray(2000, 14000).reduce((s, v) => s + v * v, 0) / 12000);
    const pass = rms(telephoneBand(sine(1000), { sampleRateHz: 16000 })) / rms(sine(1000));
    expect(pass).toBeGreaterThan(0.9);
    expect(rms(telephoneBand(sine(100), { sampleRateHz: 16000 })) / rms(sine(100))).toBeLessThan(0.15);
    expect(rms(telephoneBand(sine(6000), { sampleRateHz: 16000 })) / rms(sine(6000))).toBeLessThan(0.01);
  });

  it('augmentChain: reproducible from the seed, different across draws, every stage reachable, steps recorded', () => {
    const clips = [tone.subarray(0, 4000)];
    const a = augmentChain(tone, { sampleRateHz: 16000, noiseClips: clips }, createRng(9));
    const b = augmentChain(tone, { sampleRateHz: 16000, noiseClips: clips }, createRng(9));
    expect(Array.from(a.samples)).toEqual(Array.from(b.samples));
    expect(a.steps).toEqual(b.steps);
    const seen = new Set<string>();
    const r = createRng(10);
    const outputs = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const out = augmentChain(tone, { sampleRateHz: 16000, noiseClips: clips }, r);
      out.steps.forEach((s) => seen.add(s.op === 'noise' ? `noise:${s.params.type as string}` : s.op));
      outputs.add(`${out.samples.length}:${out.samples[100]}`);
      expect(out.samples.every(Number.isFinite)).toBe(true);
    }
    expect([...seen].sort()).toEqual(['codec', 'gain', 'noise:babble', 'noise:pink', 'noise:white', 'reverb', 'speed', 'telephone']);
    expect(outputs.size).toBeGreaterThan(35);
    const off = augmentChain(tone, { sampleRateHz: 16000, speed: null, reverb: null, noise: null, telephone: null, gain: null }, r);
    expect(off.steps).toEqual([]);
    expect(Array.from(off.samples)).toEqual(Array.from(tone));
    expect(() => augmentChain(tone, { sampleRateHz: 16000, noise: { types: ['babble'] } }, r)).toThrow(/noiseClips/);
    expect(() => augmentChain(tone, { sampleRateHz: 16000, speed: { factor: [1.2, 0.8] } }, r)).toThrow(ConfigError);
    expect(() => augmentChain(tone, { sampleRateHz: 16000 }, undefined as never)).toThrow(/Rng/);
  });
});
