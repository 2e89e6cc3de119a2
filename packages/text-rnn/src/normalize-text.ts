/**
 * Text clean-up applied before every tokenizer, so that odd input is handled by rule instead of crashing:
 * 1. lone UTF-16 surrogates become U+FFFD (they cannot be normalized, encoded or shown);
 * 2. Unicode NFKC (full-width Latin becomes ASCII, ligatures split, compatibility forms unified);
 * 3. whitespace control characters (tab, newline, ...) become a space; other control characters (C0, C1)
 *    and invisible format characters (zero-width space, BOM, bidi marks, soft hyphen) are removed; the
 *    zero-width joiner is kept because it builds emoji sequences;
 * 4. runs of whitespace collapse to one space and the ends are trimmed;
 * 5. optional lowercasing (locale-independent `toLowerCase`).
 */

/** Options of {@link normalizeText}. */
export interface NormalizeTextOptions {
  /** Lowercase after NFKC. Default `false`. */
  lowercase?: boolean;
}

// Lone high surrogate (not followed by a low one) or lone low surrogate (not preceded by a high one).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Whitespace controls and Unicode separators become one space.
const WHITESPACE = /[\s\u0085\u2028\u2029]+/g;
// C0/C1 controls (whitespace already replaced) and format characters except ZWJ (U+200D).
const INVISIBLE = /[\p{Cc}\u00AD\u200B\u200C\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]/gu;

/** Replace lone UTF-16 surrogates with U+FFFD, leaving valid pairs alone. */
export function replaceLoneSurrogates(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** Clean a raw text by the rules above. Never throws for any string. */
export function normalizeText(text: string, options: NormalizeTextOptions = {}): string {
  let out = replaceLoneSurrogates(text).normalize('NFKC');
  out = out.replace(WHITESPACE, ' ').replace(INVISIBLE, '').replace(WHITESPACE, ' ').trim();
  if (options.lowercase === true) out = out.toLowerCase();
  return out;
}
