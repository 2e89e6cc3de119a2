/**
 * The framing + window + real FFT core shared by spectrogram, melSpectrogram, mfcc and logMel. A plan holds
 * the window (periodic Hann, zero-padded and centred to nFft as torch.stft does) and the FFT plan, and
 * writes one frame's |X|^power at a time into a caller buffer, so callers fuse the next step (mel
 * projection, log) without materializing the full spectrogram.
 */
import { InvalidInputError } from '@mmfuse/core/base';
import type { PadMode, Samples } from '../types.js';
import { TableCache } from './cache.js';
import { ComplexFft, realFft } from './fft.js';
import type { RealFft } from './fft.js';
import { periodicHann } from './windows.js';

export interface StftParams {
  nFft: number;
  winLength: number;
  hopLength: number;
  center: boolean;
  padMode: PadMode;
  /** Exponent of the magnitude: 2 = power, 1 = magnitude. */
  power: number;
  /** Divide the complex spectrum by sqrt(sum of squared window), torch's `normalized=True`. */
  normalized: boolean;
}

export class StftPlan {
  readonly params: StftParams;
  readonly bins: number;
  /** Window zero-padded to nFft. */
  readonly window: Float64Array;
  private readonly fft: RealFft;
  private readonly frame: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly scale: number;
  /** Factor on |X|^2 (1, or 1 / sum(window^2) when normalized). */
  get powerScale(): number {
    return this.scale;
  }
  /** Complex FFT of nFft points that transforms two real frames at once (frame a + i frame b). */
  private readonly pairFft: ComplexFft;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;
  private readonly frameB: Float64Array;

  constructor(params: StftParams) {
    this.params = params;
    this.bins = Math.floor(params.nFft / 2) + 1;
    this.window = new Float64Array(params.nFft);
    const left = Math.floor((params.nFft - params.winLength) / 2);
    this.window.set(periodicHann(params.winLength), left);
    this.fft = realFft(params.nFft);
    this.frame = new Float64Array(params.nFft);
    this.re = new Float64Array(this.bins);
    this.im = new Float64Array(this.bins);
    let energy = 0;
    for (let i = 0; i < params.winLength; i++) energy += (this.window[left + i] as number) ** 2;
    this.scale = params.normalized ? 1 / energy : 1; // applied to |X|^2
    this.pairFft = new ComplexFft(params.nFft);
    this.zr = new Float64Array(params.nFft);
    this.zi = new Float64Array(params.nFft);
    this.frameB = new Float64Array(params.nFft);
  }

  /** Copy the windowed frame t (padding applied) into `frame`. */
  private fillFrame(x: Samples, t: number, frame: Float64Array): void {
    const { nFft, hopLength, center, padMode } = this.params;
    const w = this.window;
    const n = x.length;
    const start = t * hopLength - (center ? Math.floor(nFft / 2) : 0);
    if (start >= 0 && start + nFft <= n) {
      for (let i = 0; i < nFft; i++) frame[i] = (x[start + i] as number) * (w[i] as number);
      return;
    }
    for (let i = 0; i < nFft; i++) {
      let j = start + i;
      let v: number;
      if (j >= 0 && j < n) v = x[j] as number;
      else if (padMode === 'constant') v = 0;
      else if (padMode === 'reflect') { j = j < 0 ? -j : 2 * n - 2 - j; v = x[j] as number; }
      else if (padMode === 'replicate') v = x[j < 0 ? 0 : n - 1] as number;
      else v = x[((j % n) + n) % n] as number;
      frame[i] = v * (w[i] as number);
    }
  }

  /**
   * Mel energies of frames t and t + 1 (power 2 only) from one complex FFT of z = a + i b:
   * A[k] = (Z[k] + conj Z[N-k]) / 2 and B[k] = (Z[k] - conj Z[N-k]) / 2i, so |A|^2 and |B|^2 need no twiddles;
   * each bin's power is added straight into the filters it feeds (bin-major weights).
   */
  melFramePair(x: Samples, t: number, bank: { binStart: Int32Array; binFilter: Int32Array; binWeight: Float64Array }, melA: Float64Array, melB: Float64Array): void {
    this.transformPair(x, t);
    const { binStart, binFilter, binWeight } = bank;
    const zr = this.zr;
    const zi = this.zi;
    const nFft = this.params.nFft;
    const bins = this.bins;
    const q = 0.25 * this.scale;
    melA.fill(0);
    melB.fill(0);
    for (let k = 0; k < bins; k++) {
      const j0 = binStart[k] as number;
      const j1 = binStart[k + 1] as number;
      if (j0 === j1) continue;
      const m = k === 0 ? 0 : nFft - k;
      const ar = zr[k] as number, ai = zi[k] as number;
      const br = zr[m] as number, bi = zi[m] as number;
      const sr = ar + br, di = ai - bi, si = ai + bi, dr = ar - br;
      const pa = (sr * sr + di * di) * q;
      const pb = (si * si + dr * dr) * q;
      for (let j = j0; j < j1; j++) {
        const f = binFilter[j] as number;
        const w = binWeight[j] as number;
        melA[f] = (melA[f] as number) + pa * w;
        melB[f] = (melB[f] as number) + pb * w;
      }
    }
  }

  /** FFT of z = frame t + i frame (t + 1) into zr/zi (natural order). */
  private transformPair(x: Samples, t: number): void {
    const { nFft, hopLength, center } = this.params;
    const fft = this.pairFft;
    const zr = this.zr;
    const zi = this.zi;
    const w = this.window;
    const n = x.length;
    const s0 = t * hopLength - (center ? Math.floor(nFft / 2) : 0);
    const s1 = s0 + hopLength;
    if (fft.direct) {
      const perm = fft.perm;
      if (s0 >= 0 && s1 + nFft <= n) {
        for (let i = 0; i < nFft; i++) {
          const p = perm[i] as number;
          const wi = w[i] as number;
          zr[p] = (x[s0 + i] as number) * wi;
          zi[p] = (x[s1 + i] as number) * wi;
        }
      } else {
        this.fillFrame(x, t, this.frame);
        this.fillFrame(x, t + 1, this.frameB);
        const fa = this.frame;
        const fb = this.frameB;
        for (let i = 0; i < nFft; i++) {
          const p = perm[i] as number;
          zr[p] = fa[i] as number;
          zi[p] = fb[i] as number;
        }
      }
      fft.runStages(zr, zi);
    } else {
      this.fillFrame(x, t, zr);
      this.fillFrame(x, t + 1, zi);
      fft.transform(zr, zi);
    }
  }

  /** Number of frames for a signal of `length` samples; throws when the signal is too short. */
  frameCount(length: number): number {
    const { nFft, hopLength, center, padMode } = this.params;
    if (center) {
      const pad = Math.floor(nFft / 2);
      if ((padMode === 'reflect' && length <= pad) || ((padMode === 'replicate' || padMode === 'circular') && length < 1) || length < 1) {
        throw new InvalidInputError(`signal of ${length} samples is too short for ${padMode} padding of ${pad} samples (nFft ${nFft}); it needs at least ${padMode === 'reflect' ? pad + 1 : 1} samples`);
      }
      return 1 + Math.floor(length / hopLength);
    }
    if (length < nFft) throw new InvalidInputError(`signal of ${length} samples is shorter than nFft ${nFft} (center is false)`);
    return 1 + Math.floor((length - nFft) / hopLength);
  }

  /** Write |X_t[f]|^power, f = 0..bins-1, of frame t into out. */
  powerFrame(x: Samples, t: number, out: Float64Array | Float32Array, outOffset = 0): void {
    const { power } = this.params;
    const frame = this.frame;
    this.fillFrame(x, t, frame);
    this.fft.forward(frame, this.re, this.im);
    const re = this.re;
    const im = this.im;
    const bins = this.bins;
    const s = this.scale;
    if (power === 2) {
      for (let f = 0; f < bins; f++) {
        const a = re[f] as number, b = im[f] as number;
        out[outOffset + f] = (a * a + b * b) * s;
      }
    } else {
      const half = power / 2;
      for (let f = 0; f < bins; f++) {
        const a = re[f] as number, b = im[f] as number;
        out[outOffset + f] = Math.pow((a * a + b * b) * s, half);
      }
    }
  }
}

const plans = new TableCache<StftPlan>();

export function stftPlan(params: StftParams): StftPlan {
  const key = `${params.nFft}|${params.winLength}|${params.hopLength}|${params.center}|${params.padMode}|${params.power}|${params.normalized}`;
  return plans.get(key, () => new StftPlan(params));
}
