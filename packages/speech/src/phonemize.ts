/**
 * Phoneme transcripts in the mmfuse inventory (`PHONEMES`). Two phonemizers: `flite` (built in: Flite's
 * CMU-dictionary lexicon and letter-to-sound rules, American English) and `espeak-ng` (the external
 * program, any English accent). Without espeak-ng installed, `flite` works everywhere; asking for
 * `espeak-ng` then fails with a ConfigError naming the Debian package.
 * One phonemizer transcribes every text of a corpus, whichever engine speaks it, so a text's CTC target
 * never depends on the voice.
 */
import { ConfigError } from '@mmfuse/core';
import { getEngine } from './engines.js';
import type { EspeakNgEngine } from './espeak-ng.js';
import type { FliteEngine } from './flite.js';

/** Which program turns text into phonemes. */
export type PhonemizerName = 'flite' | 'espeak-ng';

/** Options of `phonemize`. */
export interface PhonemizeOptions {
  /** Default `flite` (built in). */
  phonemizer?: PhonemizerName;
  /** espeak-ng language/accent (espeak-ng only). Default `en-us`. */
  language?: string;
}

/**
 * The phoneme sequence of `text` (inventory symbols, e.g. `['hh', 'ah', 'l', 'ow']`).
 * @throws ConfigError for an unknown phonemizer or a missing program; InvalidInputError when the output
 *   has a phoneme outside the inventory.
 */
export async function phonemize(text: string, options: PhonemizeOptions = {}): Promise<string[]> {
  const name = options.phonemizer ?? 'flite';
  if (name === 'flite') return (getEngine('flite') as FliteEngine).phonemize(text);
  if (name === 'espeak-ng') return (getEngine('espeak-ng') as EspeakNgEngine).phonemize(text, options.language ?? 'en-us');
  throw new ConfigError(`must be "flite" or "espeak-ng", got ${JSON.stringify(name)}`, { path: 'phonemizer' });
}
