import { checkSamples } from './internal/check.js';
import { resolveStft } from './internal/options.js';
import { stftPlan } from './internal/stft.js';
import type { FeatureMatrix, PadMode, Samples } from './types.js';

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

/**
 * Short-time Fourier transform magnitude |X|^power of a mono signal, as torchaudio.transforms.Spectrogram.
 *
 * @param samples mono signal `[numSamples]`.
 * @returns `[frames, floor(nFft/2)+1]` frame by frame, frames = 1 + floor(numSamples / hopLength) when
 *   centred, else 1 + floor((numSamples - nFft) / hopLength).
 * @throws ConfigError for bad options; InvalidInputError for NaN/Infinity samples or a signal too short to frame.
 */
export function spectrogram(samples: Samples, options: SpectrogramOptions = {}): FeatureMatrix {
  const params = resolveStft(options);
  checkSamples(samples);
  const plan = stftPlan(params);
  const frames = plan.frameCount(samples.length);
  const bins = plan.bins;
  const data = new Float32Array(frames * bins);
  for (let t = 0; t < frames; t++) plan.powerFrame(samples, t, data, t * bins);
  return { data, frames, bins };
}
