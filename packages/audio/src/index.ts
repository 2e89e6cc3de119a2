/**
 * @mmfuse/audio: WAV decoding, resampling, DSP features (torchaudio-compatible) and the `audio/cnn` encoder.
 * Importing this module registers `audio/cnn` in the @mmfuse/core registry.
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
export { logMel } from './log-mel.js';
export type { LogMelOptions } from './log-mel.js';
export { fbank } from './fbank.js';
export type { FbankOptions } from './fbank.js';
export { decodeWav } from './decode-wav.js';
export type { DecodeWavOptions, DecodedAudio } from './decode-wav.js';
export { decodeWavFile } from './decode-wav-file.js';
export type { WavEncoding } from './internal/wav-header.js';
