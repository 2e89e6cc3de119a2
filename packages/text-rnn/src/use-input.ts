/**
 * The input side of the Universal Sentence Encoder lite, shared by the `text/use` encoder (Node) and the
 * browser page: a text's SentencePiece ids as the model sees them, and a batch of id lists as the model's
 * sparse `indices` / `values` inputs. Side-effect free (no TensorFlow.js).
 */
import { normalizeText } from './normalize-text.js';
import { SENTENCEPIECE_SPACE } from './sentencepiece.js';
import type { SentencePieceUnigram } from './sentencepiece.js';

/** Width of the Universal Sentence Encoder lite's embedding. */
export const USE_DIM = 512;

/** The most pieces the model reads: its graph drops every id after the 128th (`ClipToMaxLength/Less/y`). */
export const USE_GRAPH_MAX_TOKENS = 128;

/** Control symbols at the start of the model's vocabulary (`<unk>`, `<s>`, `</s>`, three reserved). */
export const USE_RESERVED_PIECES = 6;

/**
 * The ids the model sees for `text` (mmfuse's clean-up, then the segmenter), at most `maxTokens` of them and never
 * more than the model reads (`USE_GRAPH_MAX_TOKENS`), and whether they were truncated. A blank text is a lone word
 * boundary, so every text has a vector.
 */
export function useTokenIds(tokenizer: SentencePieceUnigram, text: string, maxTokens: number): { ids: number[]; truncated: boolean } {
  maxTokens = Math.min(maxTokens, USE_GRAPH_MAX_TOKENS);
  const all = tokenizer.encode(normalizeText(text));
  if (all.length === 0) return { ids: [tokenizer.idOf(SENTENCEPIECE_SPACE) ?? tokenizer.unknownId], truncated: false };
  return all.length > maxTokens ? { ids: all.slice(0, maxTokens), truncated: true } : { ids: all, truncated: false };
}

/** A batch of id lists as the model's inputs: `indices` [total, 2] (row, position) and `values` [total], int32. */
export function useSparseInputs(lists: readonly (readonly number[])[]): { indices: Int32Array; values: Int32Array; total: number } {
  const total = lists.reduce((a, l) => a + l.length, 0);
  const indices = new Int32Array(total * 2);
  const values = new Int32Array(total);
  let k = 0;
  lists.forEach((l, row) => l.forEach((id, col) => { indices[2 * k] = row; indices[2 * k + 1] = col; values[k] = id; k++; }));
  return { indices, values, total };
}
