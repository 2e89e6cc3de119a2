/**
 * `audio/cnn`: 2-D convolutions over a [time, mel] feature map that keep time as a sequence axis.
 *
 * prepare: decode -> resample -> (trim) -> features [frames, bins] -> (utterance normalization).
 * collate: pad to the longest clip -> { features [B, T, bins, 1], lengths [B] } (global normalization here).
 * encode: per block, explicit zero padding of kernelSize/2 on both axes, conv2d with stride
 * [timeStride, melStride], bias, ReLU, dropout (training), then the frames past each clip's length are set
 * to zero. Explicit padding makes an output frame depend only on its own window of input frames (not on
 * the padded batch length, as 'same' padding would), and re-zeroing padded frames after every block
 * means they look exactly like the zero padding a clip alone would see, so a clip's outputs are the same
 * alone or batched with longer clips. Output: [B, T', F' * C] with feature index f * C + c, and the mask
 * of each clip's T' real steps.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, MmfuseError, StateError, checkRawInput, createRng, dropout, isMmfuseError, maxBytesOption, parseOptions, seededVariable, z } from '@mmfuse/core';
import { onnxAxisLength, onnxLengthMask } from '@mmfuse/core/base';
import type { BuildOptions, EncodeOptions, EncoderOutput, ExpectTrue, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OnnxValue, OptionsMatch, PrepareContext, PruningGroup, RawInputSpec, Rng, TensorMap, WeightDescription } from '@mmfuse/core';
import { audioFeatureFrames, audioFeatureMatrix, padFeatureBatch } from './audio-features.js';
import { featureStatistics } from './feature-statistics.js';
import { augmentForTraining, augmentOptionsSchema } from './internal/augment-options.js';
import type { AudioAugmentOptions } from './internal/augment-options.js';
import { loadAudio } from './internal/load-audio.js';
import { AUDIO_MEDIA_TYPES } from './internal/sniff.js';
import type { AudioInput } from './internal/load-audio.js';
import { drawSpecAugmentMasks, specAugmentOptionsSchema } from './internal/spec-augment-masks.js';
import type { FeatureMatrix, SpecAugmentOptions } from './types.js';

/** Configuration of `audio/cnn`. Every field is optional; defaults are written out. */
export interface AudioCnnEncoderConfig {
  /** Rate every input is resampled to, Hz. Default 16000. */
  sampleRateHz?: number;
  /** `log-mel` (ln(mel + 1e-6), HTK, no norm), `mfcc` (torchaudio MFCC) or `fbank` (Kaldi). Default `log-mel`. */
  features?: 'log-mel' | 'mfcc' | 'fbank';
  /** Mel bins (log-mel, fbank) or mel filters under the MFCC. Default 64. */
  nMels?: number;
  /** MFCC coefficients (features 'mfcc' only), <= nMels. Default 20. */
  nMfcc?: number;
  /** FFT size for log-mel and mfcc. Default 400 (25 ms at 16 kHz). fbank uses Kaldi's 25 ms frames. */
  nFft?: number;
  /** Hop for log-mel and mfcc, samples. Default 160 (10 ms at 16 kHz). fbank uses Kaldi's 10 ms shift. */
  hopLength?: number;
  /** `utterance`: each clip standardized per bin; `global`: training-set statistics from `fit`; `none`. Default `utterance`. */
  normalization?: 'utterance' | 'global' | 'none';
  /** SpecAugment masks applied in `encode` when training (seeded by the encode rng); null = off. Default null. */
  specAugment?: SpecAugmentOptions | null;
  /**
   * Channel/room augmentation of the waveform (`augmentChain`: speed, reverberation, noise at an SNR range,
   * telephone band and codecs, gain) in `prepare` when `ctx.training` (needs `ctx.rng`); with
   * `augmentEachEpoch` each epoch hears a fresh version. null = off. Default null.
   */
  augment?: AudioAugmentOptions | null;
  /** Cut leading/trailing silence (60 dB below the loudest frame) before feature extraction. Default false. */
  trimSilence?: boolean;
  /** Longer inputs are refused with a LimitExceededError. Default 30. */
  maxDurationSeconds?: number;
  /** Output channels of each conv block; the number of blocks is its length. Default [16, 32]. */
  channels?: number[];
  /** Square kernel size of every block. Default 3. */
  kernelSize?: number;
  /** Stride along time of each block (same length as channels). Default [2, 2]. */
  timeStride?: number[];
  /** Stride along mel of each block (same length as channels). Default [2, 2]. */
  melStride?: number[];
  /** Dropout rate after each block while training. Default 0.1. */
  dropout?: number;
  /** Largest audio file (or byte buffer) accepted, in bytes, checked before decoding. Default 268435456 (256 MiB). */
  maxBytes?: number;
}

/** Default of `maxBytes`: 256 MiB, about 25 minutes of 16-bit stereo at 44.1 kHz. */
export const AUDIO_MAX_BYTES = 256 * 1024 * 1024;

const int = (min: number) => z.int().min(min);

/** The declared options of `audio/cnn` (registered with the encoder; checked by the registry and the constructor). */
export const audioCnnOptionsSchema = z.strictObject({
  sampleRateHz: int(1).default(16000).describe('Rate every input is resampled to, Hz. Default 16000.'),
  features: z.enum(['log-mel', 'mfcc', 'fbank']).default('log-mel').describe('Frame features: log-mel, mfcc (torchaudio MFCC) or fbank (Kaldi). Default log-mel.'),
  nMels: int(1).default(64).describe('Mel bins (log-mel, fbank) or mel filters under the MFCC. Default 64.'),
  nMfcc: int(1).optional().describe('MFCC coefficients (features mfcc only), <= nMels. Default min(20, nMels).'),
  nFft: int(2).default(400).describe('FFT size for log-mel and mfcc. Default 400.'),
  hopLength: int(1).default(160).describe('Hop for log-mel and mfcc, samples. Default 160.'),
  normalization: z.enum(['utterance', 'global', 'none']).default('utterance').describe('utterance: per clip and bin; global: training-set statistics; none. Default utterance.'),
  specAugment: specAugmentOptionsSchema.nullable().default(null).describe('SpecAugment masks while training; null = off. Default null.'),
  augment: augmentOptionsSchema.nullable().default(null).describe('Channel/room augmentation (augmentChain options) of the waveform in prepare when training; null = off. Default null.'),
  trimSilence: z.boolean().default(false).describe('Cut leading/trailing silence before feature extraction. Default false.'),
  maxDurationSeconds: z.number().gt(0).default(30).describe('Longer inputs are refused with LimitExceededError. Default 30.'),
  channels: z.array(int(1)).min(1).default([16, 32]).describe('Output channels of each conv block. Default [16, 32].'),
  kernelSize: int(1).default(3).describe('Square kernel size of every block. Default 3.'),
  timeStride: z.array(int(1)).optional().describe('Stride along time of each block. Default 2 per block.'),
  melStride: z.array(int(1)).optional().describe('Stride along mel of each block. Default 2 per block.'),
  dropout: z.number().min(0).max(0.95).default(0.1).describe('Dropout rate after each block while training. Default 0.1.'),
  maxBytes: maxBytesOption(AUDIO_MAX_BYTES),
});

/** What `prepare` returns: plain data, cacheable with v8.serialize. */
export interface PreparedAudio {
  /** `[frames, bins]` frame by frame. */
  features: Float32Array;
  frames: number;
}

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<AudioCnnEncoderConfig, z.input<typeof audioCnnOptionsSchema>>>;

type Resolved = Required<Omit<AudioCnnEncoderConfig, 'specAugment' | 'augment'>> & { specAugment: Required<SpecAugmentOptions> | null; augment: AudioAugmentOptions | null };

function resolveConfig(config: AudioCnnEncoderConfig): Resolved {
  const o = parseOptions(audioCnnOptionsSchema, config);
  const strides = (name: 'timeStride' | 'melStride'): number[] => {
    const given = o[name];
    if (given !== undefined && given.length !== o.channels.length) throw new ConfigError(`must have one stride per block (${o.channels.length}), got ${JSON.stringify(given)}`, { path: name });
    return given ?? o.channels.map(() => 2);
  };
  // The default (20, torchaudio's) never exceeds nMels: with log-mel or fbank features and few mel bins an
  // unused default must not be refused.
  const nMfcc = o.nMfcc ?? Math.min(20, o.nMels);
  if (nMfcc > o.nMels) throw new ConfigError(`must be an integer in 1..${o.nMels} (<= nMels), got ${nMfcc}`, { path: 'nMfcc' });
  return { ...o, nMfcc, timeStride: strides('timeStride'), melStride: strides('melStride') };
}

/** Length after a block: explicit padding floor(k/2) on both sides, 'valid' conv with stride s. */
function convLength(length: number, k: number, s: number): number {
  const pad = Math.floor(k / 2);
  return Math.floor((length + 2 * pad - k) / s) + 1;
}

export class AudioCnnEncoder implements ModalityEncoder<AudioInput, PreparedAudio> {
  static readonly kind = 'audio/cnn';
  readonly kind = AudioCnnEncoder.kind;
  readonly modality = 'audio';
  /**
   * An audio file (path or bytes): WAV, MP3, FLAC, Ogg Vorbis/Opus or WebM Opus, recognised by its magic
   * bytes; up to `maxBytes`, and `maxDurationSeconds` of audio.
   */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  /** Values per input frame (mel bins or MFCC coefficients). */
  readonly bins: number;
  private readonly cfg: Resolved;
  private stats: { mean: number[]; std: number[] } | undefined;
  private kernels: tf.Variable[] = []; // [k, k, cin, cout] per block
  private biases: tf.Variable[] = []; // [cout] per block

  constructor(config: AudioCnnEncoderConfig = {}) {
    this.cfg = resolveConfig(config);
    this.input = { kind: 'file', maxBytes: this.cfg.maxBytes, mediaTypes: AUDIO_MEDIA_TYPES };
    this.bins = this.cfg.features === 'mfcc' ? this.cfg.nMfcc : this.cfg.nMels;
    let f = this.bins;
    this.cfg.melStride.forEach((s) => { f = convLength(f, this.cfg.kernelSize, s); });
    if (f < 1) throw new ConfigError(`leave no mel positions for ${this.bins} input bins`, { path: 'melStride' });
    this.outputDim = f * (this.cfg.channels[this.cfg.channels.length - 1] as number);
  }

  /** The feature matrix of one clip (before normalization); used by prepare, exposed for inspection. */
  extractFeatures(samples: Float32Array): FeatureMatrix {
    return audioFeatureMatrix(samples, this.cfg);
  }

  async prepare(raw: AudioInput, ctx: PrepareContext): Promise<PreparedAudio> {
    const loc = { sample: ctx.sample, field: ctx.field };
    try {
      checkRawInput(raw, this.input, ctx);
      const clip = await loadAudio(raw, ctx, this.cfg.sampleRateHz, this.cfg.maxDurationSeconds);
      const samples = augmentForTraining(clip, this.cfg.augment, this.cfg.sampleRateHz, ctx, 'audio/cnn');
      return audioFeatureFrames(samples, this.cfg, loc);
    } catch (err) {
      if (isMmfuseError(err)) throw (err as MmfuseError).locate(loc);
      throw err;
    }
  }

  /** With `normalization: 'global'`, fit per-bin mean and std on the prepared training set. */
  fit(values: readonly PreparedAudio[]): void {
    if (this.cfg.normalization !== 'global') return;
    const s = featureStatistics(values.map((v) => ({ data: v.features, frames: v.frames, bins: this.bins })));
    this.stats = { mean: s.mean, std: s.std };
  }

  build(rng: Rng, options: BuildOptions = {}): void {
    if (this.kernels.length > 0) return;
    const k = this.cfg.kernelSize;
    let cin = 1;
    for (const cout of this.cfg.channels) {
      const seed = rng.nextSeed();
      // He initialization for ReLU: std sqrt(2 / fan_in).
      this.kernels.push(seededVariable([k, k, cin, cout], { normal: Math.sqrt(2 / (k * k * cin)) }, seed, options));
      this.biases.push(tf.tidy(() => tf.variable(tf.zeros([cout]))));
      cin = cout;
    }
  }

  collate(values: readonly PreparedAudio[]): TensorMap {
    if (values.length === 0) throw new ConfigError('cannot collate an empty batch', { path: 'values' });
    if (this.cfg.normalization === 'global' && this.stats === undefined) {
      throw new StateError('audio/cnn with normalization "global" needs fit() on the training set (or setState) before collate');
    }
    const bins = this.bins;
    const { data: flat, frames: T, lengths } = padFeatureBatch(values, bins, this.cfg.normalization === 'global' ? this.stats : undefined);
    return {
      features: tf.tensor4d(flat, [values.length, T, bins, 1]), // [B, T, bins, 1]
      lengths: tf.tensor1d(lengths, 'int32'), // [B]
    };
  }

  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput {
    if (this.kernels.length === 0) throw new StateError('audio/cnn: call build(rng) before encode');
    const features = batch.features as tf.Tensor4D | undefined;
    const lengthsT = batch.lengths as tf.Tensor1D | undefined;
    if (features === undefined || lengthsT === undefined || features.rank !== 4) {
      throw new ConfigError('batch must be the { features [B, T, bins, 1], lengths [B] } that collate returns', { path: 'batch' });
    }
    const [B, T0] = features.shape;
    let lengths = Array.from(lengthsT.dataSync());
    const c = this.cfg;
    const k = c.kernelSize;
    const pad = Math.floor(k / 2);
    let x: tf.Tensor4D = features;
    const rng = options.rng;
    if (options.training && (c.specAugment !== null || c.dropout > 0) && rng === undefined) {
      throw new StateError('audio/cnn: encode while training needs options.rng (a seeded Rng) for dropout and SpecAugment, so runs are reproducible');
    }
    if (options.training && c.specAugment !== null && rng !== undefined) {
      // A stream seeded from the rng, which advances it: every step draws new masks.
      x = x.mul(this.specAugmentMask(B, T0, lengths, createRng(rng.nextSeed()))); // [B, T, bins, 1]
    }
    let T = T0;
    for (let i = 0; i < this.kernels.length; i++) {
      const st = c.timeStride[i] as number;
      const sm = c.melStride[i] as number;
      // One fused kernel for zero padding, convolution, bias and ReLU: a separate pad (the wasm PadV2 kernel is
      // slow), bias add and ReLU took more time than the convolution itself.
      const explicit: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pad, k - 1 - pad], [pad, k - 1 - pad], [0, 0]];
      let y = tf.fused.conv2d({ x, filter: this.kernels[i] as tf.Variable as tf.Tensor4D, strides: [st, sm], pad: explicit, bias: this.biases[i] as tf.Variable, activation: 'relu' }); // [B, T', F', cout]
      y = dropout(y, c.dropout, options.training, rng);
      T = y.shape[1];
      lengths = lengths.map((l) => convLength(l, k, st));
      // Padded frames back to exactly 0 (nothing to do when every clip fills the batch, e.g. a single request).
      x = lengths.every((l) => l >= T) ? y : (y.mul(this.timeMask(lengths, T).reshape([B, T, 1, 1])) as tf.Tensor4D);
    }
    const [, Tn, Fn, Cn] = x.shape;
    const out = x.reshape([B, Tn, Fn * Cn]) as tf.Tensor3D; // [B, T', F' * C]
    return { features: out, mask: this.timeMask(lengths, Tn) };
  }

  /**
   * The inference-mode `encode` as ONNX (NCHW convolutions): inputs `features` [batch, time, bins, 1]
   * float32 and `lengths` [batch] int32; each block pads, convolves with its strides, adds the bias, applies
   * ReLU and zeroes the frames past each clip's length, as `encode` does.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    if (this.kernels.length === 0) throw new StateError('audio/cnn: call build(rng) before exportOnnx()');
    const c = this.cfg;
    const k = c.kernelSize;
    const pad = Math.floor(k / 2);
    const features = g.input('features', 'float32', [g.batch, 'time', this.bins, 1]);
    let lengths = g.input('lengths', 'int32', [g.batch]);
    let x = g.op('Transpose', [features], { perm: [0, 3, 1, 2] }); // [B, 1, T, bins]
    let mask: OnnxValue | undefined;
    this.kernels.forEach((kernel, i) => {
      const st = c.timeStride[i] as number;
      const kernelOihw = tf.tidy(() => kernel.transpose([3, 2, 0, 1])); // [cout, cin, k, k]
      const w = g.constant(kernelOihw);
      kernelOihw.dispose();
      const y = g.op('Relu', [g.op('Conv', [x, w, g.constant(this.biases[i] as tf.Variable)], { kernel_shape: [k, k], pads: [pad, pad, k - 1 - pad, k - 1 - pad], strides: [st, c.melStride[i] as number] })]); // [B, C, T', F']
      // convLength: floor((l + 2 pad - k) / s) + 1 (the numerator is >= 0 for a clip of at least one frame).
      lengths = g.op('Add', [g.op('Div', [g.op('Add', [lengths, g.constant({ data: Int32Array.of(2 * pad - k), dims: [] })]), g.constant({ data: Int32Array.of(st), dims: [] })]), g.constant({ data: Int32Array.of(1), dims: [] })]);
      mask = onnxLengthMask(g, lengths, onnxAxisLength(g, y, 2)); // [B, T']
      x = g.op('Mul', [y, g.op('Unsqueeze', [mask, g.ints([1, 3])])]);
    });
    const out = g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 3, 1] }), g.ints([0, 0, -1])]); // [B, T', F' * C], index f * C + c
    return { features: out, mask: mask as OnnxValue };
  }

  /** [B, T] float32, 1 for t < lengths[b]. */
  private timeMask(lengths: number[], T: number): tf.Tensor2D {
    const m = new Float32Array(lengths.length * T);
    lengths.forEach((l, b) => m.fill(1, b * T, b * T + Math.min(l, T)));
    return tf.tensor2d(m, [lengths.length, T]);
  }

  /** [B, T, bins, 1] multiplicative mask: SpecAugment bands and spans drawn within each clip's real frames. */
  private specAugmentMask(B: number, T: number, lengths: number[], rng: Rng): tf.Tensor4D {
    const opts = this.cfg.specAugment as Required<SpecAugmentOptions>;
    const bins = this.bins;
    const m = new Float32Array(B * T * bins).fill(1);
    for (let b = 0; b < B; b++) {
      const frames = lengths[b] as number;
      for (const mask of drawSpecAugmentMasks(frames, bins, opts, rng)) {
        const base = b * T * bins;
        if (mask.axis === 'freq') for (let t = 0; t < frames; t++) m.fill(0, base + t * bins + mask.start, base + t * bins + mask.start + mask.width);
        else m.fill(0, base + mask.start * bins, base + (mask.start + mask.width) * bins);
      }
    }
    return tf.tensor4d(m, [B, T, bins, 1]);
  }

  get trainableWeights(): tf.Variable[] {
    return this.kernels.flatMap((kv, i) => [kv, this.biases[i] as tf.Variable]);
  }

  get weights(): tf.Variable[] {
    return this.trainableWeights;
  }

  /** Conv filters [k, k, in, out]: output channels on axis 3; biases stay float32. */
  describeWeights(): WeightDescription[] {
    return this.cfg.channels.flatMap((_, i) => [{ name: `conv${i}.kernel`, outputAxis: 3 }, { name: `conv${i}.bias`, outputAxis: null }]);
  }

  /**
   * The output channels of each conv block. Channel u of block i owns filter u and bias u of the block and
   * input channel u of the next block's filter; the last block's channel u feeds output features f·C + u
   * (one per mel position f). Zeroed, the channel is relu(0) = 0 everywhere, so removing it changes nothing.
   */
  pruningGroups(): PruningGroup[] {
    const channels = this.cfg.channels;
    const last = channels.length - 1;
    const c = channels[last] as number;
    const melPositions = this.outputDim / c;
    return channels.map((size, i) => {
      const slices: PruningGroup['slices'] = [
        { weight: 2 * i, axis: 3, indices: (u) => [u] },
        { weight: 2 * i + 1, axis: 0, indices: (u) => [u] },
      ];
      if (i < last) slices.push({ weight: 2 * (i + 1), axis: 2, indices: (u) => [u] });
      const group: PruningGroup = { name: `conv${i}.channels`, size, slices };
      if (i === last) group.outputFeatures = (u) => Array.from({ length: melPositions }, (_, f) => f * c + u);
      return group;
    });
  }

  prunedOptions(kept: Readonly<Record<string, number>>): JsonObject {
    return { channels: this.cfg.channels.map((n, i) => kept[`conv${i}.channels`] ?? n) };
  }

  getConfig(): JsonObject {
    const c = this.cfg;
    return {
      sampleRateHz: c.sampleRateHz, features: c.features, nMels: c.nMels, nMfcc: c.nMfcc, nFft: c.nFft, hopLength: c.hopLength,
      normalization: c.normalization, specAugment: c.specAugment === null ? null : { ...c.specAugment },
      augment: c.augment === null ? null : (JSON.parse(JSON.stringify(c.augment)) as JsonObject), trimSilence: c.trimSilence,
      maxDurationSeconds: c.maxDurationSeconds, channels: [...c.channels], kernelSize: c.kernelSize, timeStride: [...c.timeStride],
      melStride: [...c.melStride], dropout: c.dropout, maxBytes: c.maxBytes,
    };
  }

  getState(): JsonObject {
    return this.stats === undefined ? {} : { mean: [...this.stats.mean], std: [...this.stats.std] };
  }

  setState(state: JsonObject): void {
    if (state.mean === undefined && state.std === undefined) { this.stats = undefined; return; }
    const ok = (v: unknown): v is number[] => Array.isArray(v) && v.length === this.bins && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!ok(state.mean) || !ok(state.std)) throw new ConfigError(`state must hold ${this.bins} finite means and stds`, { path: 'state' });
    this.stats = { mean: [...state.mean], std: [...state.std] };
  }

  dispose(): void {
    for (const v of [...this.kernels, ...this.biases]) v.dispose();
    this.kernels = [];
    this.biases = [];
  }
}
