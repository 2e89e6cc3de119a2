/**
 * `mmfuse distill --augment-text N`: corrupted copies of the training data's typed text, for the teacher to
 * label. A student copies its teacher's function best where it sees the teacher answer inputs around the
 * training data, not the training data alone, which the teacher has learned by heart (Beyer et al. 2022,
 * "Knowledge distillation: a good teacher is patient and consistent"). A copy is the text with each word
 * dropped with probability 0.2 (at least one word stays), then `corruptText` at its default rates (typos,
 * missing spaces, capitals, emoji, words in the other language).
 */
import { createRecord, createRng, hashString } from '@mmfuse/core';
import type { ManifestSample, Rng } from '@mmfuse/core';
import { corruptText } from '@mmfuse/text-rnn/tokenizers';

/** Probability that a word of a text of three or more words is left out of a copy. */
export const AUGMENT_WORD_DROP = 0.2;

/**
 * `copies` corrupted copies of each sample's text `fields` (those the sample has as non-empty strings), without
 * its other fields (the label included): samples without such a field get none. Ids are
 * `<sample id>~text<k>`; `line` is the sample's. Seeded: one `seed` gives the same copies.
 */
export function augmentTexts(samples: readonly ManifestSample[], fields: readonly string[], copies: number, seed: number): ManifestSample[] {
  const rng = createRng(hashString(`augment-text:${seed}`));
  const out: ManifestSample[] = [];
  for (const s of samples) {
    const texts = fields.filter((f) => typeof s.fields[f] === 'string' && (s.fields[f] as string).trim() !== '');
    if (texts.length === 0) continue;
    for (let k = 1; k <= copies; k++) {
      const copy = createRecord<unknown>();
      for (const f of texts) copy[f] = corruptText(dropWords(s.fields[f] as string, rng), rng);
      out.push({ id: `${s.id}~text${k}`, line: s.line, fields: copy, baseDir: s.baseDir });
    }
  }
  return out;
}

/** `text` with each space-separated word dropped with probability AUGMENT_WORD_DROP when it has 3+ words; never empty. */
function dropWords(text: string, rng: Rng): string {
  const words = text.split(' ');
  if (words.length < 3) return text;
  const kept = words.filter(() => !rng.bernoulli(AUGMENT_WORD_DROP));
  return kept.length > 0 ? kept.join(' ') : (words[0] as string);
}
