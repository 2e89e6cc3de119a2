/**
 * A biquad section run as a direct-form I difference equation in float64, coefficients normalized by a0,
 * as torchaudio.functional.biquad (whose lfilter also clamps the output to [-1, 1]; mmfuse never clamps).
 */
export function runBiquad(x: ArrayLike<number>, b0: number, b1: number, b2: number, a0: number, a1: number, a2: number): Float32Array {
  const nb0 = b0 / a0, nb1 = b1 / a0, nb2 = b2 / a0, na1 = a1 / a0, na2 = a2 / a0;
  const out = new Float32Array(x.length);
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    const y = nb0 * xi + nb1 * x1 + nb2 * x2 - na1 * y1 - na2 * y2;
    out[i] = y;
    x2 = x1; x1 = xi; y2 = y1; y1 = y;
  }
  return out;
}

/** RBJ cookbook terms shared by the low- and high-pass designs. */
export function rbj(sampleRateHz: number, cutoffHz: number, q: number): { cos: number; alpha: number } {
  const w0 = (2 * Math.PI * cutoffHz) / sampleRateHz;
  return { cos: Math.cos(w0), alpha: Math.sin(w0) / 2 / q };
}
