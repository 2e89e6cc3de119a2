/**
 * Loss terms for training a fusion model with an `audio/phonetic` voice input (`FitOptions.lossTerms`):
 *
 * - `ctcAuxLoss`: keep the speech encoder recognising phonemes while the intent model trains (CTC on the
 *   encoder's `aux.ctcLogits` against a phoneme transcript kept with `FitOptions.keepFields`).
 * - `phonemeTextLoss`: the voice path learns from typed text alone. A sample's phoneme transcript (of its
 *   text) goes through the voice input as a phoneme sequence (`output: 'phonemes'`: the same form as a
 *   clip's collapsed CTC posteriors), with recognition-like errors drawn each step, and the prediction
 *   from it alone is trained on the sample's label. Any typed log becomes voice training data.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, ctcLoss } from '@mmfuse/core';
import type { ModalityEncoder, Rng } from '@mmfuse/core';
import type { LossContext, LossTerm, TrainingSample } from '@mmfuse/fusion';

/** A speech encoder with a CTC head (duck-typed `audio/phonetic`). */
interface CtcEncoder extends ModalityEncoder { readonly ctcSymbols: readonly string[] | null }
/** A speech encoder that reads phoneme sequences (`audio/phonetic` with `output: 'phonemes'`). */
interface PhonemeReader extends CtcEncoder { phonemeSequence(transcript: readonly string[], options?: { smoothing?: number }): unknown }

function encoderOf(ctx: LossContext, field: string): ModalityEncoder {
  const m = ctx.state.fields.indexOf(field);
  if (m < 0) throw new ConfigError(`"${field}" is not an input of this model (inputs: ${ctx.state.fields.join(', ')})`, { path: 'field' });
  return ctx.state.encoders[m] as ModalityEncoder;
}

/** A sample's phoneme transcript (space-separated string or list), or undefined when it has none. */
function transcriptOf(s: TrainingSample, field: string): string[] | undefined {
  const v = s.fields?.[field];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? v.trim().split(/\s+/).filter((p) => p !== '') : Array.isArray(v) && v.every((p) => typeof p === 'string') ? (v as string[]) : undefined;
  if (list === undefined) throw new InvalidInputError(`the phoneme transcript must be a space-separated string or a list of strings, got ${typeof v}`, { sample: s.id, field });
  return list.length === 0 ? undefined : list;
}

function symbolIds(symbols: readonly string[], transcript: readonly string[], s: TrainingSample, field: string): number[] {
  const index = new Map(symbols.map((p, i) => [p, i + 1]));
  return transcript.map((p) => {
    const id = index.get(p);
    if (id === undefined) throw new InvalidInputError(`phoneme ${JSON.stringify(p)} is not one of the encoder's CTC symbols`, { sample: s.id, field });
    return id;
  });
}

/** Options of `ctcAuxLoss`. */
export interface CtcAuxLossOptions {
  /** The voice input. Default `audio`. */
  field?: string;
  /** The kept field (`FitOptions.keepFields`) with each sample's phoneme transcript. Default `phonemes`. */
  phonemesField?: string;
  /** Weight of the term. Default 1. */
  weight?: number;
  /** Name in logs. Default `ctc`. */
  name?: string;
}

/**
 * CTC loss of the voice input's frame logits (`aux.ctcLogits`, `aux.ctcLengths`, `aux.ctcRows`) against the
 * samples' phoneme transcripts, per phoneme, averaged over the clips that have one (clips without a
 * transcript, and clips too short for theirs, add nothing). Needs an encoder with a CTC head and the
 * transcripts kept: `keepFields: ['phonemes']`.
 */
export function ctcAuxLoss(options: CtcAuxLossOptions = {}): LossTerm {
  const field = options.field ?? 'audio';
  const phonemesField = options.phonemesField ?? 'phonemes';
  const term: LossTerm = {
    name: options.name ?? 'ctc',
    compute(ctx: LossContext): tf.Scalar {
      const enc = encoderOf(ctx, field) as CtcEncoder;
      const encoded = ctx.encoded[field];
      if (encoded === undefined) return tf.scalar(0);
      const logits = encoded.output.aux?.ctcLogits as tf.Tensor3D | undefined;
      const lengths = encoded.output.aux?.ctcLengths;
      if (logits === undefined || lengths === undefined || enc.ctcSymbols === null || enc.ctcSymbols === undefined) {
        throw new ConfigError(`the encoder of "${field}" (${enc.kind}) has no CTC head (aux.ctcLogits); give it ctcSymbols or a pretrained folder`, { path: 'lossTerms' });
      }
      const frames = Array.from(lengths.dataSync());
      const auxRows = encoded.output.aux?.ctcRows === undefined ? frames.map((_, i) => i) : Array.from(encoded.output.aux.ctcRows.dataSync());
      const targets: number[][] = [];
      const weights: number[] = [];
      auxRows.forEach((r) => {
        const s = ctx.samples[encoded.rows[r] as number] as TrainingSample;
        const t = transcriptOf(s, phonemesField);
        targets.push(t === undefined ? [] : symbolIds(enc.ctcSymbols as string[], t, s, phonemesField));
        weights.push(t === undefined ? 0 : 1 / t.length);
      });
      const n = weights.filter((w) => w > 0).length;
      if (n === 0) return tf.scalar(0);
      const per = ctcLoss(tf.logSoftmax(logits) as tf.Tensor3D, targets, frames, { reduction: 'none', zeroInfinity: true }); // [B_audio]
      return per.mul(tf.tensor1d(weights)).sum().div(n) as tf.Scalar;
    },
  };
  return options.weight === undefined ? term : { ...term, weight: options.weight };
}

/** Recognition-like errors drawn into a transcript each step (rates per phoneme). */
export interface PhonemeNoiseOptions {
  /** Probability that a phoneme is replaced by another one. Default 0.1. */
  substitution?: number;
  /** Probability that a phoneme is dropped. Default 0.05. */
  deletion?: number;
  /** Probability that a random phoneme is inserted after a phoneme. Default 0.03. */
  insertion?: number;
}

/** Options of `phonemeTextLoss`. */
export interface PhonemeTextLossOptions {
  /** The voice input (`audio/phonetic` with `output: 'phonemes'`). Default `audio`. */
  field?: string;
  /** The kept field with each sample's phoneme transcript (of its text). Default `phonemes`. */
  phonemesField?: string;
  /** Errors drawn into each transcript each step (`null`: none). Default `{ 0.1, 0.05, 0.03 }`. */
  noise?: PhonemeNoiseOptions | null;
  /** Probability mass spread over the other symbols of each phoneme. Default 0.1. */
  smoothing?: number;
  /** Samples per step that get the term (the rest of the batch is left out), to bound its cost. Default every sample. */
  maxRows?: number;
  /** Weight of the term. Default 1. */
  weight?: number;
  /** Name in logs. Default `text-as-speech`. */
  name?: string;
}

function rate(v: number | undefined, fallback: number, name: string): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !(x >= 0 && x < 1)) throw new ConfigError(`must be a number in [0, 1), got ${String(x)}`, { path: `noise.${name}` });
  return x;
}

/** `transcript` with substitutions, deletions and insertions drawn from `rng` (never empty). */
export function corruptPhonemes(transcript: readonly string[], symbols: readonly string[], noise: Required<PhonemeNoiseOptions>, rng: Rng): string[] {
  const out: string[] = [];
  for (const p of transcript) {
    if (!rng.bernoulli(noise.deletion)) out.push(rng.bernoulli(noise.substitution) ? (symbols[rng.int(symbols.length)] as string) : p);
    if (rng.bernoulli(noise.insertion)) out.push(symbols[rng.int(symbols.length)] as string);
  }
  return out.length > 0 ? out : [...transcript];
}

/**
 * The voice path trained from text alone: each sample with a phoneme transcript (e.g. of its typed text)
 * is run with that transcript as its voice input, every other input hidden, and the prediction is trained
 * on the sample's label (the head loss of the output kind). Needs `audio/phonetic` with `output: 'phonemes'`
 * on `field` and the transcripts kept: `keepFields: ['phonemes']`.
 */
export function phonemeTextLoss(options: PhonemeTextLossOptions = {}): LossTerm {
  const field = options.field ?? 'audio';
  const phonemesField = options.phonemesField ?? 'phonemes';
  const n = options.noise === null ? { substitution: 0, deletion: 0, insertion: 0 } : options.noise ?? {};
  const noise: Required<PhonemeNoiseOptions> = { substitution: rate(n.substitution, 0.1, 'substitution'), deletion: rate(n.deletion, 0.05, 'deletion'), insertion: rate(n.insertion, 0.03, 'insertion') };
  const smoothing = options.smoothing ?? 0.1;
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1)) throw new ConfigError(`must be a number in [0, 1), got ${String(smoothing)}`, { path: 'smoothing' });
  const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  if (!(maxRows >= 1)) throw new ConfigError(`must be a positive integer, got ${String(maxRows)}`, { path: 'maxRows' });
  const term: LossTerm = {
    name: options.name ?? 'text-as-speech',
    compute(ctx: LossContext): tf.Scalar {
      const enc = encoderOf(ctx, field) as PhonemeReader;
      if (typeof enc.phonemeSequence !== 'function' || enc.ctcSymbols === null || enc.ctcSymbols === undefined) {
        throw new ConfigError(`the encoder of "${field}" (${enc.kind}) does not read phoneme sequences; use audio/phonetic with output "phonemes"`, { path: 'lossTerms' });
      }
      const symbols = enc.ctcSymbols;
      let rows = ctx.samples.flatMap((s, r) => (transcriptOf(s, phonemesField) === undefined ? [] : [r]));
      if (rows.length > maxRows) rows = ctx.rng.shuffle(rows).slice(0, maxRows).sort((a, b) => a - b);
      if (rows.length === 0) return tf.scalar(0);
      const values = rows.map((r) => {
        const s = ctx.samples[r] as TrainingSample;
        const t = transcriptOf(s, phonemesField) as string[];
        symbolIds(symbols, t, s, phonemesField); // names the sample when a symbol is unknown
        return enc.phonemeSequence(corruptPhonemes(t, symbols, noise, ctx.rng), { smoothing });
      });
      const logits = ctx.forward({ hide: ctx.state.fields.filter((f) => f !== field), rows, replace: { [field]: values } });
      const targets = ctx.output.encode(rows.map((r) => (ctx.samples[r] as TrainingSample).target));
      return ctx.output.loss(logits, targets);
    },
  };
  return options.weight === undefined ? term : { ...term, weight: options.weight };
}
