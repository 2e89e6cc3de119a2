/**
 * Contracts of @mmfuse/speech: speech engines, voices and synthesized audio.
 */

/** The synthesizers mmfuse can drive. */
export type EngineName = 'espeak-ng' | 'flite';

/**
 * One way of speaking: an engine, one of its voices, and rate/pitch factors. Its id (`voiceId`) names it
 * in manifests and on the command line, e.g. `flite:slt`, `espeak-ng:en-gb+f3,rate=1.2,pitch=0.9`.
 */
export interface VoiceSettings {
  engine: EngineName;
  /** Engine voice: `slt`, `awb`, ... (flite); language + optional variant, `en-us`, `en-gb+f3` (espeak-ng). */
  voice: string;
  /** Speaking-rate factor, 1 = the voice's default; 1.2 is 20% faster. Default 1. Range 0.5..2. */
  rate?: number;
  /** Pitch factor, 1 = the voice's default. Default 1. Range 0.5..1.9. */
  pitch?: number;
}

/** A voice an engine offers. */
export interface VoiceInfo {
  engine: EngineName;
  /** Engine voice name, as `VoiceSettings.voice`. */
  voice: string;
  /** Language tag, e.g. `en-us`. */
  language: string;
  /** `male`, `female` or `unknown`. */
  gender: 'male' | 'female' | 'unknown';
  /** One line: accent, synthesis method. */
  description: string;
}

/** Mono audio. */
export interface SynthesizedAudio {
  /** `[numSamples]` in [-1, 1]. */
  samples: Float32Array;
  sampleRateHz: number;
}

/** A speech synthesizer. */
export interface SpeechEngine {
  readonly name: EngineName;
  /** The licence of the engine and its voice data, and how it is used (bundled or external program). */
  readonly licence: string;
  /** The voices the engine offers (a curated list of distinct-sounding ones). */
  voices(): VoiceInfo[];
  /** Throws a typed error (naming what to install) when the engine cannot run here. */
  checkAvailable(): Promise<void>;
  /** Speak `text`; audio at the engine's own rate. */
  synthesize(text: string, settings: VoiceSettings): Promise<SynthesizedAudio>;
}
