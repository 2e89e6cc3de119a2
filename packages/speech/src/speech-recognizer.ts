/**
 * `SpeechRecognizer`: what a pretrained `audio/phonetic` folder hears in a clip (greedy CTC phonemes) and,
 * with a lexicon, its words: a beam search of the CTC posteriors through the lexicon (`searchCtcWords`, the
 * default) or the words the greedy phonemes spell (`decodeWords`). This is the voice half of the cascade that
 * lets a voice request reach a model trained on typed text: clip -> phonemes -> words -> text model.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, createRng, ctcGreedyDecode, isMmfuseError } from '@mmfuse/core';
import type { MmfuseError, PrepareContext } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import type { AudioInput, PreparedPhoneticAudio } from '@mmfuse/audio';
import { PHONEMES } from './phonemes.js';
import { checkLexicon, decodeWords, resolveDecodeOptions } from './word-decoder.js';
import type { DecodeWordsOptions, Lexicon } from './word-decoder.js';
import { resolveCtcWordSearchOptions, searchCtcWords, searchCtcWordsNBest } from './ctc-word-search.js';
import type { CtcPosteriors, CtcWordHypothesis, CtcWordSearchOptions } from './ctc-word-search.js';

/** Options of `SpeechRecognizer.load`. */
export interface SpeechRecognizerOptions {
  /** A folder written by `pretrainSpeechEncoder` (CTC head over `PHONEMES`). */
  encoder: string;
  /** A lexicon (or the path of its JSON file) to decode words; without one, only phonemes are returned. */
  lexicon?: Lexicon | string;
  /** Options of `decodeWords` (words from the greedy phonemes; `search: 'greedy'`). */
  decode?: DecodeWordsOptions;
  /**
   * How words are found: `'beam'` searches the frame posteriors through the lexicon with its word pairs (and triples)
   * (`searchCtcWords`; word error rate 7.0% on validation speakers, 19.8% on the bot's held-out test voices, with the shipped lexicon's word triples);
   * `'greedy'` reads the greedy CTC phonemes with `decodeWords` (9.1% and 25.5% as the recognizer ran it before stop 30).
   * Default `'beam'`.
   */
  search?: 'greedy' | 'beam';
  /** Options of `searchCtcWords` (`search: 'beam'`). */
  beam?: CtcWordSearchOptions;
  /**
   * With `search: 'beam'` and n > 1: each transcript also lists the n best distinct word sequences
   * (`alternatives`, `searchCtcWordsNBest`), and `words` is the first of them (one search per clip; it may differ
   * from `searchCtcWords`'s answer, whose beam merges hypotheses by their last words). Default 1.
   */
  nBest?: number;
  /** Clips per forward pass. Default 16. */
  batchSize?: number;
}

/** What the recognizer heard in one clip. */
export interface Transcript {
  phonemes: string[];
  /** The lexicon words (`null` without a lexicon). */
  words: string[] | null;
  /** The `nBest` best distinct word sequences with their scores, best first (only with `nBest` > 1). */
  alternatives?: CtcWordHypothesis[];
}

/** One clip to transcribe: the audio (a path, resolved against `baseDir`, or bytes / samples) and its name in errors. */
export interface RecognizerInput {
  sample: string | number;
  audio: AudioInput;
}

export class SpeechRecognizer {
  private constructor(
    private readonly encoder: AudioPhoneticEncoder,
    readonly lexicon: Lexicon | null,
    private readonly decode: DecodeWordsOptions,
    private readonly batchSize: number,
    private readonly search: 'greedy' | 'beam',
    private readonly beam: CtcWordSearchOptions,
    private readonly nBest: number,
  ) {}

  /**
   * Loads the encoder (frozen, inference only) and the lexicon.
   * @throws ConfigError when the folder has no phoneme CTC head or the lexicon is malformed.
   */
  static async load(options: SpeechRecognizerOptions): Promise<SpeechRecognizer> {
    if (options === null || typeof options !== 'object' || typeof options.encoder !== 'string') throw new ConfigError('options { encoder: DIR } are required', { path: 'encoder' });
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`must be a positive integer, got ${String(batchSize)}`, { path: 'batchSize' });
    let lexicon: Lexicon | null = null;
    if (typeof options.lexicon === 'string') {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(options.lexicon, 'utf8'));
      } catch (err) {
        throw new ConfigError(`cannot read the lexicon ${options.lexicon}: ${(err as Error).message}`, { path: 'lexicon', cause: err });
      }
      lexicon = checkLexicon(raw, 'lexicon');
    } else if (options.lexicon !== undefined) lexicon = checkLexicon(options.lexicon, 'lexicon');
    // Checked now, not per clip; passed on as given, so decodeWords applies its own defaults (the resolved ones
    // would pin wordPenalty to the unigram default 0.5 where a lexicon with word pairs takes 0.25).
    resolveDecodeOptions(options.decode);
    const decode = { ...options.decode };
    const search = options.search ?? 'beam';
    if (search !== 'greedy' && search !== 'beam') throw new ConfigError(`must be "greedy" or "beam", got ${JSON.stringify(search)}`, { path: 'search' });
    const beam = resolveCtcWordSearchOptions(options.beam);
    const nBest = options.nBest ?? 1;
    if (!Number.isInteger(nBest) || nBest < 1) throw new ConfigError(`must be a positive integer, got ${String(options.nBest)}`, { path: 'nBest' });
    if (nBest > 1 && search !== 'beam') throw new ConfigError('alternatives need search: "beam"', { path: 'nBest' });
    const encoder = new AudioPhoneticEncoder({ pretrained: options.encoder, freeze: true });
    try {
      encoder.build(createRng(0));
      if (encoder.ctcSymbols === null || encoder.ctcSymbols.join(' ') !== PHONEMES.join(' ')) throw new ConfigError(`${options.encoder} has no CTC head over the ${PHONEMES.length} phonemes`, { path: 'encoder' });
    } catch (err) {
      encoder.dispose();
      throw err;
    }
    return new SpeechRecognizer(encoder, lexicon, decode, batchSize, search, beam, nBest);
  }

  /**
   * Transcribes every clip; a clip that cannot be read gives its typed error (naming the sample) in its place
   * and the others are still transcribed. `context.baseDir` resolves relative paths.
   */
  async transcribe(inputs: readonly RecognizerInput[], context: Pick<PrepareContext, 'baseDir' | 'allowOutsideBaseDir'> = {}): Promise<(Transcript | MmfuseError)[]> {
    if (!Array.isArray(inputs)) throw new InvalidInputError(`inputs must be an array of { sample, audio }, got ${typeof inputs}`, { field: 'audio' });
    const out: (Transcript | MmfuseError)[] = new Array(inputs.length);
    const ready: { i: number; prepared: PreparedPhoneticAudio }[] = [];
    for (const [i, input] of inputs.entries()) {
      if (input === null || typeof input !== 'object' || input.audio === undefined || input.audio === null) {
        out[i] = new InvalidInputError(`input ${i} must be { sample, audio }, got ${input === null ? 'null' : typeof input === 'object' ? 'no audio' : typeof input}`, { sample: i, field: 'audio' });
        continue;
      }
      try {
        ready.push({ i, prepared: await this.encoder.prepareAudio(input.audio, { ...context, sample: input.sample ?? i, field: 'audio' }) });
      } catch (err) {
        if (!isMmfuseError(err)) throw err;
        out[i] = err as MmfuseError;
      }
    }
    for (let start = 0; start < ready.length; start += this.batchSize) {
      const chunk = ready.slice(start, start + this.batchSize);
      const { heard, posteriors } = await this.forward(chunk.map((c) => c.prepared), this.search === 'beam' && this.lexicon !== null);
      chunk.forEach((c, k) => {
        const phonemes = heard[k] as string[];
        if (this.lexicon === null) {
          out[c.i] = { phonemes, words: null };
        } else if (posteriors === null) {
          out[c.i] = { phonemes, words: decodeWords(phonemes, this.lexicon, this.decode) };
        } else if (this.nBest > 1) {
          const alternatives = searchCtcWordsNBest(posteriors[k] as CtcPosteriors, this.lexicon, this.nBest, this.beam);
          out[c.i] = { phonemes, words: alternatives[0]?.words ?? [], alternatives };
        } else {
          out[c.i] = { phonemes, words: searchCtcWords(posteriors[k] as CtcPosteriors, this.lexicon, this.beam) };
        }
      });
    }
    return out;
  }

  /**
   * Greedy phonemes of each clip and, when asked, its frame log-posteriors (blank first). With posteriors, the
   * greedy phonemes are decoded from the same downloaded values (one read back from the engine, not two);
   * without, from the CTC logits, as `AudioPhoneticEncoder.transcribe` does. Read back asynchronously, so the
   * recognizer also runs on the WebGPU engine.
   */
  private async forward(prepared: PreparedPhoneticAudio[], withPosteriors: boolean): Promise<{ heard: string[][]; posteriors: CtcPosteriors[] | null }> {
    const kept = tf.tidy(() => {
      const out = this.encoder.encode(this.encoder.collate(prepared), { training: false });
      // `load` checked that the encoder has a CTC head, and every clip has audio, so all three are there.
      const logits = out.aux?.ctcLogits as tf.Tensor3D;
      return [withPosteriors ? tf.logSoftmax(logits) : logits, out.aux?.ctcLengths as tf.Tensor1D, out.aux?.ctcRows as tf.Tensor1D];
    });
    const [scoresT, lengthsT, rowsT] = kept as [tf.Tensor3D, tf.Tensor1D, tf.Tensor1D];
    const [N, T, C] = scoresT.shape;
    let scores: Float32Array; let lengthValues: ArrayLike<number>; let rows: ArrayLike<number>;
    try {
      [scores, lengthValues, rows] = await Promise.all([scoresT.data() as Promise<Float32Array>, lengthsT.data(), rowsT.data()]);
    } finally {
      tf.dispose(kept);
    }
    const lengths = Array.from(lengthValues, (l) => Math.min(T, l));
    const greedy = ctcGreedyDecode({ data: scores, shape: [N, T, C] }, { lengths });
    const heard: string[][] = prepared.map(() => []);
    const posteriors: CtcPosteriors[] | null = withPosteriors ? new Array(prepared.length) : null;
    Array.from(rows).forEach((r, i) => {
      heard[r] = (greedy[i] as number[]).map((id) => PHONEMES[id - 1] as string);
      if (posteriors !== null) posteriors[r] = { logProbs: scores.slice(i * T * C, (i * T + (lengths[i] as number)) * C), frames: lengths[i] as number, classes: C };
    });
    return { heard, posteriors };
  }

  /** Frees the encoder's weights. */
  dispose(): void {
    this.encoder.dispose();
  }
}
