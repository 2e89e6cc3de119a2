/**
 * The phoneme inventory of mmfuse speech models and the normalizers that map each phonemizer's output onto
 * it, so CTC targets are the same symbols whichever engine produced them.
 *
 * Inventory: the 39 phonemes of the CMU Pronouncing Dictionary (ARPAbet, American English), lower case,
 * without stress digits. Stress and length marks are dropped everywhere (they are prosody, not phoneme
 * identity, and engines disagree on them); pauses and word boundaries are not symbols (they are not
 * reliably audible). CTC class `0` is the blank and phoneme `i` of `PHONEMES` is class `i + 1`.
 *
 * | symbol | IPA | example | symbol | IPA | example |
 * | --- | --- | --- | --- | --- | --- |
 * | aa | ɑ | odd | l | l | lee |
 * | ae | æ | at | m | m | me |
 * | ah | ʌ, ə | hut, about | n | n | knee |
 * | ao | ɔ | ought | ng | ŋ | ping |
 * | aw | aʊ | cow | ow | oʊ | oat |
 * | ay | aɪ | hide | oy | ɔɪ | toy |
 * | b | b | be | p | p | pee |
 * | ch | tʃ | cheese | r | ɹ | read |
 * | d | d | dee | s | s | sea |
 * | dh | ð | thee | sh | ʃ | she |
 * | eh | ɛ | Ed | t | t | tea |
 * | er | ɝ, ɚ | hurt | th | θ | theta |
 * | ey | eɪ | ate | uh | ʊ | hood |
 * | f | f | fee | uw | u | two |
 * | g | ɡ | green | v | v | vee |
 * | hh | h | he | w | w | we |
 * | ih | ɪ | it | y | j | yield |
 * | iy | i | eat | z | z | zee |
 * | jh | dʒ | gee | zh | ʒ | seizure |
 * | k | k | key | | | |
 *
 * espeak-ng's English IPA (every English accent it ships) is mapped by `normalizeEspeakIpa`: British and
 * other accents' vowels to their nearest American phoneme (ɒ → aa, əʊ → ow), r-coloured and centring
 * diphthongs to vowel + r (ɑːɹ → aa r, ɪə → ih r), flap and glottal stop to t, syllabic consonants to
 * ah + consonant. Flite's phones are ARPAbet already (`ax` → ah, `pau` dropped).
 */
import { InvalidInputError } from '@mmfuse/core';

/** The 39 phonemes, in class order (class = index + 1; class 0 is the CTC blank). */
export const PHONEMES: readonly string[] = Object.freeze([
  'aa', 'ae', 'ah', 'ao', 'aw', 'ay', 'b', 'ch', 'd', 'dh', 'eh', 'er', 'ey', 'f', 'g', 'hh', 'ih', 'iy', 'jh', 'k',
  'l', 'm', 'n', 'ng', 'ow', 'oy', 'p', 'r', 's', 'sh', 't', 'th', 'uh', 'uw', 'v', 'w', 'y', 'z', 'zh',
]);

/** Name of the inventory, saved with models so a mismatch is detected. */
export const PHONEME_INVENTORY = 'cmu-arpabet-39';

const INDEX = new Map(PHONEMES.map((p, i) => [p, i + 1]));

/** CTC class ids (1..39) of a phoneme sequence. @throws InvalidInputError for a symbol outside the inventory. */
export function phonemeIds(phonemes: readonly string[]): number[] {
  return phonemes.map((p, i) => {
    const id = INDEX.get(p);
    if (id === undefined) throw new InvalidInputError(`phoneme ${i} is ${JSON.stringify(p)}, not one of the ${PHONEMES.length} symbols of ${PHONEME_INVENTORY}`);
    return id;
  });
}

/** Phonemes of CTC class ids (blank and out-of-range ids are refused). */
export function phonemesOf(ids: readonly number[]): string[] {
  return ids.map((id) => {
    const p = PHONEMES[id - 1];
    if (p === undefined) throw new InvalidInputError(`class ${id} is not a phoneme (1..${PHONEMES.length})`);
    return p;
  });
}

// espeak-ng English IPA phonemes (stress removed, ':' written as 'ː') -> inventory symbols.
const ESPEAK_IPA: Record<string, string[]> = {
  // vowels
  'ɪ': ['ih'], 'ᵻ': ['ih'], 'i': ['iy'], 'iː': ['iy'], 'ɛ': ['eh'], 'e': ['eh'], 'eː': ['ey'], 'eɪ': ['ey'], 'ei': ['ey'],
  'æ': ['ae'], 'a': ['ae'], 'aː': ['aa'], 'aa': ['aa'], 'ɑ': ['aa'], 'ɑː': ['aa'], 'ɒ': ['aa'], 'ʌ': ['ah'], 'ə': ['ah'], 'ɐ': ['ah'],
  'ɔ': ['ao'], 'ɔː': ['ao'], 'o': ['ow'], 'oː': ['ow'], 'oʊ': ['ow'], 'əʊ': ['ow'], 'əu': ['ow'], 'ʌʉ': ['ow'],
  'ʊ': ['uh'], 'u': ['uw'], 'uː': ['uw'], 'ʉ': ['uw'], 'ʉː': ['uw'],
  'ɜ': ['er'], 'ɜː': ['er'], 'ɚ': ['er'], 'ɝ': ['er'], 'əɹ': ['er'], 'ʌɹ': ['er'],
  'aɪ': ['ay'], 'əɪ': ['ay'], 'ɑə': ['ay'], 'ɑɪ': ['ay'], 'aʊ': ['aw'], 'æʊ': ['aw'], 'ʌʊ': ['aw'], 'ɔɪ': ['oy'], 'oɪ': ['oy'],
  'ɪə': ['ih', 'r'], 'iə': ['ih', 'r'], 'eə': ['eh', 'r'], 'ɛə': ['eh', 'r'], 'ʊə': ['uh', 'r'], 'ɔə': ['ao', 'r'], 'oə': ['ao', 'r'],
  'oːɹ': ['ao', 'r'], 'oɹ': ['ao', 'r'],
  'aɪə': ['ay', 'er'], 'aɪɚ': ['ay', 'er'], 'aʊə': ['aw', 'er'],
  // syllabic consonants
  'əl': ['ah', 'l'], 'l̩': ['ah', 'l'], 'n̩': ['ah', 'n'], 'm̩': ['ah', 'm'],
  // consonants
  'p': ['p'], 'b': ['b'], 't': ['t'], 'd': ['d'], 'k': ['k'], 'ɡ': ['g'], 'g': ['g'], 'f': ['f'], 'v': ['v'], 'θ': ['th'], 'ð': ['dh'],
  's': ['s'], 'z': ['z'], 'ʃ': ['sh'], 'ʒ': ['zh'], 'h': ['hh'], 'x': ['hh'], 'ç': ['hh'], 'tʃ': ['ch'], 'dʒ': ['jh'],
  'm': ['m'], 'n': ['n'], 'ŋ': ['ng'], 'l': ['l'], 'ɫ': ['l'], 'ɬ': ['l'], 'ɹ': ['r'], 'r': ['r'], 'ɾ': ['t'], 'ʔ': ['t'],
  'w': ['w'], 'ʍ': ['w'], 'j': ['y'],
};

// Marks that carry no phoneme identity: stress, tie bars, zero-width joiners, dental/palatal/nasal
// diacritics (t̪ -> t, eʲ -> e), extra-short.
const DROP = /[ˈˌ\u0361\u035c\u200d\u032a\u02b2\u0303\u0306]/g;

function mapEspeakToken(token: string, text: string): string[] {
  const key = token.replace(DROP, '').replace(/:/g, 'ː');
  if (key === '') return [];
  const direct = ESPEAK_IPA[key] ?? ESPEAK_IPA[key.replace(/ː/g, '')];
  if (direct !== undefined) return direct;
  // r-coloured vowels that espeak-ng writes as one phoneme: vowel + ɹ.
  if (key.endsWith('ɹ') && key.length > 1) {
    const vowel = ESPEAK_IPA[key.slice(0, -1)] ?? ESPEAK_IPA[key.slice(0, -1).replace(/ː/g, '')];
    if (vowel !== undefined) return [...vowel, 'r'];
  }
  throw new InvalidInputError(`espeak-ng produced the phoneme ${JSON.stringify(token)} for ${JSON.stringify(text.slice(0, 60))}, which ${PHONEME_INVENTORY} does not map (is the voice English?)`, { details: { phoneme: token } });
}

/**
 * Map espeak-ng output (`espeak-ng -q --ipa --sep=' '`: phonemes separated by spaces, words by double
 * spaces or newlines) to inventory symbols. Language-switch markers such as `(fr)` are dropped.
 * @throws InvalidInputError naming the symbol when a phoneme has no mapping (non-English output).
 */
export function normalizeEspeakIpa(ipa: string, text = ''): string[] {
  const cleaned = ipa.replace(/\([a-z-]+\)/g, ' ');
  const out: string[] = [];
  for (const token of cleaned.split(/\s+/)) if (token !== '') out.push(...mapEspeakToken(token, text));
  return out;
}

/**
 * Map Flite segments (`flite -ps`: ARPAbet, `pau` for pauses) to inventory symbols.
 * @throws InvalidInputError for a symbol outside ARPAbet.
 */
export function normalizeArpabet(segments: string, text = ''): string[] {
  const out: string[] = [];
  for (const raw of segments.split(/\s+/)) {
    const p = raw.toLowerCase().replace(/[012]$/, '');
    if (p === '' || p === 'pau' || p === 'h#' || p === 'sil') continue;
    const sym = p === 'ax' ? 'ah' : p === 'axr' ? 'er' : p === 'dx' ? 't' : p;
    if (!INDEX.has(sym)) throw new InvalidInputError(`flite produced the segment ${JSON.stringify(raw)} for ${JSON.stringify(text.slice(0, 60))}, outside ${PHONEME_INVENTORY}`, { details: { phoneme: raw } });
    out.push(sym);
  }
  return out;
}
