/**
 * A complete third-party modality: numeric/tabular features. Each column becomes one token, so the fusion
 * Transformer can attend to individual columns. Registered with one call; shown in the README and run by
 * tests/core/registry.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, StateError, checkRawInput, maxBytesOption, parseOptions, registerEncoder, z } from '@mmfuse/core';
import type { EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, PrepareContext, RawInputSpec, Rng, TensorMap } from '@mmfuse/core';

/**
 * The plugin's options, declared once: the registry refuses unknown keys ("did you mean"), fills in the
 * defaults, and `mmfuse schema` turns it into JSON Schema for editors.
 */
export const tabularOptions = z.strictObject({
  columns: z.int().min(1).describe('Number of numeric columns per sample.'),
  dim: z.int().min(1).default(16).describe('Feature size of each column token. Default 16.'),
  maxBytes: maxBytesOption(64 * 1024),
});

/** Options as written (`dim` and `maxBytes` optional). */
export type TabularEncoderConfig = z.input<typeof tabularOptions>;

// Type-checked configs: `defineConfig({ inputs: { stats: { type: 'tabular', encoder: { kind: 'linear', ... } } } })`.
declare module '@mmfuse/core' {
  interface EncoderOptionsByKind {
    'tabular/linear': TabularEncoderConfig;
  }
}

export class TabularEncoder implements ModalityEncoder<number[], Float32Array> {
  static readonly kind = 'tabular/linear';
  readonly kind = TabularEncoder.kind;
  readonly modality = 'tabular';
  /** A JSON array of numbers, as written in the manifest or the request. */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  private readonly columns: number;
  private mean: number[];
  private std: number[];
  private scale?: tf.Variable; // [columns, dim]
  private shift?: tf.Variable; // [columns, dim]

  constructor(config: TabularEncoderConfig) {
    const options = parseOptions(tabularOptions, config);
    this.columns = options.columns;
    this.outputDim = options.dim;
    this.input = { kind: 'json', maxBytes: options.maxBytes };
    this.mean = new Array<number>(this.columns).fill(0);
    this.std = new Array<number>(this.columns).fill(1);
  }

  async prepare(raw: number[], ctx: PrepareContext): Promise<Float32Array> {
    checkRawInput(raw, this.input, ctx);
    if (!Array.isArray(raw) || raw.length !== this.columns) {
      throw new InvalidInputError(`expected an array of ${this.columns} numbers`, { sample: ctx.sample, field: ctx.field });
    }
    raw.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new InvalidInputError(`column ${i} is ${JSON.stringify(v)}, not a finite number`, { sample: ctx.sample, field: ctx.field });
      }
    });
    return Float32Array.from(raw);
  }

  /** Standardize each column with statistics of the training set. */
  fit(values: readonly Float32Array[]): void {
    for (let c = 0; c < this.columns; c++) {
      const col = values.map((v) => v[c] as number);
      const mean = col.reduce((a, b) => a + b, 0) / Math.max(1, col.length);
      const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, col.length);
      this.mean[c] = mean;
      this.std[c] = Math.sqrt(variance) || 1;
    }
  }

  build(rng: Rng): void {
    if (this.scale !== undefined) return;
    // tidy frees the initial values; variables survive it.
    this.scale = tf.tidy(() => tf.variable(tf.randomNormal([this.columns, this.outputDim], 0, 0.5, 'float32', rng.nextSeed())));
    this.shift = tf.tidy(() => tf.variable(tf.zeros([this.columns, this.outputDim])));
  }

  collate(values: readonly Float32Array[]): TensorMap {
    const flat = new Float32Array(values.length * this.columns);
    values.forEach((v, b) => v.forEach((x, c) => { flat[b * this.columns + c] = (x - (this.mean[c] as number)) / (this.std[c] as number); }));
    return { x: tf.tensor2d(flat, [values.length, this.columns]) };
  }

  encode(batch: TensorMap, _options: EncodeOptions): EncoderOutput {
    if (this.scale === undefined || this.shift === undefined) throw new StateError('tabular/linear: call build() before encode()');
    const x = batch.x as tf.Tensor2D; // [B, C]
    const features = x.expandDims(2).mul(this.scale.expandDims(0)).add(this.shift.expandDims(0)) as tf.Tensor3D; // [B, C, dim]
    const mask = tf.onesLike(x) as tf.Tensor2D; // every column is a real token
    return { features, mask };
  }

  /**
   * Optional: the same computation as `encode` as an ONNX graph, so `mmfuse export --format onnx` can export
   * models that use this plugin. The graph reads `collate`'s tensor (`x` [batch, columns]) and returns the
   * features and mask; the builder prefixes names and stores the weights.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    if (this.scale === undefined || this.shift === undefined) throw new StateError('tabular/linear: call build() before exportOnnx()');
    const x = g.input('x', 'float32', [g.batch, this.columns]);
    const features = g.op('Add', [g.op('Mul', [g.op('Unsqueeze', [x, g.ints([2])]), g.constant(this.scale)]), g.constant(this.shift)]); // [B, C, dim]
    const mask = g.op('Expand', [g.floats(1, [1, 1]), g.op('Shape', [x])]); // [B, C]: every column is a real token
    return { features, mask, maxSteps: this.columns };
  }

  get trainableWeights(): tf.Variable[] {
    return this.scale === undefined || this.shift === undefined ? [] : [this.scale, this.shift];
  }

  get weights(): tf.Variable[] {
    return this.trainableWeights;
  }

  getConfig(): JsonObject {
    return { columns: this.columns, dim: this.outputDim, maxBytes: this.input.maxBytes };
  }

  getState(): JsonObject {
    return { mean: [...this.mean], std: [...this.std] };
  }

  setState(state: JsonObject): void {
    this.mean = (state.mean as number[]).slice();
    this.std = (state.std as number[]).slice();
  }

  dispose(): void {
    this.scale?.dispose();
    this.shift?.dispose();
    this.scale = undefined;
    this.shift = undefined;
  }
}

// The one call that makes `tabular/linear` usable in configs and saved models: its options schema and its
// raw input (a JSON value of up to 64 KiB) are declared here, so nothing outside the plugin names it.
registerEncoder({
  kind: TabularEncoder.kind,
  modality: 'tabular',
  options: tabularOptions,
  input: { kind: 'json', maxBytes: 64 * 1024 },
  factory: (options) => new TabularEncoder(options),
  description: 'numeric columns, one token each',
});
