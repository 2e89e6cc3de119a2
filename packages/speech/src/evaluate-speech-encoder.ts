/**
 * `evaluateSpeechEncoder`: the phoneme error rate of a pretrained `audio/phonetic` folder on a manifest of
 * clips with phoneme transcripts (e.g. a `synthesizeCorpus` output in held-out voices), overall and per
 * speaker, with greedy CTC decoding in inference mode.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, createRng, ctcGreedyDecode, errorRate, isMmfuseError, readManifest, skippedFromError } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import type { PreparedPhoneticAudio } from '@mmfuse/audio';
import { PHONEMES, phonemeIds } from './phonemes.js';

/** Options of `evaluateSpeechEncoder`. */
export interface EvaluateSpeechEncoderOptions {
  /** A folder written by `pretrainSpeechEncoder` (or `AudioPhoneticEncoder.save`). */
  encoder: string;
  /** Manifest with audio paths (relative to its folder), phoneme transcripts and (optionally) voice ids. */
  manifest: string;
  /** Field names. Defaults `audio`, `phonemes`, `voice`. */
  audioField?: string;
  phonemesField?: string;
  voiceField?: string;
  /** Clips per forward pass. Default 32. */
  batchSize?: number;
  /** Examples returned. Default 5. */
  examples?: number;
}

/** Result of `evaluateSpeechEncoder`. */
export interface SpeechEvaluation {
  /** Phoneme error rate (edit distance / reference phonemes) over every clip. */
  per: number;
  clips: number;
  /** Per speaker (`engine:voice` of the voice id; `(none)` without one). */
  bySpeaker: Record<string, { per: number; clips: number }>;
  examples: { reference: string; heard: string; voice: string }[];
  /** Lines refused (missing fields, unreadable audio, phonemes outside the inventory). */
  skipped: SkippedSample[];
}

/** PER of a pretrained encoder on a manifest; see the module doc. */
export async function evaluateSpeechEncoder(options: EvaluateSpeechEncoderOptions): Promise<SpeechEvaluation> {
  if (options === null || typeof options !== 'object' || typeof options.encoder !== 'string' || typeof options.manifest !== 'string') {
    throw new ConfigError('options { encoder: DIR, manifest: FILE } are required', { path: 'options' });
  }
  const audioField = options.audioField ?? 'audio';
  const phonemesField = options.phonemesField ?? 'phonemes';
  const voiceField = options.voiceField ?? 'voice';
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`must be a positive integer, got ${String(batchSize)}`, { path: 'batchSize' });
  const manifest = path.resolve(options.manifest);
  const encoder = new AudioPhoneticEncoder({ pretrained: options.encoder, freeze: true });
  try {
    encoder.build(createRng(0));
    if (encoder.ctcSymbols === null || encoder.ctcSymbols.join(' ') !== PHONEMES.join(' ')) throw new ConfigError(`${options.encoder} has no CTC head over the ${PHONEMES.length} phonemes`, { path: 'encoder' });
    const skipped: SkippedSample[] = [];
    const rows: { prepared: PreparedPhoneticAudio; targets: number[]; speaker: string; voice: string }[] = [];
    for await (const s of readManifest(manifest, { fields: { [audioField]: 'path', [phonemesField]: 'string' }, required: [audioField, phonemesField], onError: 'skip', onSkip: (x) => skipped.push(x) })) {
      try {
        const targets = phonemeIds((s.fields[phonemesField] as string).trim().split(/\s+/).filter((p) => p !== ''));
        const prepared = await encoder.prepareAudio(s.fields[audioField] as string, { sample: s.id, field: audioField, baseDir: path.dirname(manifest), allowOutsideBaseDir: true });
        const voice = typeof s.fields[voiceField] === 'string' ? (s.fields[voiceField] as string) : '';
        rows.push({ prepared, targets, voice, speaker: voice === '' ? '(none)' : (voice.split(',')[0] as string) });
      } catch (err) {
        if (!isMmfuseError(err)) throw err;
        skipped.push(skippedFromError(err, { file: manifest, line: s.line }));
      }
    }
    const heard: number[][] = [];
    for (let i = 0; i < rows.length; i += batchSize) {
      const chunk = rows.slice(i, i + batchSize);
      heard.push(...tf.tidy(() => {
        const out = encoder.encode(encoder.collate(chunk.map((r) => r.prepared)), { training: false });
        return ctcGreedyDecode(out.aux?.ctcLogits as tf.Tensor3D, { lengths: (out.aux?.ctcLengths as tf.Tensor1D).dataSync() });
      }));
    }
    const bySpeaker: SpeechEvaluation['bySpeaker'] = {};
    for (const speaker of [...new Set(rows.map((r) => r.speaker))].sort()) {
      const idx = rows.flatMap((r, i) => (r.speaker === speaker ? [i] : []));
      bySpeaker[speaker] = { per: errorRate(idx.map((i) => (rows[i] as (typeof rows)[number]).targets), idx.map((i) => heard[i] as number[])).rate, clips: idx.length };
    }
    const names = (ids: readonly number[]): string => ids.map((id) => PHONEMES[id - 1]).join(' ');
    return {
      per: rows.length === 0 ? Number.NaN : errorRate(rows.map((r) => r.targets), heard).rate,
      clips: rows.length,
      bySpeaker,
      examples: rows.slice(0, options.examples ?? 5).map((r, i) => ({ reference: names(r.targets), heard: names(heard[i] as number[]), voice: r.voice })),
      skipped,
    };
  } finally {
    encoder.dispose();
  }
}
