/** The orthonormal DCT-II of torchaudio's MFCC, cached per size. */
import { TableCache } from './cache.js';

const dcts = new TableCache<Float64Array>();

/** Orthonormal DCT-II matrix `[nMels, nMfcc]`: cos(pi/nMels (m + 0.5) k) sqrt(2/nMels), column 0 times 1/sqrt(2). */
export function dctMatrix(nMfcc: number, nMels: number): Float64Array {
  return dcts.get(`${nMfcc}|${nMels}`, () => {
    const d = new Float64Array(nMels * nMfcc);
    for (let m = 0; m < nMels; m++) {
      for (let k = 0; k < nMfcc; k++) {
        let v = Math.cos((Math.PI / nMels) * (m + 0.5) * k) * Math.sqrt(2 / nMels);
        if (k === 0) v *= Math.SQRT1_2;
        d[m * nMfcc + k] = v;
      }
    }
    return d;
  });
}

/** out[t, k] = sum_m mel[t, m] * dct[m, k]. */
export function cepstra(melData: Float64Array | Float32Array, frames: number, nMels: number, nMfcc: number): Float32Array {
  const dct = dctMatrix(nMfcc, nMels);
  const out = new Float32Array(frames * nMfcc);
  const acc = new Float64Array(nMfcc);
  for (let t = 0; t < frames; t++) {
    acc.fill(0);
    for (let m = 0; m < nMels; m++) {
      const v = melData[t * nMels + m] as number;
      const row = m * nMfcc;
      for (let k = 0; k < nMfcc; k++) acc[k] = (acc[k] as number) + v * (dct[row + k] as number);
    }
    out.set(acc, t * nMfcc);
  }
  return out;
}
