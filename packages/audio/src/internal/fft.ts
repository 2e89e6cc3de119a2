/**
 * Fast Fourier transforms over Float64Array, planned once per size and cached.
 *
 * `ComplexFft` is an iterative mixed-radix decimation-in-time FFT (radix 4, 2, 3, 5 butterflies written
 * out, any other small prime by a generic butterfly); sizes with a prime factor above 31 go through
 * Bluestein's chirp-z algorithm on a power-of-two FFT so every size is O(n log n).
 * `RealFft` transforms a real signal of even length n with one complex FFT of length n/2.
 */
import { ConfigError } from '@mmfuse/core/base';

const GENERIC_PRIME_LIMIT = 31;

function factorize(n: number): number[] {
  const fours: number[] = [];
  const rest: number[] = [];
  let m = n;
  while (m % 4 === 0) { fours.push(4); m /= 4; }
  if (m % 2 === 0) { rest.push(2); m /= 2; }
  for (let p = 3; p * p <= m; p += 2) {
    while (m % p === 0) { rest.push(p); m /= p; }
  }
  if (m > 1) rest.push(m);
  // Larger radices first: their first stage (span 1) has unit twiddles, which saves the most work.
  rest.sort((a, b) => b - a);
  return [...rest, ...fours];
}

interface Stage {
  radix: number;
  /** Length of the sub-transforms this stage combines. */
  span: number;
  /** Twiddles w^(q k), k = 0..span-1, q = 1..radix-1: [k][q-1] as (cos, sin) pairs, sin of the forward (negative) angle. */
  twiddle: Float64Array;
}

export class ComplexFft {
  readonly size: number;
  /** buffer[perm[i]] = input[i] before the stages run (digit reversal for the mixed radices). */
  readonly perm: Int32Array;
  private readonly stages: Stage[];
  private readonly bluestein: Bluestein | undefined;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new ConfigError(`FFT size must be a positive integer, got ${size}`, { path: 'nFft' });
    this.size = size;
    this.scratchRe = new Float64Array(size);
    this.scratchIm = new Float64Array(size);
    const factors = factorize(size);
    if (factors.some((f) => f > GENERIC_PRIME_LIMIT)) {
      this.bluestein = new Bluestein(size);
      this.perm = new Int32Array(0);
      this.stages = [];
      return;
    }
    this.bluestein = undefined;
    this.perm = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      let n = i;
      let stride = size;
      let pos = 0;
      for (let s = factors.length - 1; s >= 0; s--) {
        const r = factors[s] as number;
        stride /= r;
        pos += (n % r) * stride;
        n = Math.floor(n / r);
      }
      this.perm[i] = pos;
    }
    this.stages = [];
    let span = 1;
    for (const radix of factors) {
      const twiddle = new Float64Array(span * (radix - 1) * 2);
      const full = span * radix;
      for (let k = 0; k < span; k++) {
        for (let q = 1; q < radix; q++) {
          const angle = (-2 * Math.PI * q * k) / full;
          const at = (k * (radix - 1) + (q - 1)) * 2;
          twiddle[at] = Math.cos(angle);
          twiddle[at + 1] = Math.sin(angle);
        }
      }
      this.stages.push({ radix, span, twiddle });
      span = full;
    }
  }

  /** The radices of the stages, in the order they run (empty for Bluestein sizes). */
  get factors(): number[] {
    return this.stages.map((st) => st.radix);
  }

  /** True when `perm` + `runStages` can be used directly (no Bluestein). */
  get direct(): boolean {
    return this.bluestein === undefined;
  }

  /** Forward DFT in place: X[k] = sum_n x[n] exp(-2 pi i k n / size). */
  transform(re: Float64Array, im: Float64Array): void {
    if (this.bluestein !== undefined) {
      this.bluestein.transform(re, im);
      return;
    }
    const sr = this.scratchRe;
    const si = this.scratchIm;
    const perm = this.perm;
    for (let i = 0; i < this.size; i++) {
      const p = perm[i] as number;
      sr[p] = re[i] as number;
      si[p] = im[i] as number;
    }
    this.runStages(sr, si);
    re.set(sr);
    im.set(si);
  }

  /** Run the butterflies on a buffer already in `perm` order; the result is in natural order. */
  runStages(re: Float64Array, im: Float64Array): void {
    const n = this.size;
    for (const stage of this.stages) {
      const { radix, span, twiddle } = stage;
      if (radix === 4) radix4(re, im, n, span, twiddle);
      else if (radix === 2) radix2(re, im, n, span, twiddle);
      else if (radix === 3) radix3(re, im, n, span, twiddle);
      else if (radix === 5) radix5(re, im, n, span, twiddle);
      else radixGeneric(re, im, n, span, radix, twiddle);
    }
  }
}

function radix2(re: Float64Array, im: Float64Array, n: number, span: number, tw: Float64Array): void {
  const step = span * 2;
  for (let k = 0; k < span; k++) {
    const wr = tw[2 * k] as number;
    const wi = tw[2 * k + 1] as number;
    for (let i0 = k; i0 < n; i0 += step) {
      const i1 = i0 + span;
      const ar = re[i1] as number;
      const ai = im[i1] as number;
      const tr = ar * wr - ai * wi;
      const ti = ar * wi + ai * wr;
      const br = re[i0] as number;
      const bi = im[i0] as number;
      re[i0] = br + tr; im[i0] = bi + ti;
      re[i1] = br - tr; im[i1] = bi - ti;
    }
  }
}

function radix4(re: Float64Array, im: Float64Array, n: number, span: number, tw: Float64Array): void {
  const step = span * 4;
  for (let k = 0; k < span; k++) {
    const t = 6 * k;
    const w1r = tw[t] as number, w1i = tw[t + 1] as number;
    const w2r = tw[t + 2] as number, w2i = tw[t + 3] as number;
    const w3r = tw[t + 4] as number, w3i = tw[t + 5] as number;
    for (let i0 = k; i0 < n; i0 += step) {
      const i1 = i0 + span;
      const i2 = i1 + span;
      const i3 = i2 + span;
      const a0r = re[i0] as number, a0i = im[i0] as number;
      let xr = re[i1] as number, xi = im[i1] as number;
      const a1r = xr * w1r - xi * w1i, a1i = xr * w1i + xi * w1r;
      xr = re[i2] as number; xi = im[i2] as number;
      const a2r = xr * w2r - xi * w2i, a2i = xr * w2i + xi * w2r;
      xr = re[i3] as number; xi = im[i3] as number;
      const a3r = xr * w3r - xi * w3i, a3i = xr * w3i + xi * w3r;
      const t0r = a0r + a2r, t0i = a0i + a2i;
      const t1r = a0r - a2r, t1i = a0i - a2i;
      const t2r = a1r + a3r, t2i = a1i + a3i;
      // (a1 - a3) * (-i)
      const t3r = a1i - a3i, t3i = a3r - a1r;
      re[i0] = t0r + t2r; im[i0] = t0i + t2i;
      re[i2] = t0r - t2r; im[i2] = t0i - t2i;
      re[i1] = t1r + t3r; im[i1] = t1i + t3i;
      re[i3] = t1r - t3r; im[i3] = t1i - t3i;
    }
  }
}

const SIN60 = Math.sqrt(3) / 2;

function radix3(re: Float64Array, im: Float64Array, n: number, span: number, tw: Float64Array): void {
  const step = span * 3;
  for (let k = 0; k < span; k++) {
    const t = 4 * k;
    const w1r = tw[t] as number, w1i = tw[t + 1] as number;
    const w2r = tw[t + 2] as number, w2i = tw[t + 3] as number;
    for (let i0 = k; i0 < n; i0 += step) {
      const i1 = i0 + span;
      const i2 = i1 + span;
      const a0r = re[i0] as number, a0i = im[i0] as number;
      let xr = re[i1] as number, xi = im[i1] as number;
      const a1r = xr * w1r - xi * w1i, a1i = xr * w1i + xi * w1r;
      xr = re[i2] as number; xi = im[i2] as number;
      const a2r = xr * w2r - xi * w2i, a2i = xr * w2i + xi * w2r;
      const sr = a1r + a2r, si = a1i + a2i;
      const dr = a1r - a2r, di = a1i - a2i;
      const mr = a0r - 0.5 * sr, mi = a0i - 0.5 * si;
      // -i * sin60 * d
      const er = SIN60 * di, ei = -SIN60 * dr;
      re[i0] = a0r + sr; im[i0] = a0i + si;
      re[i1] = mr + er; im[i1] = mi + ei;
      re[i2] = mr - er; im[i2] = mi - ei;
    }
  }
}

const C1 = Math.cos((2 * Math.PI) / 5);
const C2 = Math.cos((4 * Math.PI) / 5);
const S1 = Math.sin((2 * Math.PI) / 5);
const S2 = Math.sin((4 * Math.PI) / 5);

function radix5(re: Float64Array, im: Float64Array, n: number, span: number, tw: Float64Array): void {
  const step = span * 5;
  for (let k = 0; k < span; k++) {
    const t = 8 * k;
    const w1r = tw[t] as number, w1i = tw[t + 1] as number;
    const w2r = tw[t + 2] as number, w2i = tw[t + 3] as number;
    const w3r = tw[t + 4] as number, w3i = tw[t + 5] as number;
    const w4r = tw[t + 6] as number, w4i = tw[t + 7] as number;
    for (let i0 = k; i0 < n; i0 += step) {
      const i1 = i0 + span;
      const i2 = i1 + span;
      const i3 = i2 + span;
      const i4 = i3 + span;
      const a0r = re[i0] as number, a0i = im[i0] as number;
      let xr = re[i1] as number, xi = im[i1] as number;
      const a1r = xr * w1r - xi * w1i, a1i = xr * w1i + xi * w1r;
      xr = re[i2] as number; xi = im[i2] as number;
      const a2r = xr * w2r - xi * w2i, a2i = xr * w2i + xi * w2r;
      xr = re[i3] as number; xi = im[i3] as number;
      const a3r = xr * w3r - xi * w3i, a3i = xr * w3i + xi * w3r;
      xr = re[i4] as number; xi = im[i4] as number;
      const a4r = xr * w4r - xi * w4i, a4i = xr * w4i + xi * w4r;
      const b1r = a1r + a4r, b1i = a1i + a4i;
      const b2r = a2r + a3r, b2i = a2i + a3i;
      const d1r = a1r - a4r, d1i = a1i - a4i;
      const d2r = a2r - a3r, d2i = a2i - a3i;
      const m1r = a0r + C1 * b1r + C2 * b2r, m1i = a0i + C1 * b1i + C2 * b2i;
      const m2r = a0r + C2 * b1r + C1 * b2r, m2i = a0i + C2 * b1i + C1 * b2i;
      // -i * (S1 d1 + S2 d2) and -i * (S2 d1 - S1 d2)
      const e1r = S1 * d1i + S2 * d2i, e1i = -(S1 * d1r + S2 * d2r);
      const e2r = S2 * d1i - S1 * d2i, e2i = -(S2 * d1r - S1 * d2r);
      re[i0] = a0r + b1r + b2r; im[i0] = a0i + b1i + b2i;
      re[i1] = m1r + e1r; im[i1] = m1i + e1i;
      re[i4] = m1r - e1r; im[i4] = m1i - e1i;
      re[i2] = m2r + e2r; im[i2] = m2i + e2i;
      re[i3] = m2r - e2r; im[i3] = m2i - e2i;
    }
  }
}

const genericTables = new Map<number, Float64Array>();

function radixGeneric(re: Float64Array, im: Float64Array, n: number, span: number, radix: number, tw: Float64Array): void {
  let table = genericTables.get(radix);
  if (table === undefined) {
    table = new Float64Array(radix * 2);
    for (let j = 0; j < radix; j++) {
      table[2 * j] = Math.cos((-2 * Math.PI * j) / radix);
      table[2 * j + 1] = Math.sin((-2 * Math.PI * j) / radix);
    }
    genericTables.set(radix, table);
  }
  const ar = new Float64Array(radix);
  const ai = new Float64Array(radix);
  const step = span * radix;
  for (let g = 0; g < n; g += step) {
    for (let k = 0; k < span; k++) {
      for (let q = 0; q < radix; q++) {
        const idx = g + k + q * span;
        const xr = re[idx] as number;
        const xi = im[idx] as number;
        if (q === 0) { ar[0] = xr; ai[0] = xi; continue; }
        const t = (k * (radix - 1) + (q - 1)) * 2;
        const wr = tw[t] as number;
        const wi = tw[t + 1] as number;
        ar[q] = xr * wr - xi * wi;
        ai[q] = xr * wi + xi * wr;
      }
      for (let p = 0; p < radix; p++) {
        let sr = 0;
        let si = 0;
        for (let q = 0; q < radix; q++) {
          const j = ((p * q) % radix) * 2;
          const cr = table[j] as number;
          const ci = table[j + 1] as number;
          const xr = ar[q] as number;
          const xi = ai[q] as number;
          sr += xr * cr - xi * ci;
          si += xr * ci + xi * cr;
        }
        const idx = g + k + p * span;
        re[idx] = sr;
        im[idx] = si;
      }
    }
  }
}

/** Bluestein's algorithm: a DFT of any size as a circular convolution of power-of-two length. */
class Bluestein {
  private readonly n: number;
  private readonly fft: ComplexFft;
  private readonly chirpRe: Float64Array;
  private readonly chirpIm: Float64Array;
  private readonly kernelRe: Float64Array;
  private readonly kernelIm: Float64Array;
  private readonly bufRe: Float64Array;
  private readonly bufIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    this.fft = new ComplexFft(m);
    this.chirpRe = new Float64Array(n);
    this.chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small for large k.
      const angle = (-Math.PI * ((k * k) % (2 * n))) / n;
      this.chirpRe[k] = Math.cos(angle);
      this.chirpIm[k] = Math.sin(angle);
    }
    this.kernelRe = new Float64Array(m);
    this.kernelIm = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      const r = this.chirpRe[k] as number;
      const i = -(this.chirpIm[k] as number);
      this.kernelRe[k] = r;
      this.kernelIm[k] = i;
      if (k > 0) { this.kernelRe[m - k] = r; this.kernelIm[m - k] = i; }
    }
    this.fft.transform(this.kernelRe, this.kernelIm);
    this.bufRe = new Float64Array(m);
    this.bufIm = new Float64Array(m);
  }

  transform(re: Float64Array, im: Float64Array): void {
    const { n, bufRe, bufIm, chirpRe, chirpIm, kernelRe, kernelIm } = this;
    const m = bufRe.length;
    bufRe.fill(0);
    bufIm.fill(0);
    for (let k = 0; k < n; k++) {
      const xr = re[k] as number, xi = im[k] as number;
      const cr = chirpRe[k] as number, ci = chirpIm[k] as number;
      bufRe[k] = xr * cr - xi * ci;
      bufIm[k] = xr * ci + xi * cr;
    }
    this.fft.transform(bufRe, bufIm);
    for (let k = 0; k < m; k++) {
      const xr = bufRe[k] as number, xi = bufIm[k] as number;
      const kr = kernelRe[k] as number, ki = kernelIm[k] as number;
      // multiply, then conjugate so the forward FFT below acts as an inverse FFT
      bufRe[k] = xr * kr - xi * ki;
      bufIm[k] = -(xr * ki + xi * kr);
    }
    this.fft.transform(bufRe, bufIm);
    for (let k = 0; k < n; k++) {
      const xr = (bufRe[k] as number) / m, xi = -(bufIm[k] as number) / m;
      const cr = chirpRe[k] as number, ci = chirpIm[k] as number;
      re[k] = xr * cr - xi * ci;
      im[k] = xr * ci + xi * cr;
    }
  }
}

/**
 * DFT of a real signal of length n: bins 0..floor(n/2). Even n uses one complex FFT of n/2 points on
 * z[m] = x[2m] + i x[2m+1]; odd n uses a complex FFT of n points.
 */
export class RealFft {
  readonly size: number;
  readonly bins: number;
  private readonly half: ComplexFft | undefined;
  private readonly full: ComplexFft | undefined;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;
  private readonly cosT: Float64Array;
  private readonly sinT: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new ConfigError(`FFT size must be a positive integer, got ${size}`, { path: 'nFft' });
    this.size = size;
    this.bins = Math.floor(size / 2) + 1;
    if (size % 2 === 0) {
      const m = size / 2;
      this.half = new ComplexFft(m);
      this.full = undefined;
      this.zr = new Float64Array(m);
      this.zi = new Float64Array(m);
      this.cosT = new Float64Array(m + 1);
      this.sinT = new Float64Array(m + 1);
      for (let k = 0; k <= m; k++) {
        this.cosT[k] = Math.cos((2 * Math.PI * k) / size);
        this.sinT[k] = Math.sin((2 * Math.PI * k) / size);
      }
    } else {
      this.half = undefined;
      this.full = new ComplexFft(size);
      this.zr = new Float64Array(size);
      this.zi = new Float64Array(size);
      this.cosT = new Float64Array(0);
      this.sinT = new Float64Array(0);
    }
  }

  /**
   * Transform `x` (length `size`, read from `offset`) into `outRe`/`outIm` (length `bins`).
   */
  forward(x: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    if (this.full !== undefined) {
      this.zr.set(x.subarray(0, this.size));
      this.zi.fill(0);
      this.full.transform(this.zr, this.zi);
      outRe.set(this.zr.subarray(0, this.bins));
      outIm.set(this.zi.subarray(0, this.bins));
      return;
    }
    const fft = this.half as ComplexFft;
    const m = fft.size;
    const zr = this.zr;
    const zi = this.zi;
    if (fft.direct) {
      const perm = fft.perm;
      for (let j = 0; j < m; j++) {
        const p = perm[j] as number;
        zr[p] = x[2 * j] as number;
        zi[p] = x[2 * j + 1] as number;
      }
      fft.runStages(zr, zi);
    } else {
      for (let j = 0; j < m; j++) {
        zr[j] = x[2 * j] as number;
        zi[j] = x[2 * j + 1] as number;
      }
      fft.transform(zr, zi);
    }
    this.unpack(outRe, outIm);
  }

  /** After the half-length FFT in zr/zi: split into the spectrum of the real signal. */
  private unpack(outRe: Float64Array, outIm: Float64Array): void {
    const m = this.zr.length;
    const { zr, zi, cosT, sinT } = this;
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      const ar = zr[a] as number, ai = zi[a] as number;
      const br = zr[b] as number, bi = zi[b] as number;
      const er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
      const or = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
      const c = cosT[k] as number, s = sinT[k] as number;
      // w = cos - i sin
      outRe[k] = er + or * c + oi * s;
      outIm[k] = ei + oi * c - or * s;
    }
  }
}

const realFfts = new Map<number, RealFft>();

/** A cached real FFT plan. Plans hold scratch buffers, so use them synchronously. */
export function realFft(size: number): RealFft {
  let plan = realFfts.get(size);
  if (plan === undefined) {
    plan = new RealFft(size);
    realFfts.set(size, plan);
  }
  return plan;
}
