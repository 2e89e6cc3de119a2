/**
 * `mmfuse distill --augment-text N`: corrupted copies of the training data's typed text, for the teacher to
 * label. A student copies its teacher's function best where it sees the teacher answer inputs around the
 * training data, not the training data alone, which the teacher has learned by heart (Beyer et al. 2022,
 * "Knowledge distillation: a good teacher is patient and consistent"). A copy is `corruptText` at its default
 * rates (typos, missing spaces, capitals, emoji, words in the other language) with words dropped at 0.2.
 */
import { ConfigError, InvalidInputError, createRecord, createRng, describeValue, hashString, skippedFromError } from '@mmfuse/core';
import type { ManifestSample, SkippedSample } from '@mmfuse/core';
import { corruptText } from '@mmfuse/text-rnn/tokenizers';

/** Probability that a word of a text of three or more words is left out of a copy (`corruptText`'s `dropWord`). */
export const AUGMENT_WORD_DROP = 0.2;

/**
 * `copies` corrupted copies of each sample's text `fields` (those the sample has as non-empty strings), without
 * its other fields (the label included): samples without such a field get none. Ids are
 * `<sample id>~text<k>`; `line` is the sample's. Seeded: one `seed` gives the same copies. A listed field
 * holding something other than a string is refused with an InvalidInputError naming the sample and field: with
 * `options.onSkip`, that sample gets no copies, the refusal is reported there (`file`: `options.file`, default
 * `train`) and the other samples get theirs; without it, the error is thrown.
 */
export function augmentTexts(samples: readonly ManifestSample[], fields: readonly string[], copies: number, seed: number, options: { onSkip?: (skipped: SkippedSample) => void; file?: string } = {}): ManifestSample[] {
  if (!Number.isInteger(copies) || copies < 0) throw new ConfigError(`must be a whole number of at least 0, got ${copies}`, { path: 'augment-text' });
  const rng = createRng(hashString(`augment-text:${seed}`));
  const out: ManifestSample[] = [];
  for (const s of samples) {
    const wrong = fields.find((f) => s.fields[f] !== undefined && typeof s.fields[f] !== 'string');
    if (wrong !== undefined) {
      const err = new InvalidInputError(`must be text to make corrupted copies of, got ${describeValue(s.fields[wrong])}`, { sample: s.id, line: s.line, field: wrong });
      if (options.onSkip === undefined) throw err;
      options.onSkip(skippedFromError(err, { file: options.file ?? 'train', line: s.line }));
      continue;
    }
    const texts = fields.filter((f) => { const v = s.fields[f]; return typeof v === 'string' && v.trim() !== ''; });
    if (texts.length === 0) continue;
    for (let k = 1; k <= copies; k++) {
      const copy = createRecord<unknown>();
      for (const f of texts) copy[f] = corruptText(s.fields[f] as string, rng, { dropWord: AUGMENT_WORD_DROP });
      out.push({ id: `${s.id}~text${k}`, line: s.line, fields: copy, baseDir: s.baseDir });
    }
  }
  return out;
}
