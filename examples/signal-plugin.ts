/**
 * A third-party modality whose raw value is a file: a sensor trace stored as little-endian float32 samples
 * (`.f32`). The encoder declares `input: { kind: 'file', maxBytes }`, and nothing else in mmfuse names it:
 * manifests give a path (resolved against the manifest's folder), the command line a path (relative to the
 * working folder), `mmfuse serve` takes the bytes (base64 in JSON, a file part in multipart), and every
 * route refuses a file over `maxBytes` before reading it. Each frame of `frame` samples becomes one token.
 * Run by tests/cli/file-plugin.test.ts.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, registerEncoderOnce } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, PrepareContext, RawInputSpec, Rng, TensorMap } from '@mmfuse/core';

export interface SignalEncoderConfig {
  /** Samples per token. Default 8. */
  frame?: number;
  /** Feature size of each token. Default 16. */
  dim?: number;
  /** Largest trace file in bytes. Default 64 KiB. */
  maxBytes?: number;
}

export class SignalFramesEncoder implements ModalityEncoder<string | Uint8Array, Float32Array> {
  static readonly kind = 'signal/frames';
  readonly kind = SignalFramesEncoder.kind;
  readonly modality = 'signal';
  readonly input: RawInputSpec;
  readonly outputDim: number;
  private readonly frame: number;
  private mean = 0;
  private std = 1;
  private w?: tf.Variable; // [frame, dim]
  private b?: tf.Variable; // [dim]

  constructor(config: SignalEncoderConfig) {
    const frame = config.frame ?? 8;
    const maxBytes = config.maxBytes ?? 64 * 1024;
    if (!Number.isInteger(frame) || frame < 1) throw new ConfigError(`must be a positive integer, got ${JSON.stringify(frame)}`, { path: 'frame' });
    if (!Number.isInteger(maxBytes) || maxBytes < 4) throw new ConfigError(`must be an integer >= 4, got ${JSON.stringify(maxBytes)}`, { path: 'maxBytes' });
    this.frame = frame;
    this.outputDim = config.dim ?? 16;
    this.input = { kind: 'file', maxBytes, mediaTypes: ['application/octet-stream'] };
  }

  /** `raw`: an absolute path (from a manifest or the command line) or the file's bytes (from a request). */
  async prepare(raw: string | Uint8Array, ctx: PrepareContext): Promise<Float32Array> {
    const loc = { sample: ctx.sample, field: ctx.field };
    const bytes = typeof raw === 'string' ? new Uint8Array(await readFile(raw)) : raw;
    if (!(bytes instanceof Uint8Array)) throw new InvalidInputError('expected a trace file (path or bytes)', loc);
    if (bytes.byteLength === 0 || bytes.byteLength % 4 !== 0) throw new InvalidInputError(`a trace is float32 samples, so its size must be a positive multiple of 4 bytes, got ${bytes.byteLength}`, loc);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(bytes.byteLength / 4);
    for (let i = 0; i < out.length; i++) {
      const v = view.getFloat32(i * 4, true);
      if (!Number.isFinite(v)) throw new InvalidInputError(`sample ${i} is ${v}; trace samples must be finite`, loc);
      out[i] = v;
    }
    return out;
  }

  /** Standardize with the training traces' mean and standard deviation. */
  fit(values: readonly Float32Array[]): void {
    let n = 0; let sum = 0; let sq = 0;
    for (const v of values) for (const x of v) { n++; sum += x; sq += x * x; }
    this.mean = n > 0 ? sum / n : 0;
    this.std = n > 0 ? Math.sqrt(Math.max(0, sq / n - this.mean ** 2)) || 1 : 1;
  }

  build(rng: Rng): void {
    if (this.w !== undefined) return;
    const limit = Math.sqrt(6 / (this.frame + this.outputDim));
    this.w = tf.variable(tf.tensor2d(Array.from({ length: this.frame * this.outputDim }, () => rng.uniform(-limit, limit)), [this.frame, this.outputDim]));
    this.b = tf.variable(tf.zeros([this.outputDim]));
  }

  collate(values: readonly Float32Array[]): TensorMap {
    const f = this.frame;
    const t = Math.max(...values.map((v) => Math.ceil(v.length / f)));
    const x = new Float32Array(values.length * t * f);
    const mask = new Float32Array(values.length * t);
    values.forEach((v, r) => {
      v.forEach((s, i) => { x[r * t * f + i] = (s - this.mean) / this.std; });
      for (let k = 0; k < Math.ceil(v.length / f); k++) mask[r * t + k] = 1;
    });
    return { x: tf.tensor3d(x, [values.length, t, f]), mask: tf.tensor2d(mask, [values.length, t]) };
  }

  encode(batch: TensorMap, _options: EncodeOptions): EncoderOutput {
    if (this.w === undefined || this.b === undefined) throw new ConfigError('SignalFramesEncoder: call build() first');
    const x = batch.x as tf.Tensor3D; // [B, T, frame]
    const [b, t, f] = x.shape;
    const features = tf.matMul(x.reshape([b * t, f]), this.w).add(this.b).tanh().reshape([b, t, this.outputDim]) as tf.Tensor3D; // [B, T, dim]
    return { features, mask: (batch.mask as tf.Tensor2D).clone() };
  }

  get trainableWeights(): tf.Variable[] {
    return this.w === undefined || this.b === undefined ? [] : [this.w, this.b];
  }

  get weights(): tf.Variable[] {
    return this.trainableWeights;
  }

  getConfig(): JsonObject {
    return { frame: this.frame, dim: this.outputDim, maxBytes: this.input.maxBytes };
  }

  getState(): JsonObject {
    return { mean: this.mean, std: this.std };
  }

  setState(state: JsonObject): void {
    this.mean = state.mean as number;
    this.std = state.std as number;
  }

  dispose(): void {
    this.w?.dispose();
    this.b?.dispose();
    this.w = undefined;
    this.b = undefined;
  }
}

// The one call that makes `signal/frames` usable in configs and saved models.
registerEncoderOnce(SignalFramesEncoder.kind, 'signal', (config) => new SignalFramesEncoder(config as SignalEncoderConfig), 'float32 sensor traces from files, one token per frame');
