import { dbInPlace } from './amplitude-to-db.js';
import { TableCache } from './internal/cache.js';
import { checkBoolean, checkInteger, checkSamples } from './internal/check.js';
import { resolveMelSpectrogram } from './internal/options.js';
import { stftPlan } from './internal/stft.js';
import { ConfigError } from '@mmfuse/core';
import { melBank } from './mel-filter-bank.js';
import type { MelSpectrogramOptions } from './mel-spectrogram.js';
import type { FeatureMatrix, Samples } from './types.js';

/** Options of `mfcc` (torchaudio.transforms.MFCC with its `melkwargs` flattened in). */
export interface MfccOptions extends MelSpectrogramOptions {
  /** Number of coefficients kept, <= nMels. Default 40. */
  nMfcc?: number;
  /** Use ln(mel + 1e-6) instead of decibels (torchaudio `log_mels`). Default false. */
  logMels?: boolean;
}

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

/**
 * Mel-frequency cepstral coefficients, as torchaudio.transforms.MFCC (dct_type 2, norm "ortho"): the mel
 * spectrogram in dB floored at its maximum - 80 dB (always, as the reference does), then DCT-II.
 * @returns `[frames, nMfcc]` frame by frame.
 */
export function mfcc(samples: Samples, options: MfccOptions): FeatureMatrix {
  const { stft, mel } = resolveMelSpectrogram(options);
  const nMfcc = checkInteger(options.nMfcc ?? 40, 'nMfcc', 1);
  if (nMfcc > mel.nMels) throw new ConfigError(`must be <= nMels (${mel.nMels}), got ${nMfcc}`, { path: 'nMfcc' });
  const logMels = checkBoolean(options.logMels ?? false, 'logMels');
  checkSamples(samples);
  const plan = stftPlan(stft);
  const bank = melBank(mel).sparse;
  const frames = plan.frameCount(samples.length);
  const nMels = mel.nMels;
  const spec = new Float64Array(plan.bins);
  const melData = new Float64Array(frames * nMels);
  for (let t = 0; t < frames; t++) {
    plan.powerFrame(samples, t, spec);
    bank.apply(spec, 0, melData, t * nMels);
  }
  if (logMels) for (let i = 0; i < melData.length; i++) melData[i] = Math.log((melData[i] as number) + 1e-6);
  else dbInPlace(melData, melData, 10, 1e-10, 1, 80);
  return { data: cepstra(melData, frames, nMels, nMfcc), frames, bins: nMfcc };
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
