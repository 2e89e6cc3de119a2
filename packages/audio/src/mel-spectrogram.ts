import { checkSamples } from './internal/check.js';
import { resolveMelSpectrogram } from './internal/options.js';
import { stftPlan } from './internal/stft.js';
import { melBank } from './internal/mel-bank.js';
import type { FeatureMatrix, MelSpectrogramOptions, Samples } from './types.js';

export type { MelSpectrogramOptions } from './types.js';

/**
 * Mel spectrogram: the spectrogram (`power` 2 by default) projected on `nMels` triangular filters, as
 * torchaudio.transforms.MelSpectrogram.
 * @param samples mono signal `[numSamples]` at `options.sampleRateHz`.
 * @returns `[frames, nMels]` frame by frame.
 */
export function melSpectrogram(samples: Samples, options: MelSpectrogramOptions): FeatureMatrix {
  const { stft, mel } = resolveMelSpectrogram(options);
  checkSamples(samples);
  const plan = stftPlan(stft);
  const bank = melBank(mel).sparse;
  const frames = plan.frameCount(samples.length);
  const spec = new Float64Array(plan.bins);
  const data = new Float32Array(frames * mel.nMels);
  for (let t = 0; t < frames; t++) {
    plan.powerFrame(samples, t, spec);
    bank.apply(spec, 0, data, t * mel.nMels);
  }
  return { data, frames, bins: mel.nMels };
}
