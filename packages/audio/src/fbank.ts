import { ConfigError, InvalidInputError, checkBoolean, checkInteger, checkNumber, checkOneOf } from '@mmfuse/core/base';
import { TableCache } from './internal/cache.js';
import { checkSamples } from './internal/check.js';
import { realFft } from './internal/fft.js';
import { kaldiMel } from './internal/mel-scale.js';
import { SparseFilterbank } from './internal/sparse-filterbank.js';
import { kaldiWindow } from './internal/windows.js';
import type { KaldiWindowType } from './internal/windows.js';
import type { FeatureMatrix, Samples } from './types.js';

/** Options of `fbank` (torchaudio.compliance.kaldi.fbank in camelCase; `dither` and VTLN are not offered). */
export interface FbankOptions {
  /** Sample rate in Hz (Kaldi `sample_frequency`). Required. */
  sampleRateHz: number;
  /** Number of triangular mel bins. Default 23. */
  numMelBins?: number;
  /** Frame length in milliseconds. Default 25. */
  frameLength?: number;
  /** Frame shift in milliseconds. Default 10. */
  frameShift?: number;
  /** Pre-emphasis y[j] = x[j] - c x[j-1] (x[-1] = x[0]). Default 0.97. */
  preemphasisCoefficient?: number;
  /** Subtract each frame's mean first. Default true. */
  removeDcOffset?: boolean;
  /** Window: `povey` (Hann^0.85), `hanning`, `hamming`, `rectangular`, `blackman` (all symmetric). Default `povey`. */
  windowType?: KaldiWindowType;
  /** Blackman window coefficient. Default 0.42. */
  blackmanCoeff?: number;
  /** Zero-pad each frame to the next power of two before the FFT. Default true. */
  roundToPowerOfTwo?: boolean;
  /** Only frames that fit completely (true), or frames every shift with reflected edges (false). Default true. */
  snipEdges?: boolean;
  /** Lowest filter edge in Hz. Default 20. */
  lowFreq?: number;
  /** Highest filter edge in Hz; <= 0 means Nyquist + highFreq. Default 0. */
  highFreq?: number;
  /** Power (true) or magnitude (false) spectrum. Default true. */
  usePower?: boolean;
  /** Natural log of max(energy, float32 epsilon) (true) or linear energies. Default true. */
  useLogFbank?: boolean;
  /** Subtract each bin's mean over frames. Default false. */
  subtractMean?: boolean;
}

const FLOAT32_EPS = 1.1920928955078125e-7;

interface FbankPlan { window: Float64Array; bank: SparseFilterbank; padded: number }
const plans = new TableCache<FbankPlan>();

/**
 * Kaldi-compatible log mel filterbank energies, as torchaudio.compliance.kaldi.fbank with dither 0.
 * @param samples mono waveform `[numSamples]` (not rescaled to the int16 range).
 * @returns `[frames, numMelBins]` frame by frame.
 */
export function fbank(samples: Samples, options: FbankOptions): FeatureMatrix {
  if (options === null || typeof options !== 'object') throw new ConfigError('options with at least sampleRateHz are required', { path: 'options' });
  const sr = checkNumber(options.sampleRateHz, 'sampleRateHz', 0, Number.POSITIVE_INFINITY, true);
  const numMelBins = checkInteger(options.numMelBins ?? 23, 'numMelBins', 1);
  const frameLength = checkNumber(options.frameLength ?? 25, 'frameLength', 0, Number.POSITIVE_INFINITY, true);
  const frameShift = checkNumber(options.frameShift ?? 10, 'frameShift', 0, Number.POSITIVE_INFINITY, true);
  const pre = checkNumber(options.preemphasisCoefficient ?? 0.97, 'preemphasisCoefficient', 0, 1);
  const removeDc = checkBoolean(options.removeDcOffset ?? true, 'removeDcOffset');
  const windowType = checkOneOf<KaldiWindowType>(options.windowType ?? 'povey', 'windowType', ['povey', 'hanning', 'hamming', 'rectangular', 'blackman']);
  const blackmanCoeff = checkNumber(options.blackmanCoeff ?? 0.42, 'blackmanCoeff', Number.NEGATIVE_INFINITY);
  const roundPow2 = checkBoolean(options.roundToPowerOfTwo ?? true, 'roundToPowerOfTwo');
  const snipEdges = checkBoolean(options.snipEdges ?? true, 'snipEdges');
  const usePower = checkBoolean(options.usePower ?? true, 'usePower');
  const useLog = checkBoolean(options.useLogFbank ?? true, 'useLogFbank');
  const subtractMean = checkBoolean(options.subtractMean ?? false, 'subtractMean');
  const windowSize = Math.floor(sr * frameLength * 0.001);
  const windowShift = Math.floor(sr * frameShift * 0.001);
  if (windowSize < 2) throw new ConfigError(`frame of ${windowSize} samples is too short (sampleRateHz * frameLength / 1000 must be >= 2)`, { path: 'frameLength' });
  if (windowShift < 1) throw new ConfigError(`frame shift of ${windowShift} samples is too short`, { path: 'frameShift' });
  let padded = windowSize;
  if (roundPow2) { padded = 1; while (padded < windowSize) padded *= 2; }
  const nyquist = 0.5 * sr;
  const lowFreq = checkNumber(options.lowFreq ?? 20, 'lowFreq', 0, nyquist);
  let highFreq = checkNumber(options.highFreq ?? 0, 'highFreq', Number.NEGATIVE_INFINITY, nyquist);
  if (highFreq <= 0) highFreq += nyquist;
  if (!(highFreq > lowFreq)) throw new ConfigError(`resolved highFreq ${highFreq} Hz must be above lowFreq ${lowFreq} Hz`, { path: 'highFreq' });
  checkSamples(samples);

  const n = samples.length;
  let frames: number;
  if (snipEdges) {
    if (n < windowSize) throw new InvalidInputError(`signal of ${n} samples is shorter than one frame (${windowSize} samples)`);
    frames = 1 + Math.floor((n - windowSize) / windowShift);
  } else {
    frames = Math.floor((n + Math.floor(windowShift / 2)) / windowShift);
    if (frames < 1 || n < 1) throw new InvalidInputError(`signal of ${n} samples is too short for one frame`);
  }
  const key = `${sr}|${numMelBins}|${windowSize}|${padded}|${windowType}|${blackmanCoeff}|${lowFreq}|${highFreq}`;
  const plan = plans.get(key, () => ({ window: kaldiWindow(windowType, windowSize, blackmanCoeff), bank: kaldiBank(numMelBins, padded, sr, lowFreq, highFreq), padded }));
  const fft = realFft(padded);
  const bins = Math.floor(padded / 2) + 1;
  const frame = new Float64Array(padded);
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  const spec = new Float64Array(bins);
  const out = new Float64Array(frames * numMelBins);
  const pad = Math.floor(windowSize / 2) - Math.floor(windowShift / 2);
  for (let t = 0; t < frames; t++) {
    const start = snipEdges ? t * windowShift : t * windowShift - pad;
    let mean = 0;
    for (let i = 0; i < windowSize; i++) {
      let j = start + i;
      // Kaldi reflection repeats the edge sample: [x1, x0, x0, x1, ...]
      if (j < 0) j = -j - 1;
      else if (j >= n) j = 2 * n - 1 - j;
      const v = samples[j] as number;
      frame[i] = v;
      mean += v;
    }
    if (removeDc) {
      mean /= windowSize;
      for (let i = 0; i < windowSize; i++) frame[i] = (frame[i] as number) - mean;
    }
    if (pre !== 0) {
      for (let i = windowSize - 1; i > 0; i--) frame[i] = (frame[i] as number) - pre * (frame[i - 1] as number);
      frame[0] = (frame[0] as number) * (1 - pre);
    }
    for (let i = 0; i < windowSize; i++) frame[i] = (frame[i] as number) * (plan.window[i] as number);
    frame.fill(0, windowSize);
    fft.forward(frame, re, im);
    for (let f = 0; f < bins; f++) {
      const p = (re[f] as number) ** 2 + (im[f] as number) ** 2;
      spec[f] = usePower ? p : Math.sqrt(p);
    }
    plan.bank.apply(spec, 0, out, t * numMelBins);
  }
  if (useLog) for (let i = 0; i < out.length; i++) out[i] = Math.log(Math.max(out[i] as number, FLOAT32_EPS));
  if (subtractMean) {
    for (let b = 0; b < numMelBins; b++) {
      let s = 0;
      for (let t = 0; t < frames; t++) s += out[t * numMelBins + b] as number;
      s /= frames;
      for (let t = 0; t < frames; t++) out[t * numMelBins + b] = (out[t * numMelBins + b] as number) - s;
    }
  }
  return { data: Float32Array.from(out), frames, bins: numMelBins };
}

/** Kaldi mel bins over FFT bins 0..padded/2 - 1 (the Nyquist bin gets weight 0), dense [bins, numMelBins]. */
function kaldiBank(numMelBins: number, padded: number, sr: number, lowFreq: number, highFreq: number): SparseFilterbank {
  const nFreqs = Math.floor(padded / 2) + 1;
  const numFftBins = padded % 2 === 0 ? padded / 2 : nFreqs;
  const binWidth = sr / padded;
  const melLow = kaldiMel(lowFreq);
  const melHigh = kaldiMel(highFreq);
  const delta = (melHigh - melLow) / (numMelBins + 1);
  const dense = new Float64Array(nFreqs * numMelBins);
  for (let b = 0; b < numMelBins; b++) {
    const left = melLow + b * delta;
    const centre = melLow + (b + 1) * delta;
    const right = melLow + (b + 2) * delta;
    for (let k = 0; k < numFftBins; k++) {
      const mel = kaldiMel(binWidth * k);
      const up = (mel - left) / (centre - left);
      const down = (right - mel) / (right - centre);
      dense[k * numMelBins + b] = Math.max(0, Math.min(up, down));
    }
  }
  return new SparseFilterbank(dense, nFreqs, numMelBins);
}
