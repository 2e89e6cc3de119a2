/**
 * Phoneme sequences for `audio/phonetic` with `output: 'phonemes'`: CTC frame posteriors collapsed to one
 * distribution per recognised phoneme (the "CTC collapse" of greedy decoding, kept soft), and phoneme
 * transcripts (e.g. of typed text) written in the same form, so one reader learns from both.
 */
import { InvalidInputError } from '@mmfuse/core/base';

/** A phoneme sequence as `audio/phonetic` prepares it: one distribution over the symbols per phoneme. */
export interface PreparedPhonemeSequence {
  /** `[length, symbols]` row by row: each row a probability distribution over the CTC symbols (no blank). */
  phonemes: Float32Array;
  /** Phonemes in the sequence (>= 1). */
  length: number;
}

/**
 * The frame-averaging matrix of the CTC collapse: for clip b, a segment is a maximal run of frames whose
 * most likely class is the same non-blank symbol (a blank ends a run, as in greedy decoding); row l of
 * `weights[b]` averages the frames of segment l. A clip with no non-blank frame keeps its least-blank frame,
 * so every clip has at least one phoneme.
 * @param argmax `[B, T]` most likely class per frame (0 = blank).
 * @param blank `[B, T]` blank probability per frame.
 * @param lengths valid frames per clip.
 * @returns `weights` `[B, L, T]` (L = the longest clip's segment count) and each clip's segment count.
 */
export function collapseWeights(argmax: ArrayLike<number>, blank: ArrayLike<number>, B: number, T: number, lengths: readonly number[]): { weights: Float32Array; L: number; counts: number[] } {
  const segments: [number, number][][] = [];
  for (let b = 0; b < B; b++) {
    const list: [number, number][] = [];
    const n = Math.min(lengths[b] as number, T);
    let start = -1;
    for (let t = 0; t <= n; t++) {
      const c = t < n ? (argmax[b * T + t] as number) : 0;
      const prev = start >= 0 ? (argmax[b * T + start] as number) : 0;
      if (start >= 0 && c !== prev) { list.push([start, t]); start = -1; }
      if (start < 0 && c !== 0 && t < n) start = t;
    }
    if (list.length === 0 && n > 0) {
      let best = 0;
      for (let t = 1; t < n; t++) if ((blank[b * T + t] as number) < (blank[b * T + best] as number)) best = t;
      list.push([best, best + 1]);
    }
    segments.push(list);
  }
  const counts = segments.map((s) => s.length);
  const L = Math.max(1, ...counts);
  const weights = new Float32Array(B * L * T);
  segments.forEach((list, b) => list.forEach(([s, e], l) => {
    for (let t = s; t < e; t++) weights[(b * L + l) * T + t] = 1 / (e - s);
  }));
  return { weights, L, counts };
}

/**
 * A phoneme transcript as a sequence of distributions: symbol i gets `1 - smoothing` plus `smoothing /
 * symbols`, the others `smoothing / symbols`. Unknown symbols are an `InvalidInputError` naming them.
 */
export function phonemeSequenceOf(transcript: readonly string[], symbols: readonly string[], smoothing: number): PreparedPhonemeSequence {
  if (transcript.length === 0) throw new InvalidInputError('the phoneme transcript is empty');
  const index = new Map(symbols.map((s, i) => [s, i]));
  const S = symbols.length;
  const out = new Float32Array(transcript.length * S).fill(smoothing / S);
  transcript.forEach((p, l) => {
    const i = index.get(p);
    if (i === undefined) throw new InvalidInputError(`phoneme ${JSON.stringify(p)} (position ${l}) is not one of the encoder's ${S} symbols`);
    out[l * S + i] = 1 - smoothing + smoothing / S;
  });
  return { phonemes: out, length: transcript.length };
}

/** True for a value shaped like a `PreparedPhonemeSequence`. */
export function isPhonemeSequence(v: unknown): v is PreparedPhonemeSequence {
  return typeof v === 'object' && v !== null && (v as PreparedPhonemeSequence).phonemes instanceof Float32Array && typeof (v as PreparedPhonemeSequence).length === 'number';
}
