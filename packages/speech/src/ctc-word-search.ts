/**
 * Words straight from the CTC posteriors: a frame-synchronous beam search constrained to a pronunciation
 * lexicon (a prefix tree of its pronunciations) with the lexicon's word-bigram language model, the decoder of
 * classic CTC recognisers (token passing through a lexicon tree, as in EESEN or torchaudio's lexicon-constrained
 * CTC decoder; written here from the idea, not from their code).
 *
 * `decodeWords` reads only the greedy phoneme string (one symbol per run of frames), so a confident wrong phoneme
 * costs a whole edit and a phoneme the model was unsure between is lost. This search scores every frame's
 * posterior of every symbol along each path: a word is `Σ log p(symbol | frame)` over an alignment of its
 * pronunciation (CTC rules: blanks between symbols, a repeated symbol needs a blank between its two copies,
 * across word boundaries too), plus `lmWeight · log P(word | previous word)` plus `wordBonus`. A phoneme
 * outside any word may be heard between words for `skipCost` (so a word missing from the lexicon does not
 * force a wrong long word). Viterbi: each hypothesis keeps its best alignment; hypotheses in the same state
 * (tree node, LM context: the previous word or two, last symbol, whether a blank followed it) merge, the best survives.
 *
 * With a lexicon that has word triples (`trigrams`), a word's probability is conditioned on the two words before
 * it, smoothed towards the pair probability (`trigramPrior`); hypotheses then merge on their last two words.
 *
 * The defaults (lmWeight 0.7, wordBonus 0.5, beam 128, skipCost 10, bigramPrior 8, trigramPrior 2) were chosen by
 * `scripts/speech/tune-decoder.ts --search beam` on validation speakers only (362 clips: the bot's validation
 * messages and 300 Banking77 queries in `validationVoices()`): word error rate 7.7% with word pairs, 7.0% with
 * triples, against 9.1% for the greedy phonemes through `decodeWords` with the same encoder and lexicon.
 */
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { checkNumber } from '@mmfuse/core/base';
import { decoderOption } from './internal/check.js';
import { PHONEMES } from './phonemes.js';
import { checkLexiconOnce, trigramLogProbability } from './word-decoder.js';
import type { Lexicon } from './word-decoder.js';

/** Options of `searchCtcWords`. */
export interface CtcWordSearchOptions {
  /** Weight of the natural-log word probability given the previous word(s) (smoothed by `bigramPrior`, `trigramPrior`). Default 0.7. */
  lmWeight?: number;
  /** Added per word (log domain; positive favours more, shorter words). Default 0.5. */
  wordBonus?: number;
  /** Prior weight of the unigram in P(w | u), as in `decodeWords`. Default 8; Infinity: unigrams only. */
  bigramPrior?: number;
  /**
   * With a lexicon that has `trigrams`: prior weight γ of the bigram in P(w | t, u) = (count(t, u, w) +
   * γ P(w | u)) / (count(t, u) + γ). Default 2; Infinity: word pairs only.
   */
  trigramPrior?: number;
  /** Cost of a phoneme heard between words that no word explains (log domain). Default 10; Infinity: never. */
  skipCost?: number;
  /** Hypotheses kept per frame. Default 128. */
  beam?: number;
  /** Hypotheses scoring more than this below the frame's best are dropped (log domain). Default 16. */
  beamThreshold?: number;
}

/** Posteriors of one clip: `frames` rows of `classes` natural-log probabilities, class 0 the blank, class k the phoneme `PHONEMES[k - 1]`. */
export interface CtcPosteriors {
  logProbs: Float32Array | Float64Array;
  frames: number;
  classes: number;
}

interface Tree {
  /** Per node: child node by class id (0 = none). */
  child: Int32Array[];
  /** Per node: the words whose pronunciation ends there. */
  words: number[][];
  /** Per node: the class ids of its children (for iteration). */
  labels: Int8Array[];
}

const treeCache = new WeakMap<Lexicon, Tree>();

/** The prefix tree of a lexicon's pronunciations over the CTC classes (blank 0, `PHONEMES[k - 1]` as k), built once. */
function lexiconTree(lexicon: Lexicon): Tree {
  const hit = treeCache.get(lexicon);
  if (hit !== undefined) return hit;
  const classes = PHONEMES.length + 1;
  const symbol = new Map(PHONEMES.map((p, i) => [p, i + 1]));
  const child: Int32Array[] = [new Int32Array(classes)];
  const words: number[][] = [[]];
  lexicon.pronunciations.forEach((pron, w) => {
    let node = 0;
    for (const s of pron.split(' ')) {
      const c = symbol.get(s) as number; // checkLexicon: every symbol is in the inventory
      let next = child[node]![c] as number;
      if (next === 0) {
        next = child.length;
        child.push(new Int32Array(classes));
        words.push([]);
        child[node]![c] = next;
      }
      node = next;
    }
    if (node !== 0) words[node]!.push(w);
  });
  const labels = child.map((row) => Int8Array.from([...row.keys()].filter((c) => row[c] !== 0)));
  const tree: Tree = { child, words, labels };
  treeCache.set(lexicon, tree);
  return tree;
}

/** The options with their defaults, checked. @throws ConfigError naming a bad option. */
export function resolveCtcWordSearchOptions(options: CtcWordSearchOptions = {}): Required<CtcWordSearchOptions> {
  return {
    lmWeight: decoderOption(options.lmWeight, 0.7, 'lmWeight'),
    wordBonus: checkNumber(options.wordBonus ?? 0.5, 'wordBonus'),
    // > 0: a prior of 0 would give an unseen word pair (triple) probability 0 and an unseen context 0/0.
    bigramPrior: decoderOption(options.bigramPrior, 8, 'bigramPrior', { positive: true, infinite: true }),
    trigramPrior: decoderOption(options.trigramPrior, 2, 'trigramPrior', { positive: true, infinite: true }),
    skipCost: decoderOption(options.skipCost, 10, 'skipCost', { infinite: true }),
    beam: Math.max(1, Math.floor(decoderOption(options.beam, 128, 'beam'))),
    beamThreshold: decoderOption(options.beamThreshold, 16, 'beamThreshold', { infinite: true }),
  };
}

/** One hypothesis of `searchCtcWordsNBest`: its words and its score (acoustic log-posteriors + LM + bonuses). */
export interface CtcWordHypothesis {
  words: string[];
  score: number;
}

/**
 * The lexicon words that best explain one clip's CTC posteriors, in order. No frames, or an empty lexicon, give no words.
 * @throws InvalidInputError when the posteriors' shape does not match (`classes` must be 1 + the phoneme inventory).
 */
export function searchCtcWords(posteriors: CtcPosteriors, lexicon: Lexicon, options: CtcWordSearchOptions = {}): string[] {
  return search(posteriors, lexicon, resolveCtcWordSearchOptions(options), 1, false)[0]?.words ?? [];
}

/**
 * The `n` best distinct word sequences of one clip, best first, each with its score. Hypotheses merge only when
 * their word sequences are equal (not, as in `searchCtcWords`, when their last words are), so the beam holds
 * different readings; its best is usually, not always, `searchCtcWords`'s answer. No frames give `[{ words: [] }]`
 * with score 0; an empty lexicon gives no hypotheses.
 * @throws InvalidInputError as `searchCtcWords`; ConfigError when `n` is not a positive integer.
 */
export function searchCtcWordsNBest(posteriors: CtcPosteriors, lexicon: Lexicon, n: number, options: CtcWordSearchOptions = {}): CtcWordHypothesis[] {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`n must be a positive integer, got ${String(n)}`, { path: 'nBest' });
  return search(posteriors, lexicon, resolveCtcWordSearchOptions(options), n, true);
}

function search(posteriors: CtcPosteriors, lexicon: Lexicon, o: Required<CtcWordSearchOptions>, n: number, distinct: boolean): CtcWordHypothesis[] {
  const { logProbs, frames: T, classes: C } = posteriors;
  if (C !== PHONEMES.length + 1) throw new InvalidInputError(`posteriors have ${C} classes, expected ${PHONEMES.length + 1} (blank + the phoneme inventory)`, { field: 'classes' });
  if (!Number.isInteger(T) || T < 0 || logProbs.length < T * C) throw new InvalidInputError(`posteriors hold ${logProbs.length} values, fewer than ${T} frames × ${C} classes`, { field: 'logProbs' });
  checkLexiconOnce(lexicon);
  if (lexicon.words.length === 0) return [];
  if (T === 0) return [{ words: [], score: 0 }];
  const tree = lexiconTree(lexicon);
  const lm = trigramLogProbability(lexicon, o.bigramPrior, o.trigramPrior);
  const useTrigrams = lexicon.trigrams !== undefined && o.trigramPrior !== Number.POSITIVE_INFINITY;
  // LM contexts, interned: the last word (and, with trigrams, the one before it); id 0 is the start.
  const ctxFirst: number[] = [-1];
  const ctxLast: number[] = [-1];
  const ctxIds = new Map<string, number>();
  const nextContext = (ctx: number, w: number): number => {
    const t = useTrigrams ? (ctxLast[ctx] as number) : -1;
    const key = `${t},${w}`;
    let id = ctxIds.get(key);
    if (id === undefined) {
      ctxIds.set(key, (id = ctxFirst.length));
      ctxFirst.push(t);
      ctxLast.push(w);
    }
    return id;
  };
  const lmCache = new Map<number, number>();
  const W = lexicon.words.length;
  const wordScore = (ctx: number, w: number): number => {
    const key = ctx * W + w;
    let s = lmCache.get(key);
    if (s === undefined) lmCache.set(key, (s = o.lmWeight * lm(ctxFirst[ctx] as number, ctxLast[ctx] as number, w) + o.wordBonus));
    return s;
  };
  // Word history: a shared linked list (word, previous entry); -1 ends it. With `distinct`, each entry also
  // has the id of its word sequence (equal sequences, equal ids), which then takes the LM context's place in
  // the merge key.
  const histWord: number[] = [];
  const histPrev: number[] = [];
  const histSeq: number[] = [];
  const seqIds = new Map<string, number>();
  const seqOf = (h: number): number => (h < 0 ? 0 : (histSeq[h] as number));
  const nodes = tree.child.length;

  // Hypotheses of one frame, struct of arrays; `at` merges equal states.
  class Frame {
    node: number[] = []; ctx: number[] = []; last: number[] = []; blank: number[] = []; score: number[] = []; hist: number[] = [];
    at = new Map<number, number>();
    floor = Number.NEGATIVE_INFINITY;
    best = Number.NEGATIVE_INFINITY;
    add(node: number, ctx: number, last: number, blank: number, score: number, hist: number): void {
      if (score < this.floor) return;
      // The last symbol matters only at the root (inside the tree it is the node's own label).
      const context = distinct ? seqOf(hist) * nodes : ctx * nodes;
      const key = ((context + node) * C + (node === 0 ? last : 0)) * 2 + blank;
      const k = this.at.get(key);
      if (k === undefined) {
        this.at.set(key, this.node.length);
        this.node.push(node); this.ctx.push(ctx); this.last.push(last); this.blank.push(blank); this.score.push(score); this.hist.push(hist);
      } else if (score > (this.score[k] as number)) {
        this.score[k] = score; this.last[k] = last; this.hist[k] = hist;
      } else return;
      if (score > this.best) this.best = score;
    }
    /** Word ends: every hypothesis at a node that ends words also continues at the root after each of them. */
    closeWords(): void {
      const n = this.node.length;
      for (let k = 0; k < n; k++) {
        const ends = tree.words[this.node[k] as number] as number[];
        for (const w of ends) {
          histWord.push(w);
          histPrev.push(this.hist[k] as number);
          if (distinct) {
            const id = `${seqOf(this.hist[k] as number)},${w}`;
            let seq = seqIds.get(id);
            if (seq === undefined) seqIds.set(id, (seq = seqIds.size + 1));
            histSeq.push(seq);
          }
          const ctx = this.ctx[k] as number;
          this.add(0, nextContext(ctx, w), this.last[k] as number, this.blank[k] as number, (this.score[k] as number) + wordScore(ctx, w), histWord.length - 1);
        }
      }
    }
    /** Indices of the hypotheses kept: the `beam` best within `beamThreshold` of the best. */
    kept(): number[] {
      const idx = this.score.map((_, k) => k).filter((k) => (this.score[k] as number) >= this.best - o.beamThreshold);
      idx.sort((a, b) => (this.score[b] as number) - (this.score[a] as number));
      return idx.length > o.beam ? idx.slice(0, o.beam) : idx;
    }
  }

  let cur = new Frame();
  cur.add(0, 0, 0, 1, 0, -1);
  for (let t = 0; t < T; t++) {
    const base = t * C;
    let maxLp = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) if ((logProbs[base + c] as number) > maxLp) maxLp = logProbs[base + c] as number;
    const next = new Frame();
    const keep = cur.kept();
    // Nothing may score higher than the best hypothesis plus the frame's best symbol: prune against that bound.
    next.floor = (cur.score[keep[0] as number] as number) + maxLp - o.beamThreshold;
    const blankLp = logProbs[base] as number;
    for (const k of keep) {
      const node = cur.node[k] as number;
      const ctx = cur.ctx[k] as number;
      const last = cur.last[k] as number;
      const blank = cur.blank[k] as number;
      const s = cur.score[k] as number;
      const h = cur.hist[k] as number;
      next.add(node, ctx, last, 1, s + blankLp, h); // a blank
      if (blank === 0 && last !== 0) next.add(node, ctx, last, 0, s + (logProbs[base + last] as number), h); // the same symbol again
      const row = tree.child[node] as Int32Array;
      for (const c of tree.labels[node] as Int8Array) {
        if (c === last && blank === 0) continue; // two copies of a symbol need a blank between them
        next.add(row[c] as number, ctx, c, 0, s + (logProbs[base + c] as number), h);
      }
      if (node === 0 && o.skipCost !== Number.POSITIVE_INFINITY) {
        // A phoneme no word explains, heard between words.
        for (let c = 1; c < C; c++) {
          if (c === last && blank === 0) continue;
          next.add(0, ctx, c, 0, s + (logProbs[base + c] as number) - o.skipCost, h);
        }
      }
    }
    next.closeWords();
    cur = next;
  }
  // The best hypotheses between words at the end, one per word sequence.
  const finals = new Map<number, number>();
  for (let k = 0; k < cur.node.length; k++) {
    if (cur.node[k] !== 0) continue;
    const seq = distinct ? seqOf(cur.hist[k] as number) : 0;
    const at = finals.get(seq);
    if (at === undefined || (cur.score[k] as number) > (cur.score[at] as number)) finals.set(seq, k);
  }
  return [...finals.values()].sort((a, b) => (cur.score[b] as number) - (cur.score[a] as number)).slice(0, n).map((k) => {
    const words: string[] = [];
    for (let h = cur.hist[k] as number; h >= 0; h = histPrev[h] as number) words.push(lexicon.words[histWord[h] as number] as string);
    return { words: words.reverse(), score: cur.score[k] as number };
  });
}
