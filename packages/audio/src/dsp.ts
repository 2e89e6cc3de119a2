/**
 * `@mmfuse/audio/dsp`: the DSP functions of @mmfuse/audio (resampling, STFT, mel, MFCC, Kaldi fbank,
 * normalization, SpecAugment, silence trimming, channel/room augmentation), checked against torchaudio, and
 * audio decoding (WAV, MP3, FLAC, Ogg Vorbis/Opus, WebM Opus) and WAV writing. Side-effect free: importing
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
export { decodeWav } from './decode-wav.js';
export { audioFeatureFrames, audioFeatureMatrix, padFeatureBatch } from './audio-features.js';
export type { AudioFeatureOptions } from './audio-features.js';
export type { DecodeWavOptions, DecodedAudio } from './decode-wav.js';
export { decodeWavFile } from './decode-wav-file.js';
export { decodeAudio } from './decode-audio.js';
export type { AudioCodec, AudioContainer, DecodeAudioOptions, DecodedAudioFile } from './decode-audio.js';
export { AUDIO_MEDIA_TYPES, sniffAudioContainer } from './internal/sniff.js';
export { encodeWav } from './encode-wav.js';
export type { EncodeWavOptions } from './encode-wav.js';
export type { WavEncoding } from './internal/wav-header.js';
export { gain } from './gain.js';
export { speedPerturb } from './speed-perturb.js';
export type { SpeedPerturbOptions } from './speed-perturb.js';
export { addNoise } from './add-noise.js';
export type { AddNoiseOptions } from './add-noise.js';
export { whiteNoise } from './white-noise.js';
export { pinkNoise } from './pink-noise.js';
export { babbleNoise } from './babble-noise.js';
export type { BabbleNoiseOptions } from './babble-noise.js';
export { fftConvolve } from './fft-convolve.js';
export { roomImpulseResponse } from './room-impulse-response.js';
export type { RoomImpulseResponseOptions } from './room-impulse-response.js';
export { lowpassBiquad } from './lowpass-biquad.js';
export type { BiquadOptions } from './lowpass-biquad.js';
export { highpassBiquad } from './highpass-biquad.js';
export { telephoneBand } from './telephone-band.js';
export type { TelephoneBandOptions } from './telephone-band.js';
export { muLawEncode } from './mu-law-encode.js';
export { muLawDecode } from './mu-law-decode.js';
export { codecRoundTrip } from './codec-round-trip.js';
export type { TelephoneCodec } from './codec-round-trip.js';
export { augmentChain } from './augment-chain.js';
export type { AugmentChainOptions, AugmentStep, NoiseType, Range } from './augment-chain.js';
