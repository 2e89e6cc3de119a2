/**
 * `audio/phonetic`: a speech encoder that learns what was said, pretrained to recognise phonemes with a
 * CTC loss (see `@mmfuse/speech`'s `pretrainSpeechEncoder`) and then used as a fusion encoder.
 *
 * prepare: decode -> resample -> (training: random channel/room `augmentChain`) -> log-mel or Kaldi fbank
 *   frames [frames, bins] -> per-utterance mean/variance normalization per bin (cepstral mean and variance
 *   normalization: removes a fixed channel response, one reason it transfers from synthetic to real speech).
 * collate: pad to the longest clip -> { features [B, T, bins], lengths [B] }.
 * encode: (training) SpecAugment masks -> conv front-end (per block: explicit zero padding, 1-D conv over
 *   time with stride, bias, ReLU, dropout, frames past each clip's length set back to 0, so a clip's output
 *   is the same alone or in a batch) -> stacked bidirectional GRU over the masked frames -> `features`
 *   [B, T', 2H] with `mask` [B, T']; with `ctcSymbols`, a linear CTC projection to blank + symbols in
 *   `aux.ctcLogits` [B, T', 1 + symbols] (logits; class 0 is the blank) and `aux.ctcLengths` [B] (int32).
 *
 * Pretrained folders (`pretrained: DIR`, written by `save`): `phonetic-encoder.json` (format, config,
 * weight names and shapes, metrics) and `weights.bin` (float32, little-endian, in `weights` order). The
 * folder fixes the architecture; a config may still set `freeze`, `dropout`, `specAugment`, `augment` and
 * `maxDurationSeconds`. `freeze: true` keeps the weights fixed (`trainableWeights` is empty).
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, ModelFormatError, RecurrentLayer, StateError, createRng, ctcGreedyDecode, isMmfuseError } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, JsonObject, JsonValue, MmfuseError, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OnnxValue, PrepareContext, RawInputSpec, Rng, TensorMap, WeightDescription } from '@mmfuse/core';
import { augmentChain } from './augment-chain.js';
import type { AugmentChainOptions } from './augment-chain.js';
import { audioFeatureFrames, audioFeatureMatrix, padFeatureBatch } from './audio-features.js';
import { checkBoolean, checkInteger, checkNumber, checkOneOf, onnxAxisLength, onnxLengthMask } from '@mmfuse/core/base';
import { loadAudio } from './internal/load-audio.js';
import { AUDIO_MEDIA_TYPES } from './internal/sniff.js';
import type { AudioInput } from './internal/load-audio.js';
import { drawSpecAugmentMasks, resolveSpecAugment } from './internal/spec-augment-masks.js';
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
  augment?: Omit<AugmentChainOptions, 'sampleRateHz' | 'noiseClips'> | null;
  /** SpecAugment masks in `encode` when training; null = off. Default null. */
  specAugment?: SpecAugmentOptions | null;
  /** Longer inputs are refused with a LimitExceededError. Default 30. */
  maxDurationSeconds?: number;
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
}

/** What `prepare` returns: plain data. */
export interface PreparedPhoneticAudio {
  /** `[frames, bins]` frame by frame. */
  features: Float32Array;
  frames: number;
}

type Resolved = Required<Omit<AudioPhoneticEncoderConfig, 'pretrained' | 'specAugment' | 'augment' | 'ctcSymbols'>> & {
  specAugment: Required<SpecAugmentOptions> | null;
  augment: Omit<AugmentChainOptions, 'sampleRateHz' | 'noiseClips'> | null;
  ctcSymbols: string[] | null;
};

const FORMAT = 'mmfuse-phonetic-encoder';
const FORMAT_VERSION = 1;
const CONFIG_FILE = 'phonetic-encoder.json';
const WEIGHTS_FILE = 'weights.bin';
/** Keys a config may set on top of a pretrained folder. */
const OVERRIDABLE = new Set(['pretrained', 'freeze', 'dropout', 'specAugment', 'augment', 'maxDurationSeconds']);

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
    convChannels: [...convChannels],
    kernelSize: checkInteger(config.kernelSize ?? 3, 'kernelSize', 1, 31),
    hiddenSize: checkInteger(config.hiddenSize ?? 128, 'hiddenSize', 1),
    layers: checkInteger(config.layers ?? 2, 'layers', 1, 8),
    dropout: checkNumber(config.dropout ?? 0.1, 'dropout', 0, 0.9),
    ctcSymbols: symbols === null ? null : [...symbols],
  };
}

/** Frames after a block: explicit padding floor(k/2) before, k-1-floor(k/2) after, 'valid' conv, stride 2. */
function convLength(length: number, k: number): number {
  return Math.floor((length + k - 1 - k) / 2) + 1;
}

export class AudioPhoneticEncoder implements ModalityEncoder<AudioInput, PreparedPhoneticAudio> {
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
  private fallbackRng: Rng | undefined;

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
    this.outputDim = 2 * this.cfg.hiddenSize;
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

  async prepare(raw: AudioInput, ctx: PrepareContext): Promise<PreparedPhoneticAudio> {
    const loc = { sample: ctx.sample, field: ctx.field };
    try {
      let samples = await loadAudio(raw, ctx, this.cfg.sampleRateHz, this.cfg.maxDurationSeconds);
      if (ctx.training === true && this.cfg.augment !== null) {
        if (ctx.rng === undefined) throw new ConfigError('audio/phonetic augmentation needs ctx.rng while training', { path: 'augment' });
        samples = augmentChain(samples, { ...this.cfg.augment, sampleRateHz: this.cfg.sampleRateHz }, ctx.rng).samples;
      }
      return audioFeatureFrames(samples, { ...this.cfg, normalization: 'utterance' }, loc);
    } catch (err) {
      if (isMmfuseError(err)) throw (err as MmfuseError).locate(loc);
      throw err;
    }
  }

  build(rng: Rng): void {
    if (this.rnn !== undefined) return;
    this.fallbackRng = rng.fork('audio/phonetic/train');
    const k = this.cfg.kernelSize;
    let cin = this.bins;
    for (const cout of this.cfg.convChannels) {
      const seed = rng.nextSeed();
      // He initialization for ReLU: std sqrt(2 / fan_in).
      this.convKernels.push(tf.tidy(() => tf.variable(tf.randomNormal([k, cin, cout], 0, Math.sqrt(2 / (k * cin)), 'float32', seed))));
      this.convBiases.push(tf.tidy(() => tf.variable(tf.zeros([cout]))));
      cin = cout;
    }
    const rnn = new RecurrentLayer({ cell: 'gru', inputSize: cin, hiddenSize: this.cfg.hiddenSize, numLayers: this.cfg.layers, bidirectional: true, dropout: this.cfg.dropout });
    rnn.build(rng);
    this.rnn = rnn;
    if (this.ctcClasses > 0) {
      const fanIn = 2 * this.cfg.hiddenSize;
      const seed = rng.nextSeed();
      this.ctcKernel = tf.tidy(() => tf.variable(tf.randomUniform([fanIn, this.ctcClasses], -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', seed)));
      this.ctcBias = tf.tidy(() => tf.variable(tf.zeros([this.ctcClasses])));
    }
    if (this.pretrained !== undefined) this.loadWeights(this.pretrained);
  }

  private loadWeights(p: PretrainedFolder): void {
    const file = path.join(p.dir, WEIGHTS_FILE);
    const names = this.weightNames();
    const vars = this.weights;
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

  /** Names of `weights`, in order. */
  weightNames(): string[] {
    const names: string[] = [];
    this.cfg.convChannels.forEach((_, i) => names.push(`conv${i}.kernel`, `conv${i}.bias`));
    if (this.rnn !== undefined) names.push(...this.rnn.parameterNames.map((n) => `gru.${n}`));
    if (this.ctcKernel !== undefined) names.push('ctc.kernel', 'ctc.bias');
    return names;
  }

  /**
   * Write a pretrained folder (`phonetic-encoder.json` + `weights.bin`) into `dir`, each file through a
   * rename so a reader never sees half a folder. Writes nothing else there.
   */
  async save(dir: string, metrics: JsonValue = null): Promise<void> {
    if (this.rnn === undefined) throw new StateError('audio/phonetic: call build(rng) before save');
    await mkdir(dir, { recursive: true });
    const vars = this.weights;
    const total = vars.reduce((s, v) => s + v.size, 0);
    const all = new Float32Array(total);
    let offset = 0;
    for (const v of vars) {
      all.set(v.dataSync() as Float32Array, offset);
      offset += v.size;
    }
    const names = this.weightNames();
    const config = this.getConfig();
    delete config.freeze;
    const doc = { format: FORMAT, version: FORMAT_VERSION, kind: this.kind, config, weights: vars.map((v, i) => ({ name: names[i] as string, shape: v.shape })), metrics };
    const w = path.join(dir, WEIGHTS_FILE);
    await writeFile(`${w}.part`, new Uint8Array(all.buffer));
    await rename(`${w}.part`, w);
    const c = path.join(dir, CONFIG_FILE);
    await writeFile(`${c}.part`, `${JSON.stringify(doc, null, 1)}\n`);
    await rename(`${c}.part`, c);
  }

  collate(values: readonly PreparedPhoneticAudio[]): TensorMap {
    if (values.length === 0) throw new ConfigError('cannot collate an empty batch', { path: 'values' });
    const bins = this.bins;
    values.forEach((v, b) => { if (!(v.frames >= 1)) throw new InvalidInputError(`prepared value ${b} is not ${bins}-bin audio features (was it prepared by another config?)`); });
    const { data: flat, frames: T, lengths } = padFeatureBatch(values, bins);
    return {
      features: tf.tensor3d(flat, [values.length, T, bins]), // [B, T, bins]
      lengths: tf.tensor1d(lengths, 'int32'), // [B]
    };
  }

  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput {
    const rnn = this.rnn;
    if (rnn === undefined) throw new StateError('audio/phonetic: call build(rng) before encode');
    const features = batch.features as tf.Tensor3D | undefined;
    const lengthsT = batch.lengths as tf.Tensor1D | undefined;
    if (features === undefined || lengthsT === undefined || features.rank !== 3 || features.shape[2] !== this.bins) {
      throw new ConfigError(`batch must be the { features [B, T, ${this.bins}], lengths [B] } that collate returns`, { path: 'batch' });
    }
    const [B, T0] = features.shape;
    let lengths = Array.from(lengthsT.dataSync());
    const c = this.cfg;
    const k = c.kernelSize;
    const pad = Math.floor(k / 2);
    const rng = options.rng ?? (this.fallbackRng as Rng);
    let x: tf.Tensor3D = features;
    if (options.training && c.specAugment !== null) {
      x = x.mul(this.specAugmentMask(B, T0, lengths, createRng(rng.nextSeed()))); // [B, T, bins]
    }
    for (let i = 0; i < this.convKernels.length; i++) {
      const padded = x.pad([[0, 0], [pad, k - 1 - pad], [0, 0]]) as tf.Tensor3D; // [B, T + k - 1, C]
      let y = tf.conv1d(padded, this.convKernels[i] as tf.Variable as tf.Tensor3D, 2, 'valid'); // [B, T', cout]
      y = tf.relu(y.add(this.convBiases[i] as tf.Variable)) as tf.Tensor3D;
      if (options.training && c.dropout > 0) y = tf.dropout(y, c.dropout, undefined, rng.nextSeed()) as tf.Tensor3D;
      lengths = lengths.map((l) => convLength(l, k));
      x = y.mul(this.timeMask(lengths, y.shape[1]).expandDims(2)) as tf.Tensor3D; // padded frames back to exactly 0
    }
    const T = x.shape[1];
    const mask = this.timeMask(lengths, T); // [B, T']
    const out = rnn.apply(x, mask, { training: options.training, ...(options.rng === undefined ? { rng } : { rng: options.rng }) }).output; // [B, T', 2H]
    const result: EncoderOutput = { features: out, mask };
    if (this.ctcKernel !== undefined && this.ctcBias !== undefined) {
      const flat = out.reshape([B * T, this.outputDim]); // [B*T', 2H]
      const logits = flat.matMul(this.ctcKernel).add(this.ctcBias).reshape([B, T, this.ctcClasses]); // [B, T', 1 + symbols]
      result.aux = { ctcLogits: logits, ctcLengths: tf.tensor1d(lengths, 'int32') };
    }
    return result;
  }

  /**
   * The inference-mode `encode` as ONNX: inputs `features` [batch, time, bins] float32 and `lengths` [batch]
   * int32; the 1-D conv blocks (stride 2, frames past each clip's length zeroed) and the bidirectional GRU
   * as ONNX `GRU` ops with the lengths as `sequence_lens`. The CTC head is not part of the fusion graph.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    const rnn = this.rnn;
    if (rnn === undefined) throw new StateError('audio/phonetic: call build(rng) before exportOnnx()');
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

  /** Greedy CTC transcripts (symbol lists) of an `encode` output. */
  transcribe(output: EncoderOutput): string[][] {
    const symbols = this.cfg.ctcSymbols;
    const logits = output.aux?.ctcLogits as tf.Tensor3D | undefined;
    const lengths = output.aux?.ctcLengths;
    if (symbols === null || logits === undefined || lengths === undefined) throw new StateError('audio/phonetic: this encoder has no CTC head (ctcSymbols), so it cannot transcribe');
    return ctcGreedyDecode(logits, { lengths: lengths.dataSync() }).map((ids) => ids.map((id) => symbols[id - 1] as string));
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

  get trainableWeights(): tf.Variable[] {
    return this.cfg.freeze ? [] : this.weights;
  }

  get weights(): tf.Variable[] {
    const conv = this.convKernels.flatMap((kv, i) => [kv, this.convBiases[i] as tf.Variable]);
    const head = this.ctcKernel !== undefined && this.ctcBias !== undefined ? [this.ctcKernel, this.ctcBias] : [];
    return [...conv, ...(this.rnn?.weights ?? []), ...head];
  }

  /** Conv filters [k, in, out] per output channel (axis 2), GRU matrices per gate row, the CTC kernel [2H, symbols] per symbol. */
  describeWeights(): WeightDescription[] {
    const conv = this.cfg.convChannels.flatMap((_, i) => [{ name: `conv${i}.kernel`, outputAxis: 2 }, { name: `conv${i}.bias`, outputAxis: null }]);
    const head = this.ctcKernel !== undefined ? [{ name: 'ctc.kernel', outputAxis: 1 }, { name: 'ctc.bias', outputAxis: null }] : [];
    return [...conv, ...(this.rnn?.describeWeights('gru.') ?? []), ...head];
  }

  /** The full architecture (never `pretrained`: a saved fusion model carries the weights itself). */
  getConfig(): JsonObject {
    const c = this.cfg;
    return {
      freeze: c.freeze, sampleRateHz: c.sampleRateHz, features: c.features, nMels: c.nMels, nFft: c.nFft, hopLength: c.hopLength,
      augment: c.augment === null ? null : (JSON.parse(JSON.stringify(c.augment)) as JsonObject),
      specAugment: c.specAugment === null ? null : { ...c.specAugment }, maxDurationSeconds: c.maxDurationSeconds,
      convChannels: [...c.convChannels], kernelSize: c.kernelSize, hiddenSize: c.hiddenSize, layers: c.layers, dropout: c.dropout,
      ctcSymbols: c.ctcSymbols === null ? null : [...c.ctcSymbols],
    };
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
    this.convKernels = [];
    this.convBiases = [];
    this.rnn = undefined;
    this.ctcKernel = undefined;
    this.ctcBias = undefined;
    this.fallbackRng = undefined;
  }
}
