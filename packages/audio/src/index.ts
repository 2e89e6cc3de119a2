/**
 * @mmfuse/audio: audio decoding (WAV, MP3, FLAC, Ogg Vorbis/Opus, WebM Opus), resampling, DSP features
 * (torchaudio-compatible), channel/room augmentation and the `audio/cnn` and `audio/phonetic` encoders.
 * Importing this module registers `audio/cnn` and `audio/phonetic` in the @mmfuse/core registry.
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
export { decodeAudio } from './decode-audio.js';
export type { AudioCodec, AudioContainer, DecodeAudioOptions, DecodedAudioFile } from './decode-audio.js';
export { AUDIO_MEDIA_TYPES, sniffAudioContainer } from './internal/sniff.js';
export { encodeWav } from './encode-wav.js';
export type { EncodeWavOptions } from './encode-wav.js';
export type { WavEncoding } from './internal/wav-header.js';
export { featureStatistics } from './feature-statistics.js';
export type { FeatureStatistics } from './feature-statistics.js';
export { normalize } from './normalize.js';
export type { NormalizeOptions } from './normalize.js';
export { specAugment } from './spec-augment.js';
export type { SpecAugmentMask, SpecAugmentOptions } from './spec-augment.js';
export { trimSilence } from './trim-silence.js';
export type { TrimSilenceOptions, TrimmedAudio } from './trim-silence.js';
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
export { AudioCnnEncoder } from './audio-cnn-encoder.js';
export type { AudioCnnEncoderConfig, PreparedAudio } from './audio-cnn-encoder.js';
export { AudioPhoneticEncoder } from './audio-phonetic-encoder.js';
export type { AudioPhoneticEncoderConfig, PreparedPhoneticAudio } from './audio-phonetic-encoder.js';
export type { AudioInput } from './internal/load-audio.js';

import { registerEncoderOnce } from '@mmfuse/core';
import { AudioCnnEncoder as Encoder } from './audio-cnn-encoder.js';
import type { AudioCnnEncoderConfig as Config } from './audio-cnn-encoder.js';

import { AudioPhoneticEncoder as Phonetic } from './audio-phonetic-encoder.js';
import type { AudioPhoneticEncoderConfig as PhoneticConfig } from './audio-phonetic-encoder.js';

registerEncoderOnce(Encoder.kind, 'audio', (config) => new Encoder(config as unknown as Config), '2-D CNN over log-mel/MFCC/fbank frames, a time sequence with a length mask');
registerEncoderOnce(Phonetic.kind, 'audio', (config) => new Phonetic(config as unknown as PhoneticConfig), 'conv + BiGRU speech encoder over log-mel/fbank frames, pretrained on phonemes with CTC (pretrained: DIR)');
