/**
 * The graph-builder contract through which a plugin exports its tensor part to ONNX
 * (`ModalityEncoder.exportOnnx`). It has no protobuf dependency: `@mmfuse/fusion` implements it (with
 * `onnx-proto`) and assembles the whole model (encoders, alignment, fusion strategy, head) into one graph.
 *
 * An encoder's graph reads exactly the tensors its `collate` returns (same names, dtypes and layouts) and
 * produces what its `encode` returns in inference mode: `features` [batch, time, outputDim] float32 and
 * `mask` [batch, time] float32. Runtimes feed `collate`'s tensors, so preparation stays the plugin's
 * TypeScript code on every runtime.
 */
import type * as tf from '@tensorflow/tfjs';

/** Element types a graph value can have. */
export type OnnxElementType = 'float32' | 'int32' | 'int64' | 'bool' | 'uint8' | 'int8';

/** A dimension: a size, or a name for a dynamic one (the batch dimension is `OnnxGraphBuilder.batch`). */
export type OnnxDim = number | string;

/** A value (tensor) of the graph under construction: a graph input, a constant or an op's output. */
export interface OnnxValue {
  /** The value's unique name in the graph. */
  readonly name: string;
}

/**
 * An op attribute. A plain number is an INT when it is an integer and a FLOAT otherwise; a plain array is
 * INTS when every element is an integer, else FLOATS; a string is a STRING. Force a kind with
 * `{ float: 1 }`, `{ floats: [1, 2] }`, `{ int: 3 }` or `{ ints: [] }`.
 */
export type OnnxAttribute =
  | number
  | string
  | readonly number[]
  | { readonly float: number }
  | { readonly floats: readonly number[] }
  | { readonly int: number }
  | { readonly ints: readonly number[] }
  | { readonly strings: readonly string[] };

/** Values of a constant: a typed array with its dims (row-major). */
export interface OnnxTensorData {
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
  dims: readonly number[];
}

/**
 * Builds one ONNX graph (default domain, opset `opset`). Names given by a plugin are local: the builder
 * prefixes them with the input field, so two inputs with the same encoder do not clash.
 */
export interface OnnxGraphBuilder {
  /** Opset of the default ONNX domain the graph targets (ops must exist there, e.g. 17). */
  readonly opset: number;
  /** Name of the dynamic batch dimension, for `input` dims. */
  readonly batch: string;
  /**
   * Declare a graph input: one tensor of the encoder's `collate` output, under the same key. Use the
   * batch dimension name for the batch axis (runtimes pad missing rows along it) and other names for
   * other dynamic axes (`"time"`, ...; made unique per input field by the builder).
   */
  input(name: string, type: OnnxElementType, dims: readonly OnnxDim[]): OnnxValue;
  /** A constant (initializer) from a weight (its values are read now) or from typed values. */
  constant(value: tf.Tensor | OnnxTensorData, name?: string): OnnxValue;
  /** An int64 constant, e.g. axes or shapes: `ints([0, -1])` (1-D), `ints(3, [])` (a scalar). */
  ints(values: number | readonly number[], dims?: readonly number[]): OnnxValue;
  /** A float32 constant: `floats(0.5, [])` (a scalar), `floats([1, 2])` (1-D). */
  floats(values: number | readonly number[], dims?: readonly number[]): OnnxValue;
  /** One node with one output. Pass `null` for an omitted optional input. */
  op(type: string, inputs: readonly (OnnxValue | null)[], attributes?: Readonly<Record<string, OnnxAttribute>>): OnnxValue;
  /** One node with `outputs` outputs. */
  ops(type: string, inputs: readonly (OnnxValue | null)[], outputs: number, attributes?: Readonly<Record<string, OnnxAttribute>>): OnnxValue[];
  /**
   * y = x W + b over the last axis, with W a weight of shape [in, out] (and b [out]). With an int8 export
   * this is an integer kernel (per-output-column symmetric int8 weights, activations quantized on the fly),
   * so plugins get quantization by using it for their dense products.
   */
  linear(x: OnnxValue, kernel: tf.Tensor, bias?: tf.Tensor): OnnxValue;
  /** Rows of a [rows, dim] table at integer `ids` ([...] -> [..., dim]); int8 rows with an int8 export. */
  gather(table: tf.Tensor, ids: OnnxValue): OnnxValue;
}

/** What `exportOnnx` is told about the input it exports. */
export interface OnnxExportContext {
  /** The config's input field the encoder reads. */
  field: string;
}

/** What an encoder's `exportOnnx` returns (its `encode` output in inference mode). */
export interface OnnxEncoderGraph {
  /** [batch, time, outputDim] float32. */
  features: OnnxValue;
  /** [batch, time] float32, 1 = a real step. */
  mask: OnnxValue;
  /**
   * Most time steps `features` can have (e.g. the tokenizer's `maxLength`), when known: the fusion model
   * then stores its position table up to this length instead of computing positions in the graph.
   */
  maxSteps?: number;
}
