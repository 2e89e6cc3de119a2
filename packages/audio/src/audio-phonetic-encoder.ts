/**
 * `audio/phonetic`: a speech encoder that learns what was said, pretrained to recognise phonemes with a
 * CTC loss (see `@mmfuse/speech`'s `pretrainSpeechEncoder`) and then used as a fusion encoder.
 *
 * prepare: decode -> resample -> (training: random channel/room `augmentChain`) -> leading/trailing silence
 *   cut (`trimSilence`, default on) -> log-mel or Kaldi fbank frames [frames, bins] -> per-utterance mean/variance normalization per bin (cepstral mean and variance
 *   normalization: removes a fixed channel response, one reason it transfers from synthetic to real speech).
 * collate: pad to the longest clip -> { features [B, T, bins], lengths [B] } (plus the phoneme sequences of
 *   a batch that has some, see below).
 * encode, the acoustic model: (training) SpecAugment masks -> conv front-end (per block: explicit zero
 *   padding, 1-D conv over time with stride, bias, ReLU, dropout, frames past each clip's length set back to
 *   0, so a clip's output is the same alone or in a batch) -> stacked bidirectional GRU over the masked
 *   frames -> hidden states [B, T', 2H] with `mask` [B, T']; with `ctcSymbols`, a linear CTC projection to
 *   blank + symbols in `aux.ctcLogits` [B_audio, T', 1 + symbols] (logits; class 0 is the blank),
 *   `aux.ctcLengths` [B_audio] (int32) and `aux.ctcRows` [B_audio] (int32: the batch row of each).
 * encode, what fusion gets (`output`): `hidden` (default) the GRU states; `phonemes` the CTC posteriors
 *   collapsed to one distribution over the symbols per recognised phoneme (segments of frames whose most
 *   likely class is the same symbol, averaged, blank dropped): [B, L, symbols]. Speaker and channel are
 *   mostly gone from it, and a phoneme transcript (e.g. of a typed text, `phonemeSequence`) is a value of
 *   the same form, so the part above it can learn from text alone. `reader` adds a trainable BiGRU over the
 *   output, which trains even when the acoustic model is frozen.
 *
 * Pretrained folders (`pretrained: DIR`, written by `save`): `phonetic-encoder.json` (format, config,
 * weight names and shapes, metrics) and `weights.bin` (float32, little-endian, in `weights` order) of the
 * acoustic model. The folder fixes the acoustic architecture; a config may still set `freeze`, `dropout`,
 * `specAugment`, `augment`, `maxDurationSeconds`, `trimSilence`, `output` and `reader`. `freeze: true` keeps the acoustic
 * weights fixed and runs them in inference mode (no dropout); only the reader, if any, trains.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, ModelFormatError, RecurrentLayer, StateError, createRng, ctcGreedyDecode, isMmfuseError, seededVariable, z } from '@mmfuse/core';
import type { BuildOptions, EncodeOptions, EncoderOutput, ExpectTrue, JsonObject, JsonValue, MmfuseError, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OnnxValue, OptionsMatch, PrepareContext, RawInputSpec, Rng, TensorMap, WeightDescription } from '@mmfuse/core';
import { augmentForTraining, augmentOptionsSchema } from './internal/augment-options.js';
import type { AudioAugmentOptions } from './internal/augment-options.js';
import type { AugmentChainOptions } from './augment-chain.js';
import { audioFeatureFrames, audioFeatureMatrix, padFeatureBatch } from './audio-features.js';
import { checkBoolean, checkInteger, checkNumber, checkOneOf, onnxAxisLength, onnxLengthMask } from '@mmfuse/core/base';
import { loadAudio } from './internal/load-audio.js';
import { AUDIO_MEDIA_TYPES } from './internal/sniff.js';
import type { AudioInput } from './internal/load-audio.js';
import { collapseWeights, isPhonemeSequence, phonemeSequenceOf } from './internal/phoneme-sequence.js';
import type { PreparedPhonemeSequence } from './internal/phoneme-sequence.js';
import { drawSpecAugmentMasks, resolveSpecAugment, specAugmentOptionsSchema } from './internal/spec-augment-masks.js';
import type { SpecAugmentOptions } from './spec-augment.js';
import type { FeatureMatrix } from './types.js';

/** Configuration of `audio/phonetic`. Every field is optional; defaults are written out. */
export interface AudioPhoneticEncoderConfig {
  /** A folder written by `save` / `pretrainSpeechEncoder`: architecture and weights come from it. Default none. */
  pretrained?: string | null;
  /** Keep the weights fixed while a fusion model trains. Default false. */
  freeze?: boolean;
  /** Rate every input is resampled to, Hz. Default 16000. */
  sampleRateHz?: number;
  /** `log-mel` (ln(mel + 1e-6), HTK) or `fbank` (Kaldi). Default `log-mel`. */
  features?: 'log-mel' | 'fbank';
  /** Mel bins. Default 40. */
  nMels?: number;
  /** FFT size (log-mel). Default 400 (25 ms at 16 kHz). */
  nFft?: number;
  /** Hop (log-mel), samples. Default 160 (10 ms at 16 kHz). */
  hopLength?: number;
  /** Channel/room augmentation of the waveform in `prepare` when `ctx.training` (needs `ctx.rng`); null = off. Default null. */
  augment?: PhoneticAugmentOptions | null;
  /** SpecAugment masks in `encode` when training; null = off. Default null. */
  specAugment?: SpecAugmentOptions | null;
  /** Longer inputs are refused with a LimitExceededError. Default 30. */
  maxDurationSeconds?: number;
  /**
   * Cut leading and trailing audio more than 60 dB below the loudest frame (digital silence included) before
   * the features. Per-utterance normalization makes a clip's long silent edges shift every frame's features:
   * a real recording that starts with a second of silence was heard as other words without it. Default true.
   */
  trimSilence?: boolean;
  /** Output channels of each conv block (each halves the frame rate with stride 2). Default [128, 128]. */
  convChannels?: number[];
  /** Kernel size (frames) of every conv block. Default 3. */
  kernelSize?: number;
  /** GRU state size per direction. Default 128. */
  hiddenSize?: number;
  /** Stacked bidirectional GRU layers. Default 2. */
  layers?: number;
  /** Dropout after each conv block and between GRU layers while training. Default 0.1. */
  dropout?: number;
  /** Symbols of CTC classes 1..N (class 0 is the blank); null = no CTC head. Default null. */
  ctcSymbols?: string[] | null;
  /** What fusion gets: `hidden` (GRU states) or `phonemes` (collapsed CTC posteriors; needs `ctcSymbols`). Default `hidden`. */
  output?: 'hidden' | 'phonemes';
  /** A trainable BiGRU over the output (trains even with `freeze`), or null. Default null. */
  reader?: PhoneticReaderConfig | null;
}

/** The reader: a bidirectional GRU over the encoder's output. */
export interface PhoneticReaderConfig {
  /** State size per direction. */
  hiddenSize: number;
  /** Stacked layers. Default 1. */
  layers?: number;
}

/** `augmentChain` options of `augment` (checked again, with value ranges, when they are used). */
export type PhoneticAugmentOptions = AudioAugmentOptions;

/**
 * The declared options of `audio/phonetic` (no defaults here: with `pretrained`, the architecture comes from
 * the folder, so the constructor fills in defaults only where neither the folder nor the config sets a key).
 */
export const audioPhoneticOptionsSchema = z.strictObject({
  pretrained: z.string().min(1).nullable().optional().describe('Folder written by pretrainSpeechEncoder / save: architecture and weights of the acoustic model. Default none.'),
  freeze: z.boolean().optional().describe('Keep the acoustic weights fixed (inference mode); the reader still trains. Default false.'),
  sampleRateHz: z.int().min(1000).optional().describe('Rate every input is resampled to, Hz. Default 16000.'),
  features: z.enum(['log-mel', 'fbank']).optional().describe('log-mel (ln(mel + 1e-6), HTK) or fbank (Kaldi). Default log-mel.'),
  nMels: z.int().min(1).optional().describe('Mel bins. Default 40.'),
  nFft: z.int().min(2).optional().describe('FFT size (log-mel). Default 400.'),
  hopLength: z.int().min(1).optional().describe('Hop (log-mel), samples. Default 160.'),
  augment: augmentOptionsSchema.nullable().optional().describe('Channel/room augmentation (augmentChain options) in prepare when training; null = off. Default null.'),
  specAugment: specAugmentOptionsSchema.nullable().optional().describe('SpecAugment masks in encode when training; null = off. Default null.'),
  maxDurationSeconds: z.number().gt(0).optional().describe('Longer inputs are refused with LimitExceededError. Default 30.'),
  trimSilence: z.boolean().optional().describe('Cut leading/trailing audio more than 60 dB below the loudest frame before the features. Default true.'),
  convChannels: z.array(z.int().min(1)).min(1).optional().describe('Output channels of each conv block (stride 2 each). Default [128, 128].'),
  kernelSize: z.int().min(1).max(31).optional().describe('Kernel size (frames) of every conv block. Default 3.'),
  hiddenSize: z.int().min(1).optional().describe('GRU state size per direction. Default 128.'),
  layers: z.int().min(1).max(8).optional().describe('Stacked bidirectional GRU layers. Default 2.'),
  dropout: z.number().min(0).max(0.9).optional().describe('Dropout after each conv block and between GRU layers while training. Default 0.1.'),
  ctcSymbols: z.array(z.string().min(1)).min(1).nullable().optional().describe('Symbols of CTC classes 1..N (0 is the blank); null = no CTC head. Default null.'),
  output: z.enum(['hidden', 'phonemes']).optional().describe('What fusion gets: hidden (GRU states) or phonemes (collapsed CTC posteriors). Default hidden.'),
  reader: z.strictObject({ hiddenSize: z.int().min(1), layers: z.int().min(1).max(4).optional() }).nullable().optional().describe('A trainable BiGRU over the output (trains with freeze too); null = none. Default null.'),
});

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<Required<AudioPhoneticEncoderConfig>, Required<z.input<typeof audioPhoneticOptionsSchema>>>>;

/** What `prepare` returns: plain data. */
export interface PreparedPhoneticAudio {
  /** `[frames, bins]` frame by frame. */
  features: Float32Array;
  frames: number;
}

/** What `prepare` returns for audio, or a phoneme sequence (`phonemeSequence`, output `phonemes` only). */
export type PreparedPhoneticInput = PreparedPhoneticAudio | PreparedPhonemeSequence;
export type { PreparedPhonemeSequence };

type Resolved = Required<Omit<AudioPhoneticEncoderConfig, 'pretrained' | 'specAugment' | 'augment' | 'ctcSymbols' | 'reader'>> & {
  specAugment: Required<SpecAugmentOptions> | null;
  augment: Omit<AugmentChainOptions, 'sampleRateHz' | 'noiseClips'> | null;
  ctcSymbols: string[] | null;
  reader: Required<PhoneticReaderConfig> | null;
};

const FORMAT = 'mmfuse-phonetic-encoder';
const FORMAT_VERSION = 1;
const CONFIG_FILE = 'phonetic-encoder.json';
const WEIGHTS_FILE = 'weights.bin';
/** Keys a config may set on top of a pretrained folder. */
const OVERRIDABLE = new Set(['pretrained', 'freeze', 'dropout', 'specAugment', 'augment', 'maxDurationSeconds', 'trimSilence', 'output', 'reader']);
/** Keys of the acoustic model's architecture (what a pretrained folder holds). */
const ACOUSTIC_KEYS = ['sampleRateHz', 'features', 'nMels', 'nFft', 'hopLength', 'convChannels', 'kernelSize', 'hiddenSize', 'layers', 'ctcSymbols'] as const;

interface PretrainedFolder { dir: string; config: JsonObject; weights: { name: string; shape: number[] }[]; metrics: JsonValue }

function readPretrained(dir: string): PretrainedFolder {
  const file = path.join(dir, CONFIG_FILE);
  let doc: { format?: unknown; version?: unknown; config?: unknown; weights?: unknown; metrics?: unknown };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFormatError(code === 'ENOENT' ? `${dir} is not a pretrained phonetic encoder folder (no ${CONFIG_FILE})` : `cannot read ${file}: ${(err as Error).message}`, { file, cause: err });
  }
  if (doc.format !== FORMAT) throw new ModelFormatError(`format is ${JSON.stringify(doc.format)}, expected "${FORMAT}"`, { file });
  if (doc.version !== FORMAT_VERSION) throw new ModelFormatError(`version ${JSON.stringify(doc.version)} is not supported (this mmfuse reads version ${FORMAT_VERSION})`, { file });
  if (doc.config === null || typeof doc.config !== 'object' || !Array.isArray(doc.weights)) throw new ModelFormatError('config or weights list missing', { file });
  return { dir, config: doc.config as JsonObject, weights: doc.weights as { name: string; shape: number[] }[], metrics: (doc.metrics ?? null) as JsonValue };
}

function resolveConfig(config: AudioPhoneticEncoderConfig): Resolved {
  if (config === null || typeof config !== 'object') throw new ConfigError('config must be an object', { path: 'audio/phonetic' });
  const convChannels = config.convChannels ?? [128, 128];
  if (!Array.isArray(convChannels) || convChannels.length === 0) throw new ConfigError(`must be a non-empty array of channel counts, got ${JSON.stringify(convChannels)}`, { path: 'convChannels' });
  convChannels.forEach((c, i) => checkInteger(c, `convChannels[${i}]`, 1));
  const symbols = config.ctcSymbols ?? null;
  if (symbols !== null) {
    if (!Array.isArray(symbols) || symbols.length === 0 || symbols.some((s) => typeof s !== 'string' || s === '')) throw new ConfigError('must be a non-empty array of non-empty strings or null', { path: 'ctcSymbols' });
    if (new Set(symbols).size !== symbols.length) throw new ConfigError('symbols must be distinct', { path: 'ctcSymbols' });
  }
  const augment = config.augment ?? null;
  if (augment !== null && typeof augment !== 'object') throw new ConfigError('must be an object of augmentChain options or null', { path: 'augment' });
  const output = checkOneOf(config.output ?? 'hidden', 'output', ['hidden', 'phonemes'] as const);
  if (output === 'phonemes' && symbols === null) throw new ConfigError('output "phonemes" needs a CTC head (ctcSymbols, or a pretrained folder that has one)', { path: 'output' });
  const r = config.reader ?? null;
  if (r !== null && (typeof r !== 'object' || Array.isArray(r))) throw new ConfigError(`must be { hiddenSize, layers? } or null, got ${JSON.stringify(r)}`, { path: 'reader' });
  const reader = r === null ? null : { hiddenSize: checkInteger(r.hiddenSize, 'reader.hiddenSize', 1), layers: checkInteger(r.layers ?? 1, 'reader.layers', 1, 4) };
  return {
    freeze: checkBoolean(config.freeze ?? false, 'freeze'),
    sampleRateHz: checkInteger(config.sampleRateHz ?? 16000, 'sampleRateHz', 1000),
    features: checkOneOf(config.features ?? 'log-mel', 'features', ['log-mel', 'fbank'] as const),
    nMels: checkInteger(config.nMels ?? 40, 'nMels', 1),
    nFft: checkInteger(config.nFft ?? 400, 'nFft', 2),
    hopLength: checkInteger(config.hopLength ?? 160, 'hopLength', 1),
    augment: augment === null ? null : { ...augment },
    specAugment: config.specAugment === undefined || config.specAugment === null ? null : resolveSpecAugment(config.specAugment),
    maxDurationSeconds: checkNumber(config.maxDurationSeconds ?? 30, 'maxDurationSeconds', 0, Number.POSITIVE_INFINITY, true),
    trimSilence: checkBoolean(config.trimSilence ?? true, 'trimSilence'),
    convChannels: [...convChannels],
    kernelSize: checkInteger(config.kernelSize ?? 3, 'kernelSize', 1, 31),
    hiddenSize: checkInteger(config.hiddenSize ?? 128, 'hiddenSize', 1),
    layers: checkInteger(config.layers ?? 2, 'layers', 1, 8),
    dropout: checkNumber(config.dropout ?? 0.1, 'dropout', 0, 0.9),
    ctcSymbols: symbols === null ? null : [...symbols],
    output,
    reader,
  };
}

/** Frames after a block: explicit padding floor(k/2) before, k-1-floor(k/2) after, 'valid' conv, stride 2. */
function convLength(length: number, k: number): number {
  return Math.floor((length + k - 1 - k) / 2) + 1;
}

export class AudioPhoneticEncoder implements ModalityEncoder<AudioInput, PreparedPhoneticInput> {
  static readonly kind = 'audio/phonetic';
  readonly kind = AudioPhoneticEncoder.kind;
  readonly modality = 'audio';
  /** A WAV file (path or bytes); up to 256 MiB, and `maxDurationSeconds` of audio. */
  readonly input: RawInputSpec = { kind: 'file', maxBytes: 256 * 1024 * 1024, mediaTypes: AUDIO_MEDIA_TYPES };
  readonly outputDim: number;
  /** Values per input frame (mel bins). */
  readonly bins: number;
  /** The pretrained folder's metrics (e.g. phoneme error rate), when loaded from one. */
  readonly pretrainedMetrics: JsonValue;
  private readonly cfg: Resolved;
  private readonly pretrained: PretrainedFolder | undefined;
  private convKernels: tf.Variable[] = []; // [k, cin, cout]
  private convBiases: tf.Variable[] = []; // [cout]
  private rnn: RecurrentLayer | undefined;
  private ctcKernel: tf.Variable | undefined; // [2H, 1 + symbols]
  private ctcBias: tf.Variable | undefined; // [1 + symbols]
  private reader: RecurrentLayer | undefined;
  private fallbackRng: Rng | undefined;
  private weightsHash: string | undefined;

  constructor(config: AudioPhoneticEncoderConfig = {}) {
    let merged: AudioPhoneticEncoderConfig = config;
    const dir = config?.pretrained ?? null;
    if (dir !== null && dir !== undefined) {
      if (typeof dir !== 'string' || dir === '') throw new ConfigError(`must be a folder path, got ${JSON.stringify(dir)}`, { path: 'pretrained' });
      this.pretrained = readPretrained(path.resolve(dir));
      const base = this.pretrained.config as unknown as AudioPhoneticEncoderConfig;
      for (const [key, value] of Object.entries(config)) {
        if (OVERRIDABLE.has(key) || value === undefined) continue;
        if (JSON.stringify(value) !== JSON.stringify((base as Record<string, unknown>)[key])) {
          throw new ConfigError(`comes from the pretrained folder ${dir} (${JSON.stringify((base as Record<string, unknown>)[key])}); only ${[...OVERRIDABLE].filter((k) => k !== 'pretrained').join(', ')} may be set with pretrained`, { path: key });
        }
      }
      merged = { ...base, ...config };
    }
    this.cfg = resolveConfig(merged);
    this.pretrainedMetrics = this.pretrained?.metrics ?? null;
    this.bins = this.cfg.nMels;
    const c = this.cfg;
    this.outputDim = c.reader !== null ? 2 * c.reader.hiddenSize : c.output === 'phonemes' ? (c.ctcSymbols as string[]).length : 2 * c.hiddenSize;
  }

  /** CTC classes including the blank (0 without a CTC head). */
  get ctcClasses(): number {
    return this.cfg.ctcSymbols === null ? 0 : this.cfg.ctcSymbols.length + 1;
  }

  /** Symbols of CTC classes 1..N, or null. */
  get ctcSymbols(): readonly string[] | null {
    return this.cfg.ctcSymbols;
  }

  /** Frames out of `frames` input frames (the conv front-end's downsampling). */
  outputFrames(frames: number): number {
    let t = frames;
    for (let i = 0; i < this.cfg.convChannels.length; i++) t = convLength(t, this.cfg.kernelSize);
    return t;
  }

  /** The feature matrix of one clip (before normalization). */
  extractFeatures(samples: Float32Array): FeatureMatrix {
    return audioFeatureMatrix(samples, { ...this.cfg, normalization: 'none' });
  }

  /**
   * A frozen acoustic model with output `phonemes` runs in `prepare` (inference mode): the prepared value is
   * the clip's phoneme sequence (plain data, cached like any prepared value), so training runs only the
   * reader and the fusion layers. Needs the acoustic weights: a pretrained folder, or `build` first.
   */
  get acousticAtPrepare(): boolean {
    return this.cfg.freeze && this.cfg.output === 'phonemes';
  }

  /**
   * Identity of what `prepare` computes beyond the config: with the acoustic model in `prepare`, a hash of
   * its weights (part of the prepared-value cache key, so a retrained folder at the same path is not
   * answered from an old cache). Undefined otherwise.
   */
  preparedKey(): string | undefined {
    if (!this.acousticAtPrepare) return undefined;
    if (this.weightsHash === undefined) {
      const h = createHash('sha256');
      if (this.rnn === undefined && this.pretrained !== undefined) {
        h.update(readFileSync(path.join(this.pretrained.dir, WEIGHTS_FILE)));
      } else {
        for (const v of this.acousticWeights) h.update(new Uint8Array((v.dataSync() as Float32Array).buffer));
      }
      this.weightsHash = h.digest('hex').slice(0, 32);
    }
    return this.weightsHash;
  }

  /** Clips waiting for one batched acoustic pass in `prepare`. */
  private queue: { value: PreparedPhoneticAudio; resolve: (v: PreparedPhonemeSequence) => void; reject: (e: unknown) => void }[] = [];

  /** The phoneme sequence of prepared audio, through the acoustic model; concurrent calls share a batch. */
  private recognise(value: PreparedPhoneticAudio): Promise<PreparedPhonemeSequence> {
    if (this.rnn === undefined) {
      if (this.pretrained === undefined) throw new StateError('audio/phonetic: freeze with output "phonemes" runs the acoustic model in prepare; give a pretrained folder or call build(rng) first');
      this.buildAcoustic(createRng(0));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ value, resolve, reject });
      // Let the other samples being prepared join the batch (file reads finish in the same turn or the next).
      if (this.queue.length === 1) setTimeout(() => this.flushQueue(), 1);
    });
  }

  private flushQueue(): void {
    const S = this.ctcClasses - 1;
    while (this.queue.length > 0) {
      const jobs = this.queue.splice(0, 32);
      try {
        const { data, L, counts } = tf.tidy(() => {
          const batch = this.collate(jobs.map((j) => j.value));
          const a = this.acoustic(batch.features as tf.Tensor3D, batch.lengths as tf.Tensor1D, false, this.fallbackRng as Rng);
          const c = this.collapse(a.logits as tf.Tensor3D, a.lengths);
          return { data: c.seq.dataSync() as Float32Array, L: c.seq.shape[1], counts: c.counts };
        });
        jobs.forEach((j, b) => j.resolve({ phonemes: data.slice(b * L * S, (b * L + (counts[b] as number)) * S), length: counts[b] as number }));
      } catch (err) {
        for (const j of jobs) j.reject(err);
      }
    }
  }

  /**
   * `prepare` for fusion: the clip's features, or (frozen acoustic model with output `phonemes`) its phoneme
   * sequence, computed here once and cached by the pipeline.
   */
  async prepare(raw: AudioInput, ctx: PrepareContext): Promise<PreparedPhoneticInput> {
    const prepared = await this.prepareAudio(raw, ctx);
    if (!this.acousticAtPrepare) return prepared;
    try {
      return await this.recognise(prepared);
    } catch (err) {
      if (isMmfuseError(err)) throw (err as MmfuseError).locate({ sample: ctx.sample, field: ctx.field });
      throw err;
    }
  }

  /** Decode, resample, (training) augment, silence cut, features, per-utterance normalization: `{ features, frames }`. */
  async prepareAudio(raw: AudioInput, ctx: PrepareContext): Promise<PreparedPhoneticAudio> {
    const loc = { sample: ctx.sample, field: ctx.field };
    try {
      const clip = await loadAudio(raw, ctx, this.cfg.sampleRateHz, this.cfg.maxDurationSeconds);
      const samples = augmentForTraining(clip, this.cfg.augment, this.cfg.sampleRateHz, ctx, 'audio/phonetic');
      return audioFeatureFrames(samples, { ...this.cfg, normalization: 'utterance' }, loc);
    } catch (err) {
      if (isMmfuseError(err)) throw (err as MmfuseError).locate(loc);
      throw err;
    }
  }

  /**
   * A phoneme transcript (symbols of `ctcSymbols`, e.g. a typed text's phonemes) as a prepared value, the
   * same form as a clip's collapsed posteriors: one distribution per phoneme, `smoothing` (default 0) spread
   * over the other symbols. Only with `output: 'phonemes'`. `InvalidInputError` for an unknown symbol.
   */
  phonemeSequence(transcript: readonly string[], options: { smoothing?: number } = {}): PreparedPhonemeSequence {
    if (this.cfg.output !== 'phonemes') throw new ConfigError('phoneme sequences need output: "phonemes"', { path: 'output' });
    const smoothing = checkNumber(options.smoothing ?? 0, 'smoothing', 0, 1);
    return phonemeSequenceOf(transcript, this.cfg.ctcSymbols as string[], smoothing);
  }

  build(rng: Rng, options: BuildOptions = {}): void {
    this.buildAcoustic(rng, options);
    const r = this.cfg.reader;
    if (r !== null && this.reader === undefined) {
      const inputSize = this.cfg.output === 'phonemes' ? this.ctcClasses - 1 : 2 * this.cfg.hiddenSize;
      this.reader = new RecurrentLayer({ cell: 'gru', inputSize, hiddenSize: r.hiddenSize, numLayers: r.layers, bidirectional: true, dropout: r.layers > 1 ? this.cfg.dropout : 0 });
      this.reader.build(rng.fork('reader'), options);
    }
  }

  /** The acoustic model's weights (from the pretrained folder, when there is one); once. */
  private buildAcoustic(rng: Rng, options: BuildOptions = {}): void {
    if (this.rnn !== undefined) return;
    this.fallbackRng = rng.fork('audio/phonetic/train');
    const k = this.cfg.kernelSize;
    let cin = this.bins;
    for (const cout of this.cfg.convChannels) {
      const seed = rng.nextSeed();
      // He initialization for ReLU: std sqrt(2 / fan_in).
      this.convKernels.push(seededVariable([k, cin, cout], { normal: Math.sqrt(2 / (k * cin)) }, seed, options));
      this.convBiases.push(tf.tidy(() => tf.variable(tf.zeros([cout]))));
      cin = cout;
    }
    const rnn = new RecurrentLayer({ cell: 'gru', inputSize: cin, hiddenSize: this.cfg.hiddenSize, numLayers: this.cfg.layers, bidirectional: true, dropout: this.cfg.dropout });
    rnn.build(rng, options);
    this.rnn = rnn;
    if (this.ctcClasses > 0) {
      const fanIn = 2 * this.cfg.hiddenSize;
      const seed = rng.nextSeed();
      this.ctcKernel = seededVariable([fanIn, this.ctcClasses], { uniform: 1 / Math.sqrt(fanIn) }, seed, options);
      this.ctcBias = tf.tidy(() => tf.variable(tf.zeros([this.ctcClasses])));
    }
    if (this.pretrained !== undefined) this.loadWeights(this.pretrained);
  }

  private loadWeights(p: PretrainedFolder): void {
    const file = path.join(p.dir, WEIGHTS_FILE);
    const names = this.acousticWeightNames();
    const vars = this.acousticWeights;
    if (p.weights.length !== vars.length || p.weights.some((w, i) => w.name !== names[i] || JSON.stringify(w.shape) !== JSON.stringify((vars[i] as tf.Variable).shape))) {
      throw new ModelFormatError(`the weight list does not match the architecture in its config (${p.weights.length} weights, expected ${vars.length})`, { file: path.join(p.dir, CONFIG_FILE) });
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new ModelFormatError(`cannot read ${file}: ${(err as Error).message}`, { file, cause: err });
    }
    const total = vars.reduce((s, v) => s + v.size, 0);
    if (bytes.byteLength !== total * 4) throw new ModelFormatError(`holds ${bytes.byteLength} bytes, expected ${total * 4} (${total} float32 values)`, { file });
    const all = new Float32Array(total);
    new Uint8Array(all.buffer).set(bytes);
    let offset = 0;
    for (const v of vars) {
      const values = all.subarray(offset, offset + v.size);
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new ModelFormatError(`weight values are not finite (offset ${offset + i})`, { file });
      tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
      offset += v.size;
    }
  }

  /** Names of the acoustic model's weights (what a pretrained folder holds), in order. */
  private acousticWeightNames(): string[] {
    const names: string[] = [];
    this.cfg.convChannels.forEach((_, i) => names.push(`conv${i}.kernel`, `conv${i}.bias`));
    if (this.rnn !== undefined) names.push(...this.rnn.parameterNames.map((n) => `gru.${n}`));
    if (this.ctcKernel !== undefined) names.push('ctc.kernel', 'ctc.bias');
    return names;
  }

  /** Names of `weights`, in order. */
  weightNames(): string[] {
    return [...this.acousticWeightNames(), ...(this.reader?.parameterNames.map((n) => `reader.${n}`) ?? [])];
  }

  /**
   * Write a pretrained folder (`phonetic-encoder.json` + `weights.bin`: the acoustic model, without the
   * reader and the training-only settings) into `dir`, each file through a rename so a reader never sees
   * half a folder. Writes nothing else there.
   */
  async save(dir: string, metrics: JsonValue = null): Promise<void> {
    if (this.rnn === undefined) throw new StateError('audio/phonetic: call build(rng) before save');
    await mkdir(dir, { recursive: true });
    const vars = this.acousticWeights;
    const total = vars.reduce((s, v) => s + v.size, 0);
    const all = new Float32Array(total);
    let offset = 0;
    for (const v of vars) {
      all.set(v.dataSync() as Float32Array, offset);
      offset += v.size;
    }
    const names = this.acousticWeightNames();
    const full = this.getConfig();
    const config: JsonObject = { dropout: full.dropout as number, maxDurationSeconds: full.maxDurationSeconds as number, trimSilence: full.trimSilence as boolean };
    for (const key of ACOUSTIC_KEYS) config[key] = full[key] as JsonValue;
    const doc = { format: FORMAT, version: FORMAT_VERSION, kind: this.kind, config, weights: vars.map((v, i) => ({ name: names[i] as string, shape: v.shape })), metrics };
    const w = path.join(dir, WEIGHTS_FILE);
    await writeFile(`${w}.part`, new Uint8Array(all.buffer));
    await rename(`${w}.part`, w);
    const c = path.join(dir, CONFIG_FILE);
    await writeFile(`${c}.part`, `${JSON.stringify(doc, null, 1)}\n`);
    await rename(`${c}.part`, c);
  }

  collate(values: readonly PreparedPhoneticInput[]): TensorMap {
    if (values.length === 0) throw new ConfigError('cannot collate an empty batch', { path: 'values' });
    const bins = this.bins;
    const audio: PreparedPhoneticAudio[] = [];
    const audioRows: number[] = [];
    const seqs: PreparedPhonemeSequence[] = [];
    const seqRows: number[] = [];
    const S = this.ctcClasses - 1;
    values.forEach((v, b) => {
      if (isPhonemeSequence(v)) {
        if (this.cfg.output !== 'phonemes') throw new InvalidInputError(`prepared value ${b} is a phoneme sequence; only output "phonemes" reads those`);
        if (!Number.isInteger(v.length) || v.length < 1 || v.phonemes.length !== v.length * S) throw new InvalidInputError(`prepared value ${b} is not a sequence of ${S}-symbol distributions`);
        seqs.push(v);
        seqRows.push(b);
        return;
      }
      const a = v as PreparedPhoneticAudio;
      if (!(a?.frames >= 1)) throw new InvalidInputError(`prepared value ${b} is not ${bins}-bin audio features (was it prepared by another config?)`);
      audio.push(a);
      audioRows.push(b);
    });
    const out: TensorMap = {};
    if (audio.length > 0) {
      const { data: flat, frames: T, lengths } = padFeatureBatch(audio, bins);
      out.features = tf.tensor3d(flat, [audio.length, T, bins]); // [B_audio, T, bins]
      out.lengths = tf.tensor1d(lengths, 'int32'); // [B_audio]
    }
    if (seqs.length > 0) {
      const L = Math.max(...seqs.map((v) => v.length));
      const flat = new Float32Array(seqs.length * L * S);
      seqs.forEach((v, b) => flat.set(v.phonemes, b * L * S));
      out.phonemes = tf.tensor3d(flat, [seqs.length, L, S]); // [B_seq, L, symbols]
      out.phonemeLengths = tf.tensor1d(Int32Array.from(seqs.map((v) => v.length)), 'int32'); // [B_seq]
      out.audioRows = tf.tensor1d(Int32Array.from(audioRows), 'int32');
      out.phonemeRows = tf.tensor1d(Int32Array.from(seqRows), 'int32');
    }
    return out;
  }

  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput {
    const rnn = this.rnn;
    if (rnn === undefined) throw new StateError('audio/phonetic: call build(rng) before encode');
    const features = batch.features as tf.Tensor3D | undefined;
    const lengthsT = batch.lengths as tf.Tensor1D | undefined;
    const seqs = batch.phonemes as tf.Tensor3D | undefined;
    const hasAudio = features !== undefined && lengthsT !== undefined && features.rank === 3 && features.shape[2] === this.bins;
    if (!hasAudio && seqs === undefined) {
      throw new ConfigError(`batch must be the { features [B, T, ${this.bins}], lengths [B] } that collate returns`, { path: 'batch' });
    }
    const rng = options.rng ?? (this.fallbackRng as Rng);
    const c = this.cfg;
    const audioRows = batch.audioRows === undefined ? undefined : Array.from(batch.audioRows.dataSync());
    const acoustic = hasAudio ? this.acoustic(features, lengthsT, options.training, rng) : undefined;
    const aux: TensorMap = {};
    if (acoustic?.logits !== undefined) {
      aux.ctcLogits = acoustic.logits;
      aux.ctcLengths = tf.tensor1d(acoustic.lengths, 'int32');
      aux.ctcRows = tf.tensor1d(Int32Array.from(audioRows ?? acoustic.lengths.map((_, i) => i)), 'int32');
    }
    let seq: tf.Tensor3D;
    let mask: tf.Tensor2D;
    if (c.output === 'hidden') {
      const a = acoustic as NonNullable<typeof acoustic>;
      seq = a.hidden;
      mask = a.mask;
    } else {
      ({ seq, mask } = this.phonemeOutput(acoustic, seqs, batch, audioRows));
      aux.phonemes = seq; // [B, L, S], what `transcribe` reads
    }
    if (this.reader !== undefined) {
      seq = this.reader.apply(seq, mask, { training: options.training, rng }).output; // [B, L, 2 x reader.hiddenSize]
    }
    const result: EncoderOutput = { features: seq, mask };
    if (Object.keys(aux).length > 0) result.aux = aux;
    return result;
  }

  /** The acoustic model on a padded batch: hidden states, mask, frame lengths and CTC logits. */
  private acoustic(features: tf.Tensor3D, lengthsT: tf.Tensor1D, training: boolean, rng: Rng): { hidden: tf.Tensor3D; mask: tf.Tensor2D; lengths: number[]; logits?: tf.Tensor3D } {
    const rnn = this.rnn as RecurrentLayer;
    const [B, T0] = features.shape;
    let lengths = Array.from(lengthsT.dataSync());
    const c = this.cfg;
    const k = c.kernelSize;
    const pad = Math.floor(k / 2);
    // A frozen acoustic model runs as in inference (no dropout); SpecAugment is data augmentation and stays.
    const dropoutOn = training && !c.freeze && c.dropout > 0;
    let x: tf.Tensor3D = features;
    if (training && c.specAugment !== null) {
      x = x.mul(this.specAugmentMask(B, T0, lengths, createRng(rng.nextSeed()))); // [B, T, bins]
    }
    for (let i = 0; i < this.convKernels.length; i++) {
      const padded = x.pad([[0, 0], [pad, k - 1 - pad], [0, 0]]) as tf.Tensor3D; // [B, T + k - 1, C]
      let y = tf.conv1d(padded, this.convKernels[i] as tf.Variable as tf.Tensor3D, 2, 'valid'); // [B, T', cout]
      y = tf.relu(y.add(this.convBiases[i] as tf.Variable)) as tf.Tensor3D;
      if (dropoutOn) y = tf.dropout(y, c.dropout, undefined, rng.nextSeed()) as tf.Tensor3D;
      lengths = lengths.map((l) => convLength(l, k));
      x = y.mul(this.timeMask(lengths, y.shape[1]).expandDims(2)) as tf.Tensor3D; // padded frames back to exactly 0
    }
    const T = x.shape[1];
    const mask = this.timeMask(lengths, T); // [B, T']
    const hidden = rnn.apply(x, mask, { training: training && !c.freeze, rng }).output; // [B, T', 2H]
    if (this.ctcKernel === undefined || this.ctcBias === undefined) return { hidden, mask, lengths };
    const flat = hidden.reshape([B * T, 2 * c.hiddenSize]); // [B*T', 2H]
    const logits = flat.matMul(this.ctcKernel).add(this.ctcBias).reshape([B, T, this.ctcClasses]) as tf.Tensor3D; // [B, T', 1 + symbols]
    return { hidden, mask, lengths, logits };
  }

  /** CTC logits [B, T', 1 + S] collapsed to one renormalized symbol distribution per recognised phoneme: [B, L, S]. */
  private collapse(logits: tf.Tensor3D, lengths: readonly number[]): { seq: tf.Tensor3D; counts: number[] } {
    const S = this.ctcClasses - 1;
    const [B, T] = logits.shape;
    const probs = tf.softmax(logits); // [B, T', 1 + S]
    const { weights, L, counts } = collapseWeights(probs.argMax(2).dataSync(), probs.slice([0, 0, 0], [B, T, 1]).dataSync(), B, T, lengths);
    const symbols = probs.slice([0, 0, 1], [B, T, S]); // [B, T', S], blank dropped
    const avg = tf.matMul(tf.tensor3d(weights, [B, L, T]), symbols); // [B, L, S]
    return { seq: avg.div(avg.sum(2, true).add(1e-8)) as tf.Tensor3D, counts }; // padded rows stay 0
  }

  /**
   * Output `phonemes`: the clips' CTC posteriors collapsed per recognised phoneme, and the batch's phoneme
   * sequences, back in batch order: [B, L, symbols] with mask [B, L].
   */
  private phonemeOutput(acoustic: { logits?: tf.Tensor3D; lengths: number[] } | undefined, seqs: tf.Tensor3D | undefined, batch: TensorMap, audioRows: number[] | undefined): { seq: tf.Tensor3D; mask: tf.Tensor2D } {
    const S = this.ctcClasses - 1;
    const parts: { seq: tf.Tensor3D; counts: number[]; rows: number[] }[] = [];
    if (acoustic !== undefined) {
      const { seq, counts } = this.collapse(acoustic.logits as tf.Tensor3D, acoustic.lengths);
      parts.push({ seq, counts, rows: audioRows ?? counts.map((_, i) => i) });
    }
    if (seqs !== undefined) {
      parts.push({ seq: seqs, counts: Array.from((batch.phonemeLengths as tf.Tensor1D).dataSync()), rows: Array.from((batch.phonemeRows as tf.Tensor1D).dataSync()) });
    }
    const L = Math.max(...parts.map((p) => p.seq.shape[1]));
    const B = parts.reduce((n, p) => n + p.rows.length, 0);
    const m = new Float32Array(B * L);
    for (const p of parts) p.rows.forEach((r, i) => m.fill(1, r * L, r * L + (p.counts[i] as number)));
    const mask = tf.tensor2d(m, [B, L]);
    if (parts.length === 1 && (parts[0] as { rows: number[] }).rows.every((r, i) => r === i)) {
      const only = (parts[0] as { seq: tf.Tensor3D }).seq;
      return { seq: only.shape[1] === L ? only : only.pad([[0, 0], [0, L - only.shape[1]], [0, 0]]), mask };
    }
    // Concatenate the parts (padded to L), then put each row back at its batch position (a one-hot product).
    const stacked = tf.concat(parts.map((p) => p.seq.pad([[0, 0], [0, L - p.seq.shape[1]], [0, 0]])), 0).reshape([B, L * S]); // [B, L*S]
    const perm = new Float32Array(B * B);
    let k = 0;
    for (const p of parts) for (const r of p.rows) perm[r * B + k++] = 1;
    const seq = tf.matMul(tf.tensor2d(perm, [B, B]), stacked).reshape([B, L, S]) as tf.Tensor3D; // [B, L, S]
    return { seq, mask };
  }

  /**
   * The inference-mode `encode` as ONNX: inputs `features` [batch, time, bins] float32 and `lengths` [batch]
   * int32; the 1-D conv blocks (stride 2, frames past each clip's length zeroed) and the bidirectional GRU
   * as ONNX `GRU` ops with the lengths as `sequence_lens`. The CTC head is not part of the fusion graph.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    const rnn = this.rnn;
    if (rnn === undefined) throw new StateError('audio/phonetic: call build(rng) before exportOnnx()');
    if (this.cfg.output !== 'hidden' || this.reader !== undefined) throw new ConfigError('ONNX export supports audio/phonetic with output "hidden" and no reader only', { path: 'output' });
    const k = this.cfg.kernelSize;
    const pad = Math.floor(k / 2);
    const features = g.input('features', 'float32', [g.batch, 'time', this.bins]);
    let lengths = g.input('lengths', 'int32', [g.batch]);
    let x = g.op('Transpose', [features], { perm: [0, 2, 1] }); // [B, bins, T]
    let mask: OnnxValue = onnxLengthMask(g, lengths, onnxAxisLength(g, features, 1));
    this.convKernels.forEach((kernel, i) => {
      const oik = tf.tidy(() => kernel.transpose([2, 1, 0])); // [cout, cin, k]
      const w = g.constant(oik);
      oik.dispose();
      const y = g.op('Relu', [g.op('Conv', [x, w, g.constant(this.convBiases[i] as tf.Variable)], { kernel_shape: [k], pads: [pad, k - 1 - pad], strides: [2] })]); // [B, C, T']
      // convLength: floor((l - 1) / 2) + 1 (l >= 1).
      lengths = g.op('Add', [g.op('Div', [g.op('Sub', [lengths, g.constant({ data: Int32Array.of(1), dims: [] })]), g.constant({ data: Int32Array.of(2), dims: [] })]), g.constant({ data: Int32Array.of(1), dims: [] })]);
      mask = onnxLengthMask(g, lengths, onnxAxisLength(g, y, 2)); // [B, T']
      x = g.op('Mul', [y, g.op('Unsqueeze', [mask, g.ints([1])])]);
    });
    const frames = g.op('Transpose', [x], { perm: [0, 2, 1] }); // [B, T', C]
    return { features: rnn.exportOnnx(g, frames, lengths, mask), mask };
  }

  /**
   * What was heard, one symbol list per row of an `encode` output: output `phonemes`, the most likely symbol
   * of each phoneme of the sequence (for a clip, the same as greedy CTC decoding); output `hidden`, greedy
   * CTC decoding of `aux.ctcLogits` (rows without audio get an empty list). `undefined` without a CTC head
   * (no `ctcSymbols`): such an encoder recognises nothing it could show.
   */
  transcribe(output: EncoderOutput): string[][] | undefined {
    const symbols = this.cfg.ctcSymbols;
    if (symbols === null) return undefined;
    const B = output.features.shape[0] as number;
    const seq = output.aux?.phonemes as tf.Tensor3D | undefined;
    if (seq !== undefined) {
      const [, L, S] = seq.shape;
      const ids = seq.argMax(2);
      const best = ids.dataSync();
      ids.dispose();
      const m = output.mask.dataSync();
      return Array.from({ length: B }, (_, b) => {
        const out: string[] = [];
        for (let l = 0; l < L; l++) if ((m[b * L + l] as number) > 0) out.push(symbols[best[b * L + l] as number] as string);
        return out;
      }).map((x) => (S > 0 ? x : []));
    }
    const logits = output.aux?.ctcLogits as tf.Tensor3D | undefined;
    const lengths = output.aux?.ctcLengths;
    if (logits === undefined || lengths === undefined) throw new StateError('audio/phonetic: the encode output has no CTC logits to transcribe');
    const decoded = ctcGreedyDecode(logits, { lengths: lengths.dataSync() }).map((ids) => ids.map((id) => symbols[id - 1] as string));
    const rows = output.aux?.ctcRows === undefined ? decoded.map((_, i) => i) : Array.from(output.aux.ctcRows.dataSync());
    const out: string[][] = Array.from({ length: B }, () => []);
    rows.forEach((r, i) => { out[r] = decoded[i] as string[]; });
    return out;
  }

  /** [B, T] float32, 1 for t < lengths[b]. */
  private timeMask(lengths: number[], T: number): tf.Tensor2D {
    const m = new Float32Array(lengths.length * T);
    lengths.forEach((l, b) => m.fill(1, b * T, b * T + Math.min(l, T)));
    return tf.tensor2d(m, [lengths.length, T]);
  }

  /** [B, T, bins] multiplicative SpecAugment mask drawn within each clip's real frames. */
  private specAugmentMask(B: number, T: number, lengths: number[], rng: Rng): tf.Tensor3D {
    const opts = this.cfg.specAugment as Required<SpecAugmentOptions>;
    const bins = this.bins;
    const m = new Float32Array(B * T * bins).fill(1);
    for (let b = 0; b < B; b++) {
      const frames = lengths[b] as number;
      const base = b * T * bins;
      for (const mask of drawSpecAugmentMasks(frames, bins, opts, rng)) {
        if (mask.axis === 'freq') for (let t = 0; t < frames; t++) m.fill(0, base + t * bins + mask.start, base + t * bins + mask.start + mask.width);
        else m.fill(0, base + mask.start * bins, base + (mask.start + mask.width) * bins);
      }
    }
    return tf.tensor3d(m, [B, T, bins]);
  }

  /** The acoustic model's weights: conv, GRU, CTC head. */
  private get acousticWeights(): tf.Variable[] {
    const conv = this.convKernels.flatMap((kv, i) => [kv, this.convBiases[i] as tf.Variable]);
    const head = this.ctcKernel !== undefined && this.ctcBias !== undefined ? [this.ctcKernel, this.ctcBias] : [];
    return [...conv, ...(this.rnn?.weights ?? []), ...head];
  }

  /** Every weight but the frozen acoustic ones: the reader's when `freeze`, else all. */
  get trainableWeights(): tf.Variable[] {
    return this.cfg.freeze ? [...(this.reader?.weights ?? [])] : this.weights;
  }

  get weights(): tf.Variable[] {
    return [...this.acousticWeights, ...(this.reader?.weights ?? [])];
  }

  /** Conv filters [k, in, out] per output channel (axis 2), GRU matrices per gate row, the CTC kernel [2H, symbols] per symbol, then the reader's GRU (in `weights` order). */
  describeWeights(): WeightDescription[] {
    const conv = this.cfg.convChannels.flatMap((_, i) => [{ name: `conv${i}.kernel`, outputAxis: 2 }, { name: `conv${i}.bias`, outputAxis: null }]);
    const head = this.ctcKernel !== undefined ? [{ name: 'ctc.kernel', outputAxis: 1 }, { name: 'ctc.bias', outputAxis: null }] : [];
    return [...conv, ...(this.rnn?.describeWeights('gru.') ?? []), ...head, ...(this.reader?.describeWeights('reader.') ?? [])];
  }

  /** The full architecture (never `pretrained`: a saved fusion model carries the weights itself). */
  getConfig(): JsonObject {
    const c = this.cfg;
    return {
      freeze: c.freeze, sampleRateHz: c.sampleRateHz, features: c.features, nMels: c.nMels, nFft: c.nFft, hopLength: c.hopLength,
      augment: c.augment === null ? null : (JSON.parse(JSON.stringify(c.augment)) as JsonObject),
      specAugment: c.specAugment === null ? null : { ...c.specAugment }, maxDurationSeconds: c.maxDurationSeconds, trimSilence: c.trimSilence,
      convChannels: [...c.convChannels], kernelSize: c.kernelSize, hiddenSize: c.hiddenSize, layers: c.layers, dropout: c.dropout,
      ctcSymbols: c.ctcSymbols === null ? null : [...c.ctcSymbols],
      output: c.output,
      reader: c.reader === null ? null : { ...c.reader },
    };
  }

  /**
   * What a saved fusion model records for this encoder: with `pretrained`, the full architecture instead
   * of the folder (the model folder carries the weights, so it loads without the pretrained folder).
   */
  savedConfig(): JsonObject | undefined {
    return this.pretrained === undefined ? undefined : this.getConfig();
  }

  getState(): JsonObject {
    return {};
  }

  setState(state: JsonObject): void {
    if (state === null || typeof state !== 'object' || Object.keys(state).length > 0) throw new ConfigError('audio/phonetic has no fitted state; expected {}', { path: 'state' });
  }

  dispose(): void {
    for (const v of [...this.convKernels, ...this.convBiases]) v.dispose();
    this.ctcKernel?.dispose();
    this.ctcBias?.dispose();
    this.rnn?.dispose();
    this.reader?.dispose();
    this.convKernels = [];
    this.convBiases = [];
    this.rnn = undefined;
    this.ctcKernel = undefined;
    this.ctcBias = undefined;
    this.reader = undefined;
    this.fallbackRng = undefined;
  }
}
