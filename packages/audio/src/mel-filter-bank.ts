import { TableCache } from './internal/cache.js';
import { hzToMel, melToHz } from './internal/mel-scale.js';
import { resolveMel } from './internal/options.js';
import type { MelParams } from './internal/options.js';
import { SparseFilterbank } from './internal/sparse-filterbank.js';
import type { MelNorm, MelScale } from './types.js';

/** Options of `melFilterBank` (torchaudio.functional.melscale_fbanks in camelCase). */
export interface MelFilterBankOptions {
  /** Number of STFT bins, floor(nFft / 2) + 1. Required. */
  nFreqs: number;
  /** Sample rate of the audio in Hz. Required. */
  sampleRateHz: number;
  /** Number of mel filters. Default 128. */
  nMels?: number;
  /** Lowest filter edge in Hz. Default 0. */
  fMin?: number;
  /** Highest filter edge in Hz, <= sampleRateHz / 2. Default floor(sampleRateHz / 2). */
  fMax?: number;
  /** Mel formula. Default `htk`. */
  melScale?: MelScale;
  /** `slaney`: scale each filter by 2 / (its width in Hz) (constant area); null: peak 1. Default null. */
  norm?: MelNorm;
}

/** A dense mel filterbank. */
export interface MelFilterBank {
  /** `[nFreqs, nMels]` row-major: `data[f * nMels + m]` is the weight of bin f in filter m (torchaudio's layout). */
  data: Float32Array;
  nFreqs: number;
  nMels: number;
}

interface BuiltBank { dense: Float64Array; sparse: SparseFilterbank; byBin: ReturnType<SparseFilterbank['binMajor']> }

const banks = new TableCache<BuiltBank>();

/** The float64 filterbank and its sparse form, cached per parameter set. */
export function melBank(p: MelParams): BuiltBank {
  const key = `${p.nFreqs}|${p.sampleRateHz}|${p.nMels}|${p.fMin}|${p.fMax}|${p.melScale}|${p.norm}`;
  return banks.get(key, () => {
    const { nFreqs, nMels } = p;
    // torchaudio: all_freqs = linspace(0, sample_rate // 2, n_freqs) (integer division)
    const top = Math.floor(p.sampleRateHz / 2);
    const freqs = new Float64Array(nFreqs);
    for (let f = 0; f < nFreqs; f++) freqs[f] = (top * f) / (nFreqs - 1);
    const mMin = hzToMel(p.fMin, p.melScale);
    const mMax = hzToMel(p.fMax, p.melScale);
    const fPts = new Float64Array(nMels + 2);
    for (let i = 0; i < nMels + 2; i++) fPts[i] = melToHz(mMin + ((mMax - mMin) * i) / (nMels + 1), p.melScale);
    const dense = new Float64Array(nFreqs * nMels);
    for (let m = 0; m < nMels; m++) {
      const lo = fPts[m] as number, mid = fPts[m + 1] as number, hi = fPts[m + 2] as number;
      const enorm = p.norm === 'slaney' ? 2 / (hi - lo) : 1;
      for (let f = 0; f < nFreqs; f++) {
        const hz = freqs[f] as number;
        const down = (hz - lo) / (mid - lo);
        const up = (hi - hz) / (hi - mid);
        const w = Math.max(0, Math.min(down, up));
        dense[f * nMels + m] = w * enorm;
      }
    }
    const sparse = new SparseFilterbank(dense, nFreqs, nMels);
    return { dense, sparse, byBin: sparse.binMajor() };
  });
}

/**
 * Triangular mel filters over STFT bins, as torchaudio.functional.melscale_fbanks.
 * @returns `[nFreqs, nMels]`; column m is filter m.
 */
export function melFilterBank(options: MelFilterBankOptions): MelFilterBank {
  const p = resolveMel(options, options.nFreqs);
  const { dense } = melBank(p);
  return { data: Float32Array.from(dense), nFreqs: p.nFreqs, nMels: p.nMels };
}
