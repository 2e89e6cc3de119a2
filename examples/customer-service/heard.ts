/**
 * How the customer-service bot sends a spoken English request without a transcript to its model: the words the
 * speech recognizer heard become the text input *instead of* the clip; the clip alone when nothing was heard.
 * Chosen on the validation voices (the bot's validation messages spoken by the speech pretraining's validation
 * speakers, 60 clips): the words alone 91.7%, the words + the clip 86.7% — the clip model (`audio/cnn`, trained on
 * six espeak-ng voices of known phrases) pulls answers away on voices it never heard. Used by `bot.ts` and by the
 * measurements of it (`bench/speech.bench.ts`, `scripts/speech/measure-bot-cascade.ts`).
 */
export function heardFields(fields: Record<string, unknown>, heard: string): Record<string, unknown> {
  if (heard === '') return fields;
  const { audio: _clip, ...rest } = fields;
  return { ...rest, text: heard };
}

/** The ways the measurements ask the bot's model a voice-only request: as the bot does, the words beside the clip, the clip alone. */
export type VoiceAsk = 'bot' | 'words+clip' | 'clip';

/** A voice-only request's fields (`fields` holds the clip) asked one of those ways, given the words heard. */
export function askVoice(how: VoiceAsk, fields: Record<string, unknown>, heard: string): Record<string, unknown> {
  if (how === 'clip') return fields;
  return how === 'words+clip' && heard !== '' ? { ...fields, text: heard } : heardFields(fields, heard);
}
