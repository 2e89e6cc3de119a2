import { ConfigError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';
import { addNoise } from './add-noise.js';
import { babbleNoise } from './babble-noise.js';
import { codecRoundTrip } from './codec-round-trip.js';
import { fftConvolve } from './fft-convolve.js';
import { gain } from './gain.js';
import { checkSamples } from './internal/check.js';
import { checkInteger, checkNumber } from '@mmfuse/core/base';
import { checkRng } from './internal/check-rng.js';
import { pinkNoise } from './pink-noise.js';
import { roomImpulseResponse } from './room-impulse-response.js';
import { speedPerturb } from './speed-perturb.js';
import { telephoneBand } from './telephone-band.js';
import type { Samples } from './types.js';
import { whiteNoise } from './white-noise.js';

/** A closed range [min, max] drawn uniformly. */
export type Range = readonly [number, number];

/** The kinds of additive noise. */
export type NoiseType = 'white' | 'pink' | 'babble';

/** Options of `augmentChain`; each stage is on with its probability, `null` turns it off. */
export interface AugmentChainOptions {
  /** Rate of the signal, Hz. */
  sampleRateHz: number;
  /** Speed perturbation. Default `{ probability: 0.5, factor: [0.9, 1.1] }`. */
  speed?: { probability?: number; factor?: Range } | null;
  /** Reverberation with a synthetic room response. Default `{ probability: 0.3, rt60Seconds: [0.15, 0.8], directToReverberantDb: [0, 12] }`. */
  reverb?: { probability?: number; rt60Seconds?: Range; directToReverberantDb?: Range } | null;
  /** Additive noise. Default `{ probability: 0.6, snrDb: [0, 25], types: white, pink, and babble when noiseClips are given }`. */
  noise?: { probability?: number; snrDb?: Range; types?: readonly NoiseType[] } | null;
  /** Telephone band, then (with `codecProbability`) a mu-law or A-law codec. Default `{ probability: 0.3, codecProbability: 0.5 }`. */
  telephone?: { probability?: number; codecProbability?: number } | null;
  /** Gain. Default `{ probability: 1, gainDb: [-10, 6] }`. */
  gain?: { probability?: number; gainDb?: Range } | null;
  /** Speech clips (same rate) that babble noise is made of. Default none (no babble). */
  noiseClips?: readonly Samples[];
}

/** One stage that was applied, with the values drawn. */
export interface AugmentStep {
  op: 'speed' | 'reverb' | 'noise' | 'telephone' | 'codec' | 'gain';
  params: Record<string, number | string>;
}

function prob(value: unknown, name: string): number {
  return checkNumber(value, name, 0, 1);
}

function range(value: Range | undefined, fallback: Range, name: string, min: number, max: number): Range {
  const r = value ?? fallback;
  if (!Array.isArray(r) || r.length !== 2) throw new ConfigError(`must be [min, max], got ${JSON.stringify(r)}`, { path: name });
  const lo = checkNumber(r[0], `${name}[0]`, min, max);
  const hi = checkNumber(r[1], `${name}[1]`, min, max);
  if (hi < lo) throw new ConfigError(`max ${hi} is below min ${lo}`, { path: name });
  return [lo, hi];
}

function draw(rng: Rng, r: Range): number {
  return r[0] === r[1] ? r[0] : rng.uniform(r[0], r[1]);
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * A random channel/room for one clip: speed -> reverberation -> noise -> telephone band (+ codec) -> gain,
 * each stage on with its probability and its values drawn from `rng`. Call it per clip and per epoch
 * with a stream forked for the purpose, so one seed reproduces every epoch's audio. The result is not
 * clipped (a float signal); before a codec a signal whose peak passes full scale is scaled to peak 0.99.
 * @param samples `[numSamples]`.
 * @returns the new signal (its length changes with speed perturbation) and the stages applied.
 */
export function augmentChain(samples: Samples, options: AugmentChainOptions, rng: Rng): { samples: Float32Array; steps: AugmentStep[] } {
  checkSamples(samples);
  checkRng(rng);
  if (options === null || typeof options !== 'object') throw new ConfigError('options { sampleRateHz, ... } are required', { path: 'options' });
  const rate = checkInteger(options.sampleRateHz, 'sampleRateHz', 1000);
  const clips = options.noiseClips ?? [];
  const steps: AugmentStep[] = [];
  let x: Float32Array = Float32Array.from(samples);

  if (options.speed !== null) {
    const o = options.speed ?? {};
    const factor = range(o.factor, [0.9, 1.1], 'speed.factor', 0.5, 2);
    if (rng.bernoulli(prob(o.probability ?? 0.5, 'speed.probability'))) {
      const f = round3(draw(rng, factor));
      if (f !== 1) {
        x = speedPerturb(x, { sampleRateHz: rate, factor: f });
        steps.push({ op: 'speed', params: { factor: f } });
      }
    }
  }
  if (options.reverb !== null) {
    const o = options.reverb ?? {};
    const rt = range(o.rt60Seconds, [0.15, 0.8], 'reverb.rt60Seconds', 0.05, 3);
    const drr = range(o.directToReverberantDb, [0, 12], 'reverb.directToReverberantDb', -20, 40);
    if (rng.bernoulli(prob(o.probability ?? 0.3, 'reverb.probability'))) {
      const rt60Seconds = round3(draw(rng, rt));
      const directToReverberantDb = round3(draw(rng, drr));
      const rir = roomImpulseResponse({ sampleRateHz: rate, rt60Seconds, directToReverberantDb }, rng);
      let before = 0;
      for (const v of x) before += v * v;
      const y = fftConvolve(x, rir, 'same-start');
      let after = 0;
      for (const v of y) after += v * v;
      // Keep the clip's energy: reverberation should change the room, not the level.
      const g = after > 0 ? Math.sqrt(before / after) : 1;
      for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) * g;
      x = y;
      steps.push({ op: 'reverb', params: { rt60Seconds, directToReverberantDb } });
    }
  }
  if (options.noise !== null) {
    const o = options.noise ?? {};
    const snr = range(o.snrDb, [0, 25], 'noise.snrDb', -20, 100);
    const types = o.types ?? (clips.length > 0 ? ['white', 'pink', 'babble'] : ['white', 'pink']);
    if (!Array.isArray(types) || types.length === 0 || types.some((t) => t !== 'white' && t !== 'pink' && t !== 'babble')) {
      throw new ConfigError(`must list white, pink and/or babble, got ${JSON.stringify(types)}`, { path: 'noise.types' });
    }
    if (types.includes('babble') && clips.length === 0) throw new ConfigError('babble noise needs noiseClips (other speech clips)', { path: 'noise.types' });
    let energy = 0;
    for (const v of x) energy += v * v;
    if (rng.bernoulli(prob(o.probability ?? 0.6, 'noise.probability')) && energy > 0) {
      const type = types[rng.int(types.length)] as NoiseType;
      const snrDb = round3(draw(rng, snr));
      const noise = type === 'white' ? whiteNoise(x.length, rng) : type === 'pink' ? pinkNoise(x.length, rng) : babbleNoise(clips, x.length, rng);
      x = addNoise(x, noise, { snrDb });
      steps.push({ op: 'noise', params: { type, snrDb } });
    }
  }
  if (options.telephone !== null) {
    const o = options.telephone ?? {};
    const pCodec = prob(o.codecProbability ?? 0.5, 'telephone.codecProbability');
    if (rng.bernoulli(prob(o.probability ?? 0.3, 'telephone.probability')) && rate > 6800) {
      x = telephoneBand(x, { sampleRateHz: rate });
      steps.push({ op: 'telephone', params: { lowHz: 300, highHz: 3400 } });
      if (rng.bernoulli(pCodec)) {
        const codec = rng.bernoulli(0.5) ? 'mu-law' : 'a-law';
        let peak = 0;
        for (const v of x) peak = Math.max(peak, Math.abs(v));
        if (peak > 1) for (let i = 0; i < x.length; i++) x[i] = ((x[i] as number) * 0.99) / peak;
        x = codecRoundTrip(x, codec);
        steps.push({ op: 'codec', params: { codec } });
      }
    }
  }
  if (options.gain !== null) {
    const o = options.gain ?? {};
    const g = range(o.gainDb, [-10, 6], 'gain.gainDb', -100, 100);
    if (rng.bernoulli(prob(o.probability ?? 1, 'gain.probability'))) {
      const gainDb = round3(draw(rng, g));
      x = gain(x, gainDb);
      steps.push({ op: 'gain', params: { gainDb } });
    }
  }
  return { samples: x, steps };
}
