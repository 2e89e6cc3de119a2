/**
 * `@mmfuse/audio/dsp`: the DSP functions of @mmfuse/audio (resampling, STFT, mel, MFCC, Kaldi fbank,
 * normalization, SpecAugment, silence trimming), checked against torchaudio. Side-effect free: importing
 * it registers no encoder and does not load TensorFlow.js.
 */
export type { FeatureMatrix, MelNorm, MelScale, PadMode, Samples } from './types.js';
export { resample } from './resample.js';
export { spectrogram } from './spectrogram.js';
export type { SpectrogramOptions } from './spectrogram.js';
export { melFilterBank } from './mel-filter-bank.js';
export type { MelFilterBank, MelFilterBankOptions } from './mel-filter-bank.js';
export { melSpectrogram } from './mel-spectrogram.js';
export type { MelSpectrogramOptions } from './mel-spectrogram.js';
export { amplitudeToDb } from './amplitude-to-db.js';
export type { AmplitudeToDbOptions } from './amplitude-to-db.js';
export { mfcc } from './mfcc.js';
export type { MfccOptions } from './mfcc.js';
export { logMel, logMelImplementation } from './log-mel.js';
export type { LogMelOptions } from './log-mel.js';
export { fbank } from './fbank.js';
export type { FbankOptions } from './fbank.js';
export { featureStatistics } from './feature-statistics.js';
export type { FeatureStatistics } from './feature-statistics.js';
export { normalize } from './normalize.js';
export type { NormalizeOptions } from './normalize.js';
export { specAugment } from './spec-augment.js';
export { specAugmentOptionsSchema } from './internal/spec-augment-masks.js';
export type { SpecAugmentMask, SpecAugmentOptions } from './spec-augment.js';
export { trimSilence } from './trim-silence.js';
export type { TrimSilenceOptions, TrimmedAudio } from './trim-silence.js';
