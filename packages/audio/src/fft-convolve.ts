import { ConfigError } from '@mmfuse/core/base';
import { checkSamples } from './internal/check.js';
import { ComplexFft } from './internal/fft.js';
import type { Samples } from './types.js';

const plans = new Map<number, ComplexFft>();

function plan(n: number): ComplexFft {
  let p = plans.get(n);
  if (p === undefined) {
    p = new ComplexFft(n);
    plans.set(n, p);
  }
  return p;
}

/**
 * Linear convolution through the FFT (O(n log n)), e.g. speech with a room impulse response.
 * Both real signals go through one complex FFT (`z = a + i b`); the product of their spectra comes back
 * through the conjugate trick `ifft(X) = conj(fft(conj(X))) / N`. Float64 throughout.
 * @param signal `[n]`, `kernel` `[k]` (both non-empty).
 * @param mode `full` (default): `[n + k - 1]`, as numpy/scipy `convolve(mode='full')`;
 *   `same-start`: the first `n` samples of the full result (the signal's own duration, causal kernel).
 */
export function fftConvolve(signal: Samples, kernel: Samples, mode: 'full' | 'same-start' = 'full'): Float32Array {
  checkSamples(signal, 'signal');
  checkSamples(kernel, 'kernel');
  if (signal.length === 0 || kernel.length === 0) throw new ConfigError('signal and kernel must be non-empty', { path: signal.length === 0 ? 'signal' : 'kernel' });
  if (mode !== 'full' && mode !== 'same-start') throw new ConfigError(`must be "full" or "same-start", got ${JSON.stringify(mode)}`, { path: 'mode' });
  const outLen = signal.length + kernel.length - 1;
  let n = 1;
  while (n < outLen) n *= 2;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  re.set(signal);
  im.set(kernel);
  const fft = plan(n);
  fft.transform(re, im); // Z = A + iB
  // A[k] = (Z[k] + conj(Z[-k])) / 2, B[k] = (Z[k] - conj(Z[-k])) / (2i); C = A B, conjugated for the inverse.
  const cr = new Float64Array(n);
  const ci = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const j = (n - k) % n;
    const zr = re[k] as number, zi = im[k] as number, wr = re[j] as number, wi = -(im[j] as number);
    const ar = 0.5 * (zr + wr), ai = 0.5 * (zi + wi);
    const br = 0.5 * (zi - wi), bi = -0.5 * (zr - wr);
    cr[k] = ar * br - ai * bi;
    ci[k] = -(ar * bi + ai * br);
  }
  fft.transform(cr, ci);
  const len = mode === 'full' ? outLen : signal.length;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = (cr[i] as number) / n;
  return out;
}
