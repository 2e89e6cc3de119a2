/**
 * @mmfuse/audio: audio decoding (WAV, MP3, FLAC, Ogg Vorbis/Opus, WebM Opus), resampling, DSP features
 * (torchaudio-compatible), channel/room augmentation and the `audio/cnn` and `audio/phonetic` encoders.
 * Importing this module registers `audio/cnn` and `audio/phonetic` in the @mmfuse/core registry;
 * `@mmfuse/audio/dsp` has the DSP functions alone, with no side effects.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { AUDIO_MAX_BYTES, AudioCnnEncoder, audioCnnOptionsSchema } from './audio-cnn-encoder.js';
import type { AudioCnnEncoderConfig } from './audio-cnn-encoder.js';
import { AudioPhoneticEncoder, audioPhoneticOptionsSchema } from './audio-phonetic-encoder.js';
import type { AudioPhoneticEncoderConfig } from './audio-phonetic-encoder.js';

export * from './dsp.js';
export { AUDIO_MAX_BYTES, AudioCnnEncoder, audioCnnOptionsSchema } from './audio-cnn-encoder.js';
export type { AudioCnnEncoderConfig, PreparedAudio } from './audio-cnn-encoder.js';
export { AudioPhoneticEncoder, audioPhoneticOptionsSchema } from './audio-phonetic-encoder.js';
export type { AudioPhoneticEncoderConfig, PhoneticReaderConfig, PreparedPhonemeSequence, PreparedPhoneticAudio, PreparedPhoneticInput } from './audio-phonetic-encoder.js';
export type { AudioInput } from './internal/load-audio.js';

declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'audio/cnn': AudioCnnEncoderConfig;
    'audio/phonetic': AudioPhoneticEncoderConfig;
  }
}

registerEncoderOnce({
  kind: AudioCnnEncoder.kind,
  modality: 'audio',
  options: audioCnnOptionsSchema,
  input: { kind: 'file', maxBytes: AUDIO_MAX_BYTES },
  factory: (options) => new AudioCnnEncoder(options),
  description: '2-D CNN over log-mel/MFCC/fbank frames, a time sequence with a length mask',
});
registerEncoderOnce({
  kind: AudioPhoneticEncoder.kind,
  modality: 'audio',
  options: audioPhoneticOptionsSchema,
  input: { kind: 'file', maxBytes: AUDIO_MAX_BYTES },
  factory: (options) => new AudioPhoneticEncoder(options as AudioPhoneticEncoderConfig),
  description: 'conv + BiGRU speech encoder over log-mel/fbank frames, pretrained on phonemes with CTC (pretrained: DIR)',
});
