/**
 * Shared data types of @mmfuse/audio, and the option types of its functions (here, not beside each function,
 * so the option resolvers in `internal/` import types only from this file and no module imports its
 * importer).
 */
import type { WavEncoding } from './internal/wav-header.js';

/**
 * A time-frequency matrix stored frame by frame: `data[t * bins + b]` is bin `b` of frame `t`.
 * (torchaudio's transforms return `[bins, frames]`; this layout is its transpose, which is what the
 * encoder consumes: a time sequence of feature vectors.)
 */
export interface FeatureMatrix {
  /** `[frames, bins]`, row-major (frame by frame). */
  data: Float32Array;
  /** Number of frames (time steps). */
  frames: number;
  /** Values per frame (frequency bins, mel bins or coefficients). */
  bins: number;
}

/** Mel scale formulas (torchaudio's `mel_scale`). */
export type MelScale = 'htk' | 'slaney';

/** Mel filter normalization (torchaudio's `norm`): `'slaney'` divides each triangle by its width in Hz. */
export type MelNorm = 'slaney' | null;

/** How `spectrogram` pads a centred signal (torchaudio's `pad_mode`). */
export type PadMode = 'reflect' | 'constant' | 'replicate' | 'circular';

/** Mono samples, any precision. */
export type Samples = Float32Array | Float64Array;

/** Options of `spectrogram` (torchaudio.transforms.Spectrogram's arguments in camelCase). */
export interface SpectrogramOptions {
  /** FFT size; the output has `floor(nFft / 2) + 1` bins. Default 400. Any size works (mixed radix / Bluestein). */
  nFft?: number;
  /** Window length, <= nFft; the periodic Hann window is zero-padded to nFft, centred. Default nFft. */
  winLength?: number;
  /** Samples between frame starts. Default floor(winLength / 2). */
  hopLength?: number;
  /** Pad nFft/2 samples on both sides so frame t is centred on sample t * hopLength. Default true. */
  center?: boolean;
  /** Padding used when `center`: `reflect` (edge not repeated), `constant` (zeros), `replicate`, `circular`. Default `reflect`. */
  padMode?: PadMode;
  /** Exponent of the magnitude: 2 = power, 1 = magnitude, any positive value. Default 2. */
  power?: number;
  /** Divide the spectrum by the window's L2 norm (torch `normalized=True`). Default false. */
  normalized?: boolean;
}

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

/** Options of `melSpectrogram` (torchaudio.transforms.MelSpectrogram in camelCase). */
export interface MelSpectrogramOptions extends SpectrogramOptions, Omit<MelFilterBankOptions, 'nFreqs'> {}

/** Options of `specAugment` (time and frequency masking of Park et al. 2019; no time warping). */
export interface SpecAugmentOptions {
  /** Number of time masks. Default 2. */
  timeMasks?: number;
  /** Largest time mask, in frames (each width is uniform in 0..timeMaskMax). Default 20. */
  timeMaskMax?: number;
  /** Number of frequency masks. Default 2. */
  freqMasks?: number;
  /** Largest frequency mask, in bins. Default 8. */
  freqMaskMax?: number;
  /** Value written into masked cells (0 = the mean after normalization). Default 0. */
  maskValue?: number;
}

/** One mask: `[start, start + width)` along time or frequency. */
export interface SpecAugmentMask {
  axis: 'time' | 'freq';
  start: number;
  width: number;
}

/** Options of `decodeWav` and `decodeWavFile`. */
export interface DecodeWavOptions {
  /** Average all channels into one (true) or keep each channel (false). Default true. */
  mono?: boolean;
  /** Resample to this rate (band-limited sinc, as `resample`). Default: keep the file's rate. */
  sampleRateHz?: number;
  /** Refuse files longer than this many seconds with a LimitExceededError. Default: no limit. */
  maxDurationSeconds?: number;
  /** Frames converted per block; bounds the decoder's working memory. Default 65536. */
  blockFrames?: number;
}

/** A decoded WAV file. */
export interface DecodedAudio {
  /** One Float32Array per output channel (one when `mono`), samples in [-1, 1] for integer formats. */
  channels: Float32Array[];
  /** Rate of `channels` (the requested rate, or the file's). */
  sampleRateHz: number;
  /** The file's own rate and channel count. */
  sourceSampleRateHz: number;
  sourceChannels: number;
  /** Sample encoding and bits per sample of the file. */
  encoding: WavEncoding;
  bitsPerSample: number;
  /** Duration of the file in seconds. */
  durationSeconds: number;
}

