/** Window functions in float64. */

/** Periodic Hann window of `length` (torch.hann_window(length, periodic=True)). */
export function periodicHann(length: number): Float64Array {
  const w = new Float64Array(length);
  for (let n = 0; n < length; n++) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / length);
  return w;
}

/** Kaldi's window types (torchaudio.compliance.kaldi `window_type`). */
export type KaldiWindowType = 'povey' | 'hanning' | 'hamming' | 'rectangular' | 'blackman';

/** Symmetric Kaldi windows of `length`. */
export function kaldiWindow(type: KaldiWindowType, length: number, blackmanCoeff: number): Float64Array {
  const w = new Float64Array(length);
  const denom = length - 1;
  for (let n = 0; n < length; n++) {
    // torch's symmetric windows of length 1 are [1].
    const a = denom > 0 ? (2 * Math.PI * n) / denom : 0;
    const hann = denom > 0 ? 0.5 - 0.5 * Math.cos(a) : 1;
    switch (type) {
      case 'hanning': w[n] = hann; break;
      case 'povey': w[n] = Math.pow(hann, 0.85); break;
      case 'hamming': w[n] = denom > 0 ? 0.54 - 0.46 * Math.cos(a) : 1; break;
      case 'rectangular': w[n] = 1; break;
      case 'blackman': w[n] = blackmanCoeff - 0.5 * Math.cos(a) + (0.5 - blackmanCoeff) * Math.cos(2 * a); break;
    }
  }
  return w;
}
