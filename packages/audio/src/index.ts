/**
 * @mmfuse/audio: WAV decoding, resampling, DSP features (torchaudio-compatible) and the `audio/cnn` encoder.
 * Importing this module registers `audio/cnn` in the @mmfuse/core registry; `@mmfuse/audio/dsp` has the
 * DSP functions alone, with no side effects.
 */
import { registerEncoderOnce } from '@mmfuse/core';
import { AUDIO_MAX_BYTES, AudioCnnEncoder, audioCnnOptionsSchema } from './audio-cnn-encoder.js';
import type { AudioCnnEncoderConfig } from './audio-cnn-encoder.js';

export * from './dsp.js';
export { decodeWav } from './decode-wav.js';
export type { DecodeWavOptions, DecodedAudio } from './decode-wav.js';
export { decodeWavFile } from './decode-wav-file.js';
export type { WavEncoding } from './internal/wav-header.js';
export { AUDIO_MAX_BYTES, AudioCnnEncoder, audioCnnOptionsSchema } from './audio-cnn-encoder.js';
export type { AudioCnnEncoderConfig, PreparedAudio } from './audio-cnn-encoder.js';
export type { AudioInput } from './internal/load-audio.js';

declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'audio/cnn': AudioCnnEncoderConfig;
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
