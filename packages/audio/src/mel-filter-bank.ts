import { melBank } from './internal/mel-bank.js';
import { resolveMel } from './internal/options.js';
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

/**
 * Triangular mel filters over STFT bins, as torchaudio.functional.melscale_fbanks.
 * @returns `[nFreqs, nMels]`; column m is filter m.
 */
export function melFilterBank(options: MelFilterBankOptions): MelFilterBank {
  const p = resolveMel(options, options.nFreqs);
  const { dense } = melBank(p);
  return { data: Float32Array.from(dense), nFreqs: p.nFreqs, nMels: p.nMels };
}
