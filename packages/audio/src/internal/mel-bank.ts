/** torchaudio's melscale_fbanks in float64, with its sparse and bin-major forms, cached per parameter set. */
import { TableCache } from './cache.js';
import { hzToMel, melToHz } from './mel-scale.js';
import type { MelParams } from './options.js';
import { SparseFilterbank } from './sparse-filterbank.js';

export interface BuiltBank { dense: Float64Array; sparse: SparseFilterbank; byBin: ReturnType<SparseFilterbank['binMajor']> }

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

