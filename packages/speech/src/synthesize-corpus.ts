/**
 * `synthesizeCorpus`: speak every text of a manifest in several voices and write the clips plus a manifest
 * that a speech encoder (or a fusion model) trains on.
 *
 * Output folder layout (everything in it is mmfuse's own, marked by `.mmfuse-synthesize.json`):
 * - `clips/<key>.wav`: mono 16-bit PCM at `sampleRateHz`, leading/trailing silence trimmed, peak 0.9. `key`
 *   is a hash of (format version, voice id, rate, text), so a clip is written once, a rerun reuses it
 *   (resumable after an interruption: a clip appears only complete, through a rename) and two texts or
 *   voices never share a file.
 * - `manifest.jsonl`: per (sample, voice) one line: the sample's original fields, then `id`
 *   (`<sample id>/<k>`), `sourceId`, `audio` (relative path), the phoneme field (space-separated symbols
 *   of `PHONEMES`) and `voice` (the voice id). Other fields are copied as written: relative paths in them
 *   resolve against the source manifest's folder, not this one.
 * The folder must be new, empty, or an earlier output (it has the marker); anything else is refused, and
 * nothing but the marker, `manifest.jsonl` and `clips/<key>.wav` files is ever written there. Nothing is
 * deleted.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, InvalidInputError, createRng, hashString, isMmfuseError, readManifest, skippedFromError } from '@mmfuse/core';
import type { ManifestSample, MmfuseError, Rng, SkippedSample } from '@mmfuse/core';
import { encodeWav, resample, trimSilence } from '@mmfuse/audio';
import { getEngine } from './engines.js';
import { claimFolder } from './internal/owned-folder.js';
import { mapPool } from './internal/pool.js';
import { phonemize } from './phonemize.js';
import type { PhonemizerName } from './phonemize.js';
import type { EngineName, VoiceSettings } from './types.js';
import { parseVoiceId, voiceGrid, voiceId } from './voices.js';

/** Bumped when the audio written for the same (voice, text) changes, so old clips are not reused. */
const FORMAT_VERSION = 1;
const MARKER = '.mmfuse-synthesize.json';
const PEAK = 0.9;

/** Options of `synthesizeCorpus`. */
export interface SynthesizeCorpusOptions {
  /** JSONL or CSV manifest with the texts. */
  manifest: string;
  /** Output folder (see the module doc for what may already be in it). */
  out: string;
  /** Field holding the text. Default `text`. */
  field?: string;
  /** Voices to choose from (settings or ids like `flite:slt,rate=1.1`). Default `voiceGrid()` of both engines. */
  voices?: readonly (VoiceSettings | string)[];
  /** Voices per text, chosen per text (seeded by the text), all different, engines taking turns. Default 3. */
  perText?: number;
  /** Rate of the written clips, Hz. Default 16000. */
  sampleRateHz?: number;
  /** Phonemizer of the transcripts. Default `flite` (built in). */
  phonemizer?: PhonemizerName;
  /** Name of the phoneme field written. Default `phonemes`. */
  phonemesField?: string;
  /** Clips synthesized at once (espeak-ng processes run in parallel; Flite runs in this thread). Default 2. */
  concurrency?: number;
  /** Seed of the voice choice. Default 0. */
  seed?: number;
  /** Called after each clip. */
  onProgress?: (done: number, total: number) => void;
}

/** A (sample, voice) that could not be made; the rest of the corpus is written. */
export interface SynthesisFailure extends SkippedSample {
  /** Voice id, when the failure concerned one voice. */
  voice?: string;
}

/** Result of `synthesizeCorpus`. */
export interface SynthesizeCorpusResult {
  /** Path of the written manifest. */
  manifest: string;
  /** Lines written to it. */
  clips: number;
  /** Clips synthesized by this call. */
  written: number;
  /** Clips found from an earlier run and reused. */
  reused: number;
  /** Samples read from the source manifest. */
  samples: number;
  /** Samples or (sample, voice) pairs that failed, each with its typed error. */
  failed: SynthesisFailure[];
  /** Ids of the voices used. */
  voices: string[];
}

function clipKey(id: string, sampleRateHz: number, text: string): string {
  return createHash('sha256').update(JSON.stringify([FORMAT_VERSION, id, sampleRateHz, text])).digest('hex').slice(0, 24);
}

/** Trimmed, resampled, peak-normalized speech. */
async function render(text: string, settings: Required<VoiceSettings>, sampleRateHz: number): Promise<Float32Array> {
  const audio = await getEngine(settings.engine).synthesize(text, settings);
  let samples = resample(audio.samples, audio.sampleRateHz, sampleRateHz);
  samples = trimSilence(samples).samples;
  let peak = 0;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  if (samples.length === 0 || peak === 0) throw new InvalidInputError(`the ${settings.engine} voice "${settings.voice}" produced silence`, { field: 'text' });
  const g = PEAK / peak;
  for (let i = 0; i < samples.length; i++) samples[i] = (samples[i] as number) * g;
  return samples;
}

/**
 * `n` distinct voice indices, spread over the engines: engines take turns (in a random order per text),
 * each turn a random unused voice of that engine, so a voice list dominated by one engine's many voices
 * still gives every text the other engines' voices too.
 */
function pickVoices(voices: readonly Required<VoiceSettings>[], n: number, rng: Rng): number[] {
  const byEngine = new Map<EngineName, number[]>();
  voices.forEach((v, i) => byEngine.set(v.engine, [...(byEngine.get(v.engine) ?? []), i]));
  const pools = rng.shuffle([...byEngine.values()].map((list) => rng.shuffle([...list])));
  const out: number[] = [];
  for (let turn = 0; out.length < n; turn++) {
    const pool = pools[turn % pools.length] as number[];
    if (pool.length > 0) out.push(pool.pop() as number);
  }
  return out;
}

interface Job { sample: ManifestSample; k: number; text: string; phonemes: string; settings: Required<VoiceSettings>; id: string; file: string }

/** Speak every text of a manifest in `perText` voices; see the module doc for the output. */
export async function synthesizeCorpus(options: SynthesizeCorpusOptions): Promise<SynthesizeCorpusResult> {
  if (options === null || typeof options !== 'object') throw new ConfigError('options { manifest, out, ... } are required', { path: 'options' });
  if (typeof options.manifest !== 'string' || options.manifest === '') throw new ConfigError('must be a manifest path', { path: 'manifest' });
  if (typeof options.out !== 'string' || options.out === '') throw new ConfigError('must be a folder path', { path: 'out' });
  const field = options.field ?? 'text';
  const phonemesField = options.phonemesField ?? 'phonemes';
  const perText = options.perText ?? 3;
  const sampleRateHz = options.sampleRateHz ?? 16000;
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(perText) || perText < 1) throw new ConfigError(`must be a positive integer, got ${String(perText)}`, { path: 'perText' });
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 4000 || sampleRateHz > 96000) throw new ConfigError(`must be an integer in 4000..96000, got ${String(sampleRateHz)}`, { path: 'sampleRateHz' });
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`must be a positive integer, got ${String(concurrency)}`, { path: 'concurrency' });
  for (const f of [field, phonemesField]) if (typeof f !== 'string' || f === '') throw new ConfigError('field names must be non-empty strings', { path: 'field' });

  const voices = (options.voices ?? voiceGrid()).map((v) => (typeof v === 'string' ? parseVoiceId(v) : parseVoiceId(voiceId(v))));
  const ids = [...new Set(voices.map(voiceId))];
  if (ids.length === 0) throw new ConfigError('no voices given', { path: 'voices' });
  if (perText > ids.length) throw new ConfigError(`asks for ${perText} voices per text but only ${ids.length} voices are given`, { path: 'perText' });
  const unique = ids.map(parseVoiceId);
  // Every engine used must run here: one clear error now, not one per clip.
  for (const engine of new Set<EngineName>(unique.map((v) => v.engine))) await getEngine(engine).checkAvailable();

  const out = path.resolve(options.out);
  const manifestPath = path.resolve(options.manifest);
  if (!existsSync(manifestPath)) throw new InvalidInputError('manifest file does not exist', { file: manifestPath });
  await claimFolder(out, MARKER, 'mmfuse-synthesize', 'synthesize');
  await mkdir(path.join(out, 'clips'), { recursive: true });

  const failed: SynthesisFailure[] = [];
  const onError = (err: unknown, sample: ManifestSample | undefined, voice?: string): void => {
    if (!isMmfuseError(err)) throw err;
    const e = (err as MmfuseError).locate(sample === undefined ? {} : { sample: sample.id, field, file: manifestPath, line: sample.line });
    const s: SynthesisFailure = skippedFromError(e, { file: manifestPath, line: sample?.line ?? 0 });
    if (voice !== undefined) s.voice = voice;
    failed.push(s);
  };

  // Read the texts and their phonemes (one transcript per text, whichever voice speaks it).
  const samples: ManifestSample[] = [];
  for await (const s of readManifest(manifestPath, { onError: 'skip', onSkip: (x) => failed.push(x) })) samples.push(s);
  const phonemeCache = new Map<string, string>();
  const jobs: Job[] = [];
  for (const sample of samples) {
    const text = sample.fields[field];
    try {
      if (typeof text !== 'string' || text.trim() === '') throw new InvalidInputError(text === undefined ? 'the text field is missing' : `the text must be a non-empty string, got ${JSON.stringify(text)}`, { field });
      let phonemes = phonemeCache.get(text);
      if (phonemes === undefined) {
        phonemes = (await phonemize(text, { phonemizer: options.phonemizer ?? 'flite' })).join(' ');
        if (phonemes === '') throw new InvalidInputError(`the text ${JSON.stringify(text.slice(0, 60))} has no phonemes (nothing speakable)`, { field });
        phonemeCache.set(text, phonemes);
      }
      const rng = createRng(hashString(text, options.seed ?? 0));
      pickVoices(unique, perText, rng).forEach((vi, k) => {
        const settings = unique[vi] as Required<VoiceSettings>;
        const id = ids[vi] as string;
        jobs.push({ sample, k, text, phonemes: phonemes as string, settings, id, file: path.join(out, 'clips', `${clipKey(id, sampleRateHz, text)}.wav`) });
      });
    } catch (err) {
      onError(err, sample);
    }
  }

  let written = 0;
  let reused = 0;
  let done = 0;
  const ok = await mapPool(jobs, concurrency, async (job) => {
    try {
      if (existsSync(job.file)) {
        reused++;
      } else {
        const samples = await render(job.text, job.settings, sampleRateHz);
        const part = `${job.file}.${process.pid}.part`;
        await writeFile(part, encodeWav(samples, { sampleRateHz }));
        await rename(part, job.file);
        written++;
      }
      return true;
    } catch (err) {
      onError(err, job.sample, job.id);
      return false;
    } finally {
      options.onProgress?.(++done, jobs.length);
    }
  });

  const lines: string[] = [];
  jobs.forEach((job, i) => {
    if (ok[i] !== true) return;
    const row: Record<string, unknown> = { ...job.sample.fields, id: `${job.sample.id}/${job.k}`, sourceId: job.sample.id, audio: `clips/${path.basename(job.file)}`, [phonemesField]: job.phonemes, voice: job.id };
    lines.push(JSON.stringify(row));
  });
  const manifestOut = path.join(out, 'manifest.jsonl');
  const tmp = `${manifestOut}.${process.pid}.part`;
  await writeFile(tmp, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  await rename(tmp, manifestOut);
  return { manifest: manifestOut, clips: lines.length, written, reused, samples: samples.length, failed, voices: ids };
}
