/** Train-time text augmentation of the selection runs and benchmarks: seeded corrupted copies of each row. */
import { createRng } from '@mmfuse/core';
import { corruptText } from '@mmfuse/text-rnn/tokenizers';
import type { TextCorruptionOptions } from '@mmfuse/text-rnn/tokenizers';
import type { Row } from './text-data.js';

/** The rows followed by `copies` corrupted copies of each (ids suffixed `~k`). */
export function augmentRows(rows: readonly Row[], copies: number, seed: number, options: TextCorruptionOptions = {}): Row[] {
  const rng = createRng(seed).fork('augment');
  const out = [...rows];
  for (let k = 1; k <= copies; k++) for (const r of rows) out.push({ id: `${r.id}~${k}`, text: corruptText(r.text, rng, options), label: r.label });
  return out;
}

/** A corrupted copy of each row (same ids), for the robustness figures. */
export function corruptRows(rows: readonly Row[], seed: number, options: TextCorruptionOptions = {}): Row[] {
  const rng = createRng(seed).fork('corrupt');
  return rows.map((r) => ({ ...r, text: corruptText(r.text, rng, options) }));
}
