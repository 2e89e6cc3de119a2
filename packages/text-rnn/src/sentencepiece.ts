/**
 * A SentencePiece unigram segmenter over a vocabulary of `[piece, log probability]` pairs (the `vocab.json` of
 * the Universal Sentence Encoder lite for TensorFlow.js). The text is NFKC-normalized, its whitespace runs become
 * one `▁` (U+2581) and a `▁` starts it, as SentencePiece's default normalizer does; the segmentation is the
 * Viterbi path that maximizes the sum of the pieces' scores. A character that no piece covers is the unknown id
 * at SentencePiece's penalty (the lowest score less 10), and a run of unknown characters becomes one unknown id.
 * Side-effect free.
 */

/** SentencePiece's word-boundary mark. */
export const SENTENCEPIECE_SPACE = '\u2581';

/** Options of `SentencePieceUnigram`. */
export interface SentencePieceOptions {
  /** Leading vocabulary entries that are control symbols, never matched in text (`<unk>`, `<s>`, `</s>`, ...). Default 0. */
  reserved?: number;
  /** Id of the unknown piece. Default 0. */
  unknownId?: number;
}

export class SentencePieceUnigram {
  /** Pieces by their text: [id, score]. */
  private readonly pieces = new Map<string, readonly [number, number]>();
  /** Longest piece, in code points. */
  private readonly longest: number;
  private readonly unknownScore: number;
  private byId: Map<number, string> | undefined;
  readonly unknownId: number;
  readonly size: number;

  /**
   * @param vocabulary `[piece, score]` per id; a score may be `null` (taken as 0).
   * @throws TypeError when an entry is not a `[string, number | null]` pair.
   */
  constructor(vocabulary: readonly (readonly [string, number | null])[], options: SentencePieceOptions = {}) {
    const reserved = options.reserved ?? 0;
    this.unknownId = options.unknownId ?? 0;
    this.size = vocabulary.length;
    let longest = 1;
    let lowest = 0;
    vocabulary.forEach((entry, id) => {
      const [piece, score] = Array.isArray(entry) ? entry : [];
      if (typeof piece !== 'string' || !(score === null || (typeof score === 'number' && Number.isFinite(score)))) {
        throw new TypeError(`vocabulary entry ${id} must be [piece, score], got ${JSON.stringify(entry)}`);
      }
      if (id < reserved || piece.length === 0) return;
      const s = score ?? 0;
      // The first of two equal pieces wins, as in SentencePiece's model proto.
      if (!this.pieces.has(piece)) this.pieces.set(piece, [id, s]);
      longest = Math.max(longest, [...piece].length);
      lowest = Math.min(lowest, s);
    });
    this.longest = longest;
    this.unknownScore = lowest - 10;
  }

  /** The text as SentencePiece sees it: NFKC, whitespace runs → one `▁`, a leading `▁`; empty for blank text. */
  static normalize(text: string): string {
    const t = text.normalize('NFKC').trim().replace(/\s+/gu, ' ');
    return t.length === 0 ? '' : SENTENCEPIECE_SPACE + t.replaceAll(' ', SENTENCEPIECE_SPACE);
  }

  /** The ids of the best segmentation of `text` (empty for blank text). */
  encode(text: string): number[] {
    const chars = [...SentencePieceUnigram.normalize(text)];
    const n = chars.length;
    const best = new Float64Array(n + 1).fill(Number.NEGATIVE_INFINITY);
    const from = new Int32Array(n + 1);
    const ids = new Int32Array(n + 1);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      const base = best[i] as number;
      let piece = '';
      for (let l = 1; l <= this.longest && i + l <= n; l++) {
        piece += chars[i + l - 1];
        const hit = this.pieces.get(piece);
        if (hit !== undefined && base + hit[1] > (best[i + l] as number)) {
          best[i + l] = base + hit[1];
          from[i + l] = i;
          ids[i + l] = hit[0];
        }
      }
      // Every character may also be unknown, so every position is reachable.
      if (base + this.unknownScore > (best[i + 1] as number)) {
        best[i + 1] = base + this.unknownScore;
        from[i + 1] = i;
        ids[i + 1] = this.unknownId;
      }
    }
    const out: number[] = [];
    for (let k = n; k > 0; k = from[k] as number) out.push(ids[k] as number);
    out.reverse();
    return out.filter((id, k) => !(id === this.unknownId && out[k - 1] === this.unknownId));
  }

  /** The id of a piece, or undefined when the vocabulary lacks it. */
  idOf(piece: string): number | undefined {
    return this.pieces.get(piece)?.[0];
  }

  /** The pieces of `encode(text)`, an unknown run shown as `<unk>`. */
  segment(text: string): string[] {
    this.byId ??= new Map([...this.pieces].map(([p, [id]]) => [id, p]));
    const byId = this.byId;
    return this.encode(text).map((id) => (id === this.unknownId ? '<unk>' : (byId.get(id) as string)));
  }
}
