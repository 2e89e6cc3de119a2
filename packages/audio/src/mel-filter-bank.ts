import { melBank } from './internal/mel-bank.js';
import { resolveMel } from './internal/options.js';
import type { MelFilterBankOptions } from './types.js';

export type { MelFilterBankOptions } from './types.js';

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
