/**
 * What the frozen text encoders (`text/pretrained`, `text/use`) share: their model runs in `prepare` and gives
 * plain vectors; the tensor part pads them into a batch, masks the padding, and exports that to ONNX; the model
 * is loaded once, on first use, and a failed load may be retried.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, describeValue } from '@mmfuse/core';
import { onnxAxisLength, onnxLengthMask } from '@mmfuse/core/base';
import type { EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, PrepareContext, RawInputSpec, Rng, TensorMap } from '@mmfuse/core';

/** What a frozen text encoder's `prepare` returns: the model's output as plain data. */
export interface PreparedTextEmbedding {
  /** `length × dim` values, step by step. */
  embeddings: Float32Array;
  /** Steps: one per token, or 1 for a pooled vector. */
  length: number;
  /** True when the text had more tokens than the encoder feeds its model. */
  truncated: boolean;
}

/** `{ features [B, T, D] float32 (zero padded), lengths [B] int32 }` of prepared embeddings of width `dim`. */
export function collateEmbeddings(values: readonly PreparedTextEmbedding[], dim: number): TensorMap {
  let steps = 1;
  values.forEach((v, i) => {
    const ok = typeof v === 'object' && v !== null && v.embeddings instanceof Float32Array && Number.isInteger(v.length) &&
      v.length >= 0 && v.embeddings.length === v.length * dim;
    if (!ok) throw new InvalidInputError(`collate: value ${i} is ${describeValue(v)}, not a prepared text embedding of width ${dim}`, { sample: i });
    steps = Math.max(steps, v.length);
  });
  const flat = new Float32Array(values.length * steps * dim);
  values.forEach((v, b) => flat.set(v.embeddings, b * steps * dim));
  return {
    features: tf.tensor3d(flat, [values.length, steps, dim]),
    lengths: tf.tensor1d(values.map((v) => v.length), 'int32'),
  };
}

/** The encoder output of a collated batch: the features (a copy) and the mask of real steps. */
export function encodeEmbeddings(batch: TensorMap, kind: string): EncoderOutput {
  const features = batch.features as tf.Tensor3D | undefined;
  const lengths = batch.lengths as tf.Tensor1D | undefined;
  if (features === undefined || lengths === undefined || features.rank !== 3 || lengths.rank !== 1) {
    throw new ConfigError(`${kind}: encode expects { features [B, T, D], lengths [B] } from collate()`);
  }
  const steps = features.shape[1];
  const mask = tf.tidy(() => tf.range(0, steps, 1, 'int32').expandDims(0).less(lengths.expandDims(1)).toFloat() as tf.Tensor2D); // [B, T]
  // A copy, so the caller may dispose the batch and the output independently.
  return { features: features.clone(), mask };
}

/** The tensor part as ONNX: inputs `features` [batch, time, dim] float32 and `lengths` [batch] int32. */
export function exportEmbeddingsOnnx(g: OnnxGraphBuilder, dim: number, maxSteps: number): OnnxEncoderGraph {
  const features = g.input('features', 'float32', [g.batch, 'time', dim]);
  const lengths = g.input('lengths', 'int32', [g.batch]);
  return { features, mask: onnxLengthMask(g, lengths, onnxAxisLength(g, features, 1)), maxSteps };
}

/**
 * A frozen text encoder: subclasses load their model (`loadModel`, called once, on first use) and compute
 * embeddings in `prepare`; this class is the rest (no weights, no fitted state, the padded tensor part).
 */
export abstract class FrozenTextEncoder<L extends { model: { dispose(): unknown } }> implements ModalityEncoder<string, PreparedTextEmbedding> {
  abstract readonly kind: string;
  readonly modality = 'text';
  abstract readonly input: RawInputSpec;
  abstract readonly outputDim: number;
  private loaded: Promise<L> | undefined;

  /** Load the model (once; retried after a failure). */
  protected abstract loadModel(): Promise<L>;
  /** Most steps a prepared value has (the ONNX export's bound). */
  protected abstract readonly maxSteps: number;
  abstract prepare(raw: string, ctx: PrepareContext): Promise<PreparedTextEmbedding>;
  abstract getConfig(): JsonObject;

  protected load(): Promise<L> {
    this.loaded ??= this.loadModel();
    // A failed load may be retried (e.g. after the folder is fixed).
    this.loaded.catch(() => { this.loaded = undefined; });
    return this.loaded;
  }

  /** Frozen: nothing to create. */
  build(_rng: Rng): void {}

  /** `{ features [B, T, D] float32 (zero padded), lengths [B] int32 }`. */
  collate(values: readonly PreparedTextEmbedding[]): TensorMap {
    return collateEmbeddings(values, this.outputDim);
  }

  encode(batch: TensorMap, _options: EncodeOptions): EncoderOutput {
    return encodeEmbeddings(batch, this.kind);
  }

  /**
   * The tensor part as ONNX: `features` [batch, time, dim] float32 and `lengths` [batch] int32 (the frozen
   * model itself runs in `prepare`, chained before the graph on every runtime).
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    return exportEmbeddingsOnnx(g, this.outputDim, this.maxSteps);
  }

  get trainableWeights(): tf.Variable[] {
    return [];
  }

  get weights(): tf.Variable[] {
    return [];
  }

  /** Nothing is fitted: the model is frozen. */
  getState(): JsonObject {
    return {};
  }

  setState(_state: JsonObject): void {}

  dispose(): void {
    const loaded = this.loaded;
    this.loaded = undefined;
    void loaded?.then((l) => l.model.dispose()).catch(() => undefined);
  }
}
