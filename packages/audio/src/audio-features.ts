/**
 * The feature steps of the audio encoders' `prepare` and `collate` as pure functions, so every runtime
 * (Node, the browser page of the bot) prepares audio with the same code: frame features of decoded mono
 * samples, and a padded batch.
 */
import { InvalidInputError } from '@mmfuse/core/base';
import type { ErrorLocation } from '@mmfuse/core/base';
import { fbank } from './fbank.js';
import { logMel } from './log-mel.js';
import { mfcc } from './mfcc.js';
import { normalize } from './normalize.js';
import { trimSilence } from './trim-silence.js';
import type { FeatureMatrix } from './types.js';

/** How an encoder turns samples into frame features. */
export interface AudioFeatureOptions {
  /** Rate of the samples, Hz. */
  sampleRateHz: number;
  /** `log-mel` (ln(mel + 1e-6), HTK), `mfcc` (torchaudio MFCC) or `fbank` (Kaldi). */
  features: 'log-mel' | 'mfcc' | 'fbank';
  nMels: number;
  /** MFCC coefficients (features `mfcc` only). */
  nMfcc?: number;
  nFft: number;
  hopLength: number;
  /** Cut leading/trailing silence first. Default false. */
  trimSilence?: boolean;
  /** `utterance`: standardize each bin over the clip; anything else: leave as is. */
  normalization: 'utterance' | 'global' | 'none';
}

/** The feature matrix [frames, bins] of one clip (no normalization). */
export function audioFeatureMatrix(samples: Float32Array, o: AudioFeatureOptions): FeatureMatrix {
  if (o.features === 'fbank') return fbank(samples, { sampleRateHz: o.sampleRateHz, numMelBins: o.nMels });
  const common = { sampleRateHz: o.sampleRateHz, nFft: o.nFft, hopLength: o.hopLength, nMels: o.nMels };
  if (o.features === 'mfcc') return mfcc(samples, { ...common, nMfcc: o.nMfcc ?? Math.min(20, o.nMels) });
  return logMel(samples, common);
}

/**
 * A clip's prepared features: (trimmed) samples -> features [frames, bins] (frame by frame) -> (utterance
 * normalization). Throws `InvalidInputError` at `loc` for a silent clip (after trimming) or one too short
 * for a frame.
 */
export function audioFeatureFrames(samples: Float32Array, o: AudioFeatureOptions, loc: ErrorLocation = {}): { features: Float32Array; frames: number } {
  let x = samples;
  if (o.trimSilence === true) {
    x = trimSilence(x).samples;
    if (x.length === 0) throw new InvalidInputError('the audio is silent (nothing left after trimming silence)', loc);
  }
  const minSamples = o.features === 'fbank' ? Math.floor(o.sampleRateHz * 0.025) : Math.floor(o.nFft / 2) + 1;
  if (x.length < minSamples) {
    throw new InvalidInputError(`the audio has ${x.length} samples at ${o.sampleRateHz} Hz; at least ${minSamples} are needed for one feature frame`, loc);
  }
  let m = audioFeatureMatrix(x, o);
  if (o.normalization === 'utterance') m = normalize(m, 'utterance');
  return { features: m.data, frames: m.frames };
}

/**
 * Clips padded with zeros to the longest: `data` [clips, frames, bins] and each clip's frame count; with
 * `stats`, each clip is first standardized per bin (global normalization).
 */
export function padFeatureBatch(values: readonly { features: Float32Array; frames: number }[], bins: number, stats?: { mean: readonly number[]; std: readonly number[] }): { data: Float32Array; frames: number; lengths: Int32Array } {
  const frames = Math.max(...values.map((v) => v.frames));
  const data = new Float32Array(values.length * frames * bins);
  const lengths = new Int32Array(values.length);
  values.forEach((v, b) => {
    if (!(v.features instanceof Float32Array) || v.features.length !== v.frames * bins) {
      throw new InvalidInputError(`prepared value ${b} is not ${bins}-bin audio features (was it prepared by another config?)`);
    }
    lengths[b] = v.frames;
    const m = stats === undefined ? v.features : normalize({ data: v.features, frames: v.frames, bins }, { mean: [...stats.mean], std: [...stats.std], frames: 0 }).data;
    data.set(m, b * frames * bins);
  });
  return { data, frames, lengths };
}
