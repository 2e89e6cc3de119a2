/**
 * `OnnxFusionModel`: an exported graph run by onnxruntime-node (multi-threaded CPU), answering exactly as
 * `FusionModel` does (same predictions, contributions, evaluation reports and typed errors): preparation
 * is the encoders' own `prepare` and `collate` (rebuilt from the file's metadata through the registry),
 * batches of 64 rows as `outputRows` makes them, and the head outputs decoded by the same `FittedOutput`.
 *
 * onnxruntime-node is an optional peer dependency: without it `load` throws an `EngineError` naming it.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { EngineError, InvalidInputError, IoError, ModelFormatError, encoders as globalRegistry, isMmfuseError, ownValue } from '@mmfuse/core';
import type { EncoderRegistry, ModalityEncoder, Outcome, SkippedSample } from '@mmfuse/core';
import { normalizeConfig } from '../config.js';
import type { ResolvedConfig } from '../config.js';
import { reportFromRows } from '../evaluate.js';
import type { EvaluationReport } from '../evaluate.js';
import { INFERENCE_BATCH, contributionPasses, decodeOptions, decodePredictions } from '../infer.js';
import type { EvaluateOptions, PredictOptions, PreparedInput } from '../model.js';
import type { Calibration, DecodeOptions, Prediction, Target } from '../outputs/index.js';
import { isCalibrated } from '../outputs/calibration.js';
import { PrepareCache } from '../pipeline/cache.js';
import { collectSamples, prepareAll, prepareFields, prepareSamples } from '../pipeline/prepare.js';
import type { SampleSource } from '../pipeline/prepare.js';
import { FusionState } from '../state.js';
import type { ModelInput } from '../state.js';
import { ONNX_FORMAT, ONNX_FORMAT_VERSION, ONNX_METADATA_KEY, exportOnnx } from './export.js';
import type { OnnxExportOptions, OnnxModelMetadata } from './export.js';
import { buildFeeds } from './feeds.js';
import type { CollatedField, FeedTensor } from './feeds.js';
import { readOnnxMetadata } from './graph-builder.js';

/** The optional peer that runs the graphs. */
export const ONNXRUNTIME_PACKAGE = 'onnxruntime-node';

/** The parts of onnxruntime-node's API used here (so its types are not needed to build mmfuse). */
interface OrtTensor { readonly data: unknown; readonly dims: readonly number[] }
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: new (type: string, data: FeedTensor['data'], dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
}

/** Import onnxruntime-node, or throw an `EngineError` that says how to install it. */
export async function loadOnnxRuntime(): Promise<OrtModule> {
  try {
    const mod = (await import(ONNXRUNTIME_PACKAGE)) as OrtModule & { default?: OrtModule };
    return mod.InferenceSession === undefined && mod.default !== undefined ? mod.default : mod;
  } catch (err) {
    throw new EngineError(`the onnx runtime needs the optional package ${ONNXRUNTIME_PACKAGE}, which is not installed: npm install ${ONNXRUNTIME_PACKAGE} (its install script only fetches GPU providers; the CPU runtime is inside the package, so ONNXRUNTIME_NODE_INSTALL=skip or npm's default of not running dependency scripts is fine)`, { cause: err });
  }
}

export interface OnnxRuntimeOptions {
  /** Intra-op threads of onnxruntime. Default: onnxruntime's own (one per physical core). */
  threads?: number;
  /** Registry the encoders are rebuilt from. Default: the process-wide `encoders` of @mmfuse/core. */
  registry?: EncoderRegistry;
}

/** The `mmfuse` metadata of an exported model, checked. Throws `ModelFormatError`. */
export function onnxMetadata(bytes: Uint8Array, file = '(bytes)'): OnnxModelMetadata {
  let props: Record<string, string>;
  try {
    props = readOnnxMetadata(bytes);
  } catch (err) {
    throw new ModelFormatError(`not an ONNX model: ${(err as Error).message}`, { file, cause: err });
  }
  const text = props[ONNX_METADATA_KEY];
  if (text === undefined) throw new ModelFormatError(`this ONNX model was not exported by mmfuse (no "${ONNX_METADATA_KEY}" metadata)`, { file });
  let meta: OnnxModelMetadata;
  try {
    meta = JSON.parse(text) as OnnxModelMetadata;
  } catch (err) {
    throw new ModelFormatError(`its "${ONNX_METADATA_KEY}" metadata is not JSON: ${(err as Error).message}`, { file, cause: err });
  }
  if (meta.format !== ONNX_FORMAT || meta.version !== ONNX_FORMAT_VERSION) {
    throw new ModelFormatError(`metadata format ${JSON.stringify(meta.format)} version ${JSON.stringify(meta.version)}; this mmfuse reads ${ONNX_FORMAT} version ${ONNX_FORMAT_VERSION}`, { file });
  }
  const scored = (meta.output as { calibration?: { score?: unknown } } | undefined)?.calibration?.score !== undefined;
  if (scored !== (meta.nearest !== undefined)) {
    throw new ModelFormatError(scored ? 'its calibration scores out-of-scope requests by energy+nearest, but the graph declares no nearest output' : 'the graph declares a nearest output, but its calibration has no energy+nearest score', { file });
  }
  return meta;
}

export class OnnxFusionModel {
  /** The config, encoders (fitted state, no weights) and fitted output, rebuilt from the file. */
  readonly state: FusionState;
  readonly metadata: OnnxModelMetadata;
  private readonly ort: OrtModule;
  private session: OrtSession | undefined;
  private readonly cache = new PrepareCache();

  private constructor(state: FusionState, metadata: OnnxModelMetadata, ort: OrtModule, session: OrtSession) {
    this.state = state;
    this.metadata = metadata;
    this.ort = ort;
    this.session = session;
  }

  /** Load a `.onnx` file (or its bytes) written by `mmfuse export --format onnx`. */
  static async load(source: string | Uint8Array, options: OnnxRuntimeOptions = {}): Promise<OnnxFusionModel> {
    const ort = await loadOnnxRuntime();
    let bytes: Uint8Array;
    const file = typeof source === 'string' ? source : '(bytes)';
    if (typeof source === 'string') {
      try {
        bytes = await readFile(source);
      } catch (err) {
        throw new IoError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file, cause: err });
      }
    } else {
      bytes = source;
    }
    const meta = onnxMetadata(bytes, file);
    let state: FusionState;
    try {
      state = FusionState.create(normalizeConfig(meta.config), options.registry ?? globalRegistry);
    } catch (err) {
      throw new ModelFormatError(`its config cannot be rebuilt: ${(err as Error).message}`, { file, cause: err });
    }
    try {
      state.output = state.outputKind.restore(meta.output, state.config.output.field);
      state.fields.forEach((field, m) => {
        const saved = meta.inputs[m];
        const enc = state.encoders[m] as ModalityEncoder;
        if (saved === undefined || saved.field !== field || saved.kind !== enc.kind) throw new ModelFormatError(`its inputs do not match its config at input ${field}`, { file });
        enc.setState(saved.state);
      });
      const session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        interOpNumThreads: 1,
        ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
      });
      return new OnnxFusionModel(state, meta, ort, session);
    } catch (err) {
      state.dispose();
      if (isMmfuseError(err)) throw err;
      throw new ModelFormatError(`onnxruntime cannot load it: ${(err as Error).message}`, { file, cause: err });
    }
  }

  /** Export a trained state in memory and load it (e.g. `--runtime onnx` on a model folder). */
  static async fromState(state: FusionState, options: OnnxRuntimeOptions & OnnxExportOptions = {}): Promise<OnnxFusionModel> {
    return OnnxFusionModel.load(exportOnnx(state, options).bytes, options);
  }

  get config(): ResolvedConfig {
    return this.state.config;
  }

  get labels(): string[] {
    return [...this.state.requireOutput().labels];
  }

  get inputs(): ModelInput[] {
    return this.state.inputs;
  }

  /** As `FusionModel.calibration` (carried in the graph's metadata with the fitted output). */
  get calibration(): Calibration | undefined {
    const c = this.state.output?.calibration;
    return c === undefined || !isCalibrated(c) ? undefined : { ...c };
  }

  /** Head outputs of prepared value lists, 64 rows per run (as `outputRows`); `drop` hides input m from every row. */
  async outputRows(values: readonly (readonly unknown[])[], drop?: number): Promise<Float32Array[]> {
    return (await this.outputRowsWithNearest(values, drop)).rows;
  }

  /** `outputRows`, and each row's nearest in-scope similarity when the graph has that output (as `outputRowsWithNearest`). */
  async outputRowsWithNearest(values: readonly (readonly unknown[])[], drop?: number): Promise<{ rows: Float32Array[]; nearest?: number[] }> {
    const k = this.metadata.logits.outDim;
    const rows: Float32Array[] = [];
    const nearest: number[] | undefined = this.metadata.nearest === undefined ? undefined : [];
    for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
      const chunk = values.slice(start, start + INFERENCE_BATCH);
      const out = await this.runBatch(this.batchFeeds(chunk, drop));
      for (let r = 0; r < chunk.length; r++) rows.push(out.logits.slice(r * k, (r + 1) * k));
      if (nearest !== undefined) nearest.push(...(out.nearest as Float32Array));
    }
    return nearest === undefined ? { rows } : { rows, nearest };
  }

  /**
   * The graph feeds of one batch of prepared values (the encoders' `collate`, spread over the batch with
   * presence masks); `drop` hides input m. With `runFeeds`, what `outputRows` does per batch (exposed for
   * benchmarks that time the graph alone).
   */
  batchFeeds(values: readonly (readonly unknown[])[], drop?: number): Record<string, FeedTensor> {
    const fields = this.state.fields.map((_, m) => (m === drop ? null : this.collate(m, values)));
    return buildFeeds(this.metadata.inputs, this.metadata.batch, values.length, fields);
  }

  /** Run the graph on feeds from `batchFeeds`: the logits [batch, outDim], row-major. */
  async runFeeds(feeds: Record<string, FeedTensor>): Promise<Float32Array> {
    return (await this.runBatch(feeds)).logits;
  }

  /** `runFeeds`, with the `nearest` output [batch] when the graph has one. */
  private async runBatch(feeds: Record<string, FeedTensor>): Promise<{ logits: Float32Array; nearest?: Float32Array }> {
    const session = this.session;
    if (session === undefined) throw new EngineError('this onnx model was disposed');
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(ortFeeds);
    const logits = out[this.metadata.logits.name];
    if (logits === undefined) throw new EngineError(`the graph gave no ${this.metadata.logits.name} output`);
    const wanted = this.metadata.nearest?.name;
    if (wanted === undefined) return { logits: logits.data as Float32Array };
    const nearest = out[wanted];
    if (nearest === undefined) throw new EngineError(`the graph gave no ${wanted} output`);
    return { logits: logits.data as Float32Array, nearest: nearest.data as Float32Array };
  }

  /** Field m's collated tensors (read back as typed arrays) for the rows that have it, or null. */
  private collate(m: number, chunk: readonly (readonly unknown[])[]): CollatedField | null {
    const rows = chunk.flatMap((v, i) => (v[m] !== undefined ? [i] : []));
    if (rows.length === 0) return null;
    const enc = this.state.encoders[m] as ModalityEncoder;
    const batch = enc.collate(rows.map((i) => (chunk[i] as unknown[])[m]));
    try {
      const tensors: CollatedField['tensors'] = Object.fromEntries(Object.entries(batch).map(([key, t]) => [key, { data: t.dataSync() as Float32Array | Int32Array, dims: t.shape }]));
      return { rows, tensors };
    } finally {
      tf.dispose(Object.values(batch));
    }
  }

  private async predictValues(values: readonly (readonly unknown[])[], contributions: boolean, options: DecodeOptions = {}): Promise<Prediction[]> {
    const output = this.state.requireOutput();
    const { rows: full, nearest } = await this.outputRowsWithNearest(values);
    if (!contributions) return decodePredictions(output, this.state.fields, values, full, undefined, options, nearest);
    const passes = contributionPasses(this.state.fields.length, values);
    const without: Float32Array[][] = [];
    for (const p of passes) without.push(await this.outputRows(p.rows.map((i) => values[i] as unknown[]), p.input));
    return decodePredictions(output, this.state.fields, values, full, { passes, without }, options, nearest);
  }

  /** As `FusionModel.predict`. */
  async predict(input: Record<string, unknown>, options: PredictOptions = {}): Promise<Prediction> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidInputError(`a prediction request must be an object of input fields (${this.state.fields.join(', ')}), got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`, { sample: options.sampleId ?? 'input' });
    const decode = decodeOptions(options);
    const values = await prepareFields(input, options.sampleId ?? 'input', this.state.prepareOptions(this.cache, options.baseDir));
    return (await this.predictValues([values], options.contributions ?? true, decode))[0] as Prediction;
  }

  /** As `FusionModel.prepareInputs`. */
  async prepareInputs(inputs: Record<string, unknown>[], options: { baseDir?: string } = {}): Promise<Outcome<PreparedInput>[]> {
    const outcomes = await prepareAll(inputs.map((fields) => ({ fields })), { ...this.state.prepareOptions(this.cache, options.baseDir), sampleName: (i) => i });
    return outcomes.map((o) => (o.ok ? { ok: true, value: { kind: 'mmfuse-prepared-input', values: o.value.values } } : o));
  }

  /** As `FusionModel.predictPrepared`, asynchronous. */
  predictPrepared(inputs: readonly PreparedInput[], options: { contributions?: boolean; outOfScopeThreshold?: number | null } = {}): Promise<Prediction[]> {
    return this.predictValues(inputs.map((p) => p.values), options.contributions ?? true, decodeOptions(options));
  }

  /** As `FusionModel.predictBatch`: one outcome per request, a refused one with its typed error. */
  async predictBatch(inputs: Record<string, unknown>[], options: PredictOptions = {}): Promise<Outcome<Prediction>[]> {
    const decode = decodeOptions(options);
    const ids = options.sampleIds;
    const outcomes = await prepareAll(inputs.map((fields) => ({ fields })), { ...this.state.prepareOptions(this.cache, options.baseDir), sampleName: (i) => ids?.[i] ?? i });
    const ready = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    const preds = await this.predictValues(ready.map((p) => p.values), options.contributions ?? true, decode);
    const byIndex = new Map(ready.map((p, j) => [p.index, preds[j] as Prediction]));
    return outcomes.map((o, i) => (o.ok ? { ok: true, value: byIndex.get(i) as Prediction } : o));
  }

  /** As `FusionModel.evaluate`. */
  async evaluate(samples: SampleSource, options: EvaluateOptions = {}): Promise<EvaluationReport> {
    const all = await collectSamples(samples);
    const cache = options.cacheDir === undefined ? this.cache : new PrepareCache(options.cacheDir);
    const field = this.state.config.output.field;
    const { prepared, skipped } = await prepareSamples<Target>(all, {
      ...this.state.prepareOptions(cache, options.baseDir),
      check: (s, id) => this.state.target(ownValue(s.fields, field), id),
      ...(options.onSkip === undefined ? {} : { onSkip: options.onSkip }),
    });
    const values = prepared.map((p) => p.values);
    const { rows: full, nearest } = await this.outputRowsWithNearest(values);
    let ablation: Float32Array[][] | undefined;
    if ((options.ablation ?? true) && values.length > 0) {
      ablation = [];
      for (let m = 0; m < this.state.fields.length; m++) ablation.push(await this.outputRows(values, m));
    }
    return reportFromRows(this.state.requireOutput(), this.state.fields, prepared.map((p) => p.extra), full, skipped as SkippedSample[], ablation, nearest);
  }

  /** Release the session. */
  dispose(): void {
    const s = this.session;
    this.session = undefined;
    void s?.release().catch(() => undefined);
    this.state.dispose();
  }
}
