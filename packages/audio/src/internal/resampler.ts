/**
 * Band-limited sinc resampling, numerically the method of torchaudio.functional.resample
 * ("sinc_interp_hann", lowpass_filter_width 6, rolloff 0.99), run as a stream: samples go in by blocks
 * and outputs come out as soon as every input they depend on has arrived, so a long file never needs a
 * whole-file copy.
 *
 * With g = gcd(from, to), o = from/g, n = to/g, base = min(o, n) * rolloff and width =
 * ceil(lowpassFilterWidth * o / base): output i*n + j = sum_k K[j, k] x[i*o + k - width], k = 0..2 width + o - 1,
 * K[j, k] = sinc(pi t) cos(pi t / (2 lowpassFilterWidth))^2 base / o, t = clamp((k - width)/o - j/n) * base,
 * and x is zero outside the signal. Only the taps with |t| < lowpassFilterWidth are non-zero; each phase
 * stores just that run.
 */
import { ConfigError } from '@mmfuse/core/base';
import { TableCache } from './cache.js';

function gcd(a: number, b: number): number {
  while (b !== 0) { const t = a % b; a = b; b = t; }
  return a;
}

export interface ResampleKernel {
  o: number;
  n: number;
  width: number;
  /** Per phase j: first tap index (k - width offset applied: relative input index) and run of weights. */
  first: Int32Array;
  offset: Int32Array;
  weights: Float64Array;
}

/**
 * Speed perturbation draws a factor per clip (rounded to 0.001: 201 rates in [0.9, 1.1]) and each rate has its
 * own table (~14k taps at 8 kHz), so the cache holds every rate a training run draws: up to 1024 tables and
 * 4 M taps (32 MiB). With 16 entries, building tables was most of the time of speed perturbation.
 */
const kernels = new TableCache<ResampleKernel>(1024, { size: (k) => k.weights.length, max: 2 ** 22 });
/** 32 M taps = 256 MiB of weights. */
const MAX_TAPS = 2 ** 25;

export function resampleKernel(fromHz: number, toHz: number, lowpassFilterWidth = 6, rolloff = 0.99): ResampleKernel {
  return kernels.get(`${fromHz}|${toHz}|${lowpassFilterWidth}|${rolloff}`, () => {
    const g = gcd(fromHz, toHz);
    const o = fromHz / g;
    const n = toHz / g;
    const base = Math.min(o, n) * rolloff;
    const width = Math.ceil((lowpassFilterWidth * o) / base);
    const taps = 2 * width + o;
    // Non-zero taps: about 2 lowpassFilterWidth o / base per phase, n phases. Coprime extreme rates make
    // that table huge (8 bytes a tap); refuse rather than allocate gigabytes.
    const estimated = n * ((2 * lowpassFilterWidth * o) / base + 2);
    if (estimated > MAX_TAPS) {
      throw new ConfigError(`resampling ${fromHz} Hz -> ${toHz} Hz needs a table of about ${Math.round(estimated / 1e6)} M taps (rates reduce to ${o}:${n}); resample in two steps through a rate that shares more factors with both`, { path: 'sampleRateHz' });
    }
    const first = new Int32Array(n);
    const offset = new Int32Array(n + 1);
    const runs: Float64Array[] = [];
    let total = 0;
    const scale = base / o;
    // Only taps with |t| < lowpassFilterWidth can be non-zero: scan that window (plus a tap of slack each
    // side), not all 2 width + o taps, which for coprime rates made the table O(n * o) (minutes at odd rates).
    const reach = (lowpassFilterWidth / base) * o;
    for (let j = 0; j < n; j++) {
      const k0 = Math.max(0, Math.floor(width + (j / n) * o - reach) - 1);
      const k1 = Math.min(taps - 1, Math.ceil(width + (j / n) * o + reach) + 1);
      const row = new Float64Array(Math.max(0, k1 - k0 + 1)); // row[k - k0]
      let lo = -1;
      let hi = -1;
      for (let k = k0; k <= k1; k++) {
        let t = ((k - width) / o - j / n) * base;
        if (t < -lowpassFilterWidth) t = -lowpassFilterWidth;
        if (t > lowpassFilterWidth) t = lowpassFilterWidth;
        const win = Math.cos((t * Math.PI) / lowpassFilterWidth / 2) ** 2;
        const pt = t * Math.PI;
        // At the clamp the Hann window is cos(pi/2)^2, zero up to rounding (~1e-33): store an exact zero
        // so the tap drops out of the sparse run.
        const v = Math.abs(t) >= lowpassFilterWidth ? 0 : (pt === 0 ? 1 : Math.sin(pt) / pt) * win * scale;
        row[k - k0] = v;
        if (v !== 0) { if (lo < 0) lo = k; hi = k; }
      }
      const run = lo < 0 ? new Float64Array(0) : row.slice(lo - k0, hi - k0 + 1);
      first[j] = (lo < 0 ? 0 : lo) - width;
      offset[j] = total;
      total += run.length;
      runs.push(run);
    }
    offset[n] = total;
    const weights = new Float64Array(total);
    runs.forEach((r, j) => weights.set(r, offset[j] as number));
    return { o, n, width, first, offset, weights };
  });
}

/** Output length of torchaudio's resample: ceil(n * length / o). */
export function resampledLength(length: number, fromHz: number, toHz: number): number {
  const g = gcd(fromHz, toHz);
  const o = fromHz / g;
  const n = toHz / g;
  // Exact integer arithmetic where it fits; BigInt beyond 2^53.
  const num = n * length;
  if (Number.isSafeInteger(num)) return Math.ceil(num / o) === num / o ? num / o : Math.floor(num / o) + 1;
  return Number((BigInt(n) * BigInt(length) + BigInt(o) - 1n) / BigInt(o));
}

/**
 * Streaming resampler: push blocks of input, outputs are written into a preallocated output array.
 */
export class StreamingResampler {
  private readonly k: ResampleKernel;
  private readonly out: Float32Array;
  private written = 0;
  /** Buffered input; buf[0] is input sample `bufStart`. */
  private buf: Float64Array;
  private bufLen = 0;
  private bufStart = 0;
  private pushed = 0;
  /** Next output block i (outputs i*n .. i*n + n - 1). */
  private nextBlock = 0;
  private readonly minRel: number;
  private readonly maxRel: number;

  constructor(fromHz: number, toHz: number, totalInput: number) {
    this.k = resampleKernel(fromHz, toHz);
    this.out = new Float32Array(resampledLength(totalInput, fromHz, toHz));
    let minRel = 0;
    let maxRel = 0;
    for (let j = 0; j < this.k.n; j++) {
      const len = (this.k.offset[j + 1] as number) - (this.k.offset[j] as number);
      const f = this.k.first[j] as number;
      if (len > 0) { minRel = Math.min(minRel, f); maxRel = Math.max(maxRel, f + len - 1); }
    }
    this.minRel = minRel;
    this.maxRel = maxRel;
    this.buf = new Float64Array(Math.max(1024, 4 * (maxRel - minRel + this.k.o)));
  }

  /** Append input samples; computes every output whose inputs are all known. */
  push(block: ArrayLike<number>): void {
    const need = this.bufLen + block.length;
    if (need > this.buf.length) {
      // Drop inputs no future output needs, then grow if still short.
      this.compact();
      if (this.bufLen + block.length > this.buf.length) {
        const bigger = new Float64Array(Math.max(this.buf.length * 2, this.bufLen + block.length));
        bigger.set(this.buf.subarray(0, this.bufLen));
        this.buf = bigger;
      }
    }
    for (let i = 0; i < block.length; i++) this.buf[this.bufLen + i] = block[i] as number;
    this.bufLen += block.length;
    this.pushed += block.length;
    this.produce(false);
  }

  /** Flush the tail (inputs past the end are zero) and return the output. */
  finish(): Float32Array {
    this.produce(true);
    return this.out;
  }

  private compact(): void {
    const keepFrom = this.nextBlock * this.k.o + this.minRel;
    const drop = Math.min(Math.max(0, keepFrom - this.bufStart), this.bufLen);
    if (drop > 0) {
      this.buf.copyWithin(0, drop, this.bufLen);
      this.bufLen -= drop;
      this.bufStart += drop;
    }
  }

  private produce(final: boolean): void {
    const { o, n, first, offset, weights } = this.k;
    const out = this.out;
    const buf = this.buf;
    const total = out.length;
    const bufStart = this.bufStart;
    const end = this.pushed - bufStart;
    const maxRel = this.maxRel;
    let written = this.written;
    let block = this.nextBlock;
    while (written < total) {
      const centre = block * o;
      if (!final && centre + maxRel >= this.pushed) break;
      const base = centre - bufStart;
      const jEnd = Math.min(n, total - written);
      for (let j = 0; j < jEnd; j++) {
        const o0 = offset[j] as number;
        const o1 = offset[j + 1] as number;
        const start = base + (first[j] as number) - o0;
        let s = 0;
        if (start + o0 >= 0 && start + o1 <= end) {
          for (let q = o0; q < o1; q++) s += (weights[q] as number) * (buf[start + q] as number);
        } else {
          s = edgeSum(weights, buf, o0, o1, start, end);
        }
        out[written + j] = s;
      }
      written += jEnd;
      block++;
    }
    this.written = written;
    this.nextBlock = block;
  }
}

/** A tap sum near the signal's edges: inputs outside [0, end) of the buffer are the zero padding. */
function edgeSum(weights: Float64Array, buf: Float64Array, o0: number, o1: number, start: number, end: number): number {
  let s = 0;
  for (let q = o0; q < o1; q++) {
    const idx = start + q;
    if (idx >= 0 && idx < end) s += (weights[q] as number) * (buf[idx] as number);
  }
  return s;
}
