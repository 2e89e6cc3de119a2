import { checkSamples } from './internal/check.js';
import { resolveStft } from './internal/options.js';
import { stftPlan } from './internal/stft.js';
import type { FeatureMatrix, Samples, SpectrogramOptions } from './types.js';

export type { SpectrogramOptions } from './types.js';

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
