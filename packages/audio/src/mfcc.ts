import { dbInPlace } from './internal/db.js';
import { cepstra } from './internal/dct.js';
import { checkSamples } from './internal/check.js';
import { ConfigError, checkBoolean, checkInteger } from '@mmfuse/core/base';
import { resolveMelSpectrogram } from './internal/options.js';
import { stftPlan } from './internal/stft.js';
import { melBank } from './internal/mel-bank.js';
import type { FeatureMatrix, MelSpectrogramOptions, Samples } from './types.js';

/** Options of `mfcc` (torchaudio.transforms.MFCC with its `melkwargs` flattened in). */
export interface MfccOptions extends MelSpectrogramOptions {
  /** Number of coefficients kept, <= nMels. Default 40. */
  nMfcc?: number;
  /** Use ln(mel + 1e-6) instead of decibels (torchaudio `log_mels`). Default false. */
  logMels?: boolean;
}

/**
 * Mel-frequency cepstral coefficients, as torchaudio.transforms.MFCC (dct_type 2, norm "ortho"): the mel
 * spectrogram in dB floored at its maximum - 80 dB (always, as the reference does), then DCT-II.
 * @returns `[frames, nMfcc]` frame by frame.
 */
export function mfcc(samples: Samples, options: MfccOptions): FeatureMatrix {
  const { stft, mel } = resolveMelSpectrogram(options);
  const nMfcc = checkInteger(options.nMfcc ?? 40, 'nMfcc', 1);
  if (nMfcc > mel.nMels) throw new ConfigError(`must be <= nMels (${mel.nMels}), got ${nMfcc}`, { path: 'nMfcc' });
  const logMels = checkBoolean(options.logMels ?? false, 'logMels');
  checkSamples(samples);
  const plan = stftPlan(stft);
  const bank = melBank(mel).sparse;
  const frames = plan.frameCount(samples.length);
  const nMels = mel.nMels;
  const spec = new Float64Array(plan.bins);
  const melData = new Float64Array(frames * nMels);
  for (let t = 0; t < frames; t++) {
    plan.powerFrame(samples, t, spec);
    bank.apply(spec, 0, melData, t * nMels);
  }
  if (logMels) for (let i = 0; i < melData.length; i++) melData[i] = Math.log((melData[i] as number) + 1e-6);
  else dbInPlace(melData, melData, 10, 1e-10, 1, 80);
  return { data: cepstra(melData, frames, nMels, nMfcc), frames, bins: nMfcc };
}
