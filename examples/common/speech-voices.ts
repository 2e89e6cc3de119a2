/**
 * The voices of the speech examples (customer-service bot, Banking77) and of the shipped speech encoder's
 * pretraining, in one place, so that "held-out voice" means the same everywhere: a held-out voice is never
 * heard by the speech encoder's pretraining nor by any intent model's training.
 *
 * Training: Flite `slt`, `rms`, `kal16`, `kal` and espeak-ng's accents other than West Midlands with the
 * variants other than `m7`, `f5`, `klatt3` (7 accents x 13 variants = 91 speakers, less the 3 validation
 * speakers), at rates and pitches 0.9 / 1 / 1.1.
 * Validation (model selection only, e.g. the pretraining's best epoch): espeak-ng `en-us+m6`, `en-gb+f4`,
 * `en-029+klatt2`, at the training rates and pitches.
 * Held out (test only): Flite `awb` (Scottish male, the one ARCTIC speaker never trained on), espeak-ng's
 * West Midlands accent (`en-gb-x-gbcwmd`, every variant) and the variants `m7`, `f5`, `klatt3` (every accent),
 * at rates and pitches never used in training (0.8 / 1.2 and 0.85 / 1.2).
 */
import { ESPEAK_ACCENTS, ESPEAK_VARIANTS, voiceGrid, voiceId } from '@mmfuse/speech';
import type { VoiceSettings } from '@mmfuse/speech';

const HELD_OUT_ACCENT = 'en-gb-x-gbcwmd';
const HELD_OUT_VARIANTS = new Set(['m7', 'f5', 'klatt3']);
const TRAIN_RATES = [0.9, 1, 1.1];
const TRAIN_PITCHES = [0.9, 1, 1.1];
const TEST_RATES = [0.8, 1.2];
const TEST_PITCHES = [0.85, 1.2];

const espeakName = (accent: string, variant: string): string => (variant === '' ? accent : `${accent}+${variant}`);

/** espeak-ng voice names of the validation speakers (neither trained on nor tested on). */
export const VALIDATION_ESPEAK_VOICES: readonly string[] = ['en-us+m6', 'en-gb+f4', 'en-029+klatt2'];

/** espeak-ng voice names of the training speakers. */
export const TRAIN_ESPEAK_VOICES: readonly string[] = Object.keys(ESPEAK_ACCENTS)
  .filter((a) => a !== HELD_OUT_ACCENT)
  .flatMap((a) => ESPEAK_VARIANTS.filter((v) => !HELD_OUT_VARIANTS.has(v)).map((v) => espeakName(a, v)))
  .filter((v) => !VALIDATION_ESPEAK_VOICES.includes(v));

/** espeak-ng voice names of the held-out speakers. */
export const TEST_ESPEAK_VOICES: readonly string[] = Object.keys(ESPEAK_ACCENTS)
  .flatMap((a) => ESPEAK_VARIANTS.filter((v) => a === HELD_OUT_ACCENT || HELD_OUT_VARIANTS.has(v)).map((v) => espeakName(a, v)));

export const TRAIN_FLITE_VOICES: readonly string[] = ['slt', 'rms', 'kal16', 'kal'];
export const TEST_FLITE_VOICES: readonly string[] = ['awb'];

/** Voice settings heard in training (pretraining and intent models). */
export function trainVoices(engines: readonly ('flite' | 'espeak-ng')[] = ['flite', 'espeak-ng']): Required<VoiceSettings>[] {
  return [
    ...(engines.includes('flite') ? voiceGrid({ engines: ['flite'], voices: TRAIN_FLITE_VOICES, rates: TRAIN_RATES, pitches: TRAIN_PITCHES }) : []),
    ...(engines.includes('espeak-ng') ? voiceGrid({ engines: ['espeak-ng'], voices: TRAIN_ESPEAK_VOICES, rates: TRAIN_RATES, pitches: TRAIN_PITCHES }) : []),
  ];
}

/** Voice settings of the validation speakers. */
export function validationVoices(): Required<VoiceSettings>[] {
  return voiceGrid({ engines: ['espeak-ng'], voices: VALIDATION_ESPEAK_VOICES, rates: TRAIN_RATES, pitches: TRAIN_PITCHES });
}

/** `engine:voice` of every validation speaker. */
export const VALIDATION_SPEAKERS: readonly string[] = VALIDATION_ESPEAK_VOICES.map((v) => `espeak-ng:${v}`);

/** Voice settings of the test clips: held-out speakers at held-out rates and pitches. */
export function testVoices(engines: readonly ('flite' | 'espeak-ng')[] = ['flite', 'espeak-ng']): Required<VoiceSettings>[] {
  return [
    ...(engines.includes('flite') ? voiceGrid({ engines: ['flite'], voices: TEST_FLITE_VOICES, rates: TEST_RATES, pitches: TEST_PITCHES }) : []),
    ...(engines.includes('espeak-ng') ? voiceGrid({ engines: ['espeak-ng'], voices: TEST_ESPEAK_VOICES, rates: TEST_RATES, pitches: TEST_PITCHES }) : []),
  ];
}

/** `engine:voice` of every held-out speaker (for `pretrainSpeechEncoder`'s `heldOutSpeakers`). */
export const TEST_SPEAKERS: readonly string[] = [
  ...TEST_FLITE_VOICES.map((v) => `flite:${v}`),
  ...TEST_ESPEAK_VOICES.map((v) => `espeak-ng:${v}`),
];

/** True when a voice id (`engine:voice,rate=..`) belongs to a held-out speaker. */
export function isTestSpeaker(id: string): boolean {
  const speaker = id.split(',')[0] as string;
  return TEST_SPEAKERS.includes(speaker);
}

export { voiceId };
