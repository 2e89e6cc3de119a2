/**
 * FusionModel: the public face of the package. Create it from a config, `fit` it on samples, `predict`
 * any subset of its inputs, `evaluate`, `save` to a folder and `load` it back.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError, MmfuseError, ModelFormatError, encoders as globalRegistry, getEngineInfo, isMmfuseError, createRng } from '@mmfuse/core';
import type { EncoderRegistry, JsonObject, ModalityEncoder, SkippedSample } from '@mmfuse/core';
import { encoderConfig, encoderKind, normalizeConfig } from './config.js';
import type { FusionModelConfig, ResolvedConfig } from './config.js';
import { evaluatePrepared } from './evaluate.js';
import type { EvaluationReport } from './evaluate.js';
import { readModelFolder, writeModelFiles } from './io/load-save.js';
import { writeFolderAtomically } from './io/folder.js';
import { FusionNetwork, toBatchInput } from './network.js';
import { outputValues, toPrediction, topIndex } from './outputs.js';
import type { OutputSpec, Prediction } from './outputs.js';
import { PrepareCache } from './pipeline/cache.js';
import { collectSamples, prepareFields, prepareSamples } from './pipeline/prepare.js';
import type { PrepareInputsOptions, SampleSource } from './pipeline/prepare.js';
import { parseTarget } from './targets.js';
import type { Target } from './targets.js';
import { runTraining } from './train/loop.js';
import type { FitOptions, TrainingHistory } from './train/loop.js';

export interface CreateOptions {
  /** Registry to build encoders from. Default: the process-wide `encoders` of @mmfuse/core. */
  registry?: EncoderRegistry;
}

export interface PredictOptions {
  /** Folder that relative paths resolve against. */
  baseDir?: string;
  /** Also measure each input's contribution (one extra forward pass per input present). Default true. */
  contributions?: boolean;
}

export interface ModelSummary {
  parameters: number;
  trainableParameters: number;
  inputs: { field: string; type: string; encoder: string; outputDim: number; parameters: number; maxTokens?: number }[];
  fusion: ResolvedConfig['fusion'];
  output: ResolvedConfig['output'];
  labels: string[];
  engine: string;
  trained: boolean;
}

/** Rows predicted at once. */
const INFERENCE_BATCH = 64;

/** A request prepared by `FusionModel.prepareInputs` (opaque: the encoders' prepared values). */
export interface PreparedInput {
  readonly kind: 'mmfuse-prepared-input';
  readonly values: unknown[];
}

/** A refused request of `predictBatch`, as the JSON of the MmfuseError that refused it. */
export interface PredictionError {
  name: string;
  code: string;
  message: string;
  reason: string;
  /** Index of the request in the batch. */
  sample: number;
  field?: string;
}

export class FusionModel {
  readonly config: ResolvedConfig;
  /** @internal */ readonly registry: EncoderRegistry;
  /** @internal */ readonly fields: string[];
  /** @internal */ readonly encoders: ModalityEncoder[];
  /** @internal */ readonly encoderConfigs: JsonObject[];
  /** @internal */ network?: FusionNetwork;
  /** @internal */ targetStats?: { mean: number[]; std: number[] };
  /** @internal */ outDim = 0;
  /** @internal */ history?: TrainingHistory;
  /** @internal */ readonly memoryCache = new PrepareCache();
  private labelList: string[] = [];

  private constructor(config: ResolvedConfig, registry: EncoderRegistry) {
    this.config = config;
    this.registry = registry;
    this.fields = Object.keys(config.inputs);
    this.encoderConfigs = [];
    this.encoders = this.fields.map((field) => {
      const input = config.inputs[field] as ResolvedConfig['inputs'][string];
      const kind = encoderKind(input);
      const cfg = encoderConfig(input);
      let enc: ModalityEncoder;
      try {
        enc = registry.create(kind, cfg);
      } catch (err) {
        if (err instanceof ConfigError && err.path === undefined) throw new ConfigError(err.reason, { path: `inputs.${field}.encoder`, cause: err });
        if (isMmfuseError(err)) throw err;
        throw new ConfigError(`encoder ${kind} rejected its config: ${(err as Error).message}`, { path: `inputs.${field}.encoder`, cause: err });
      }
      if (enc.modality !== input.type) throw new ConfigError(`encoder ${kind} reads "${enc.modality}", but the input's type is "${input.type}"`, { path: `inputs.${field}.type` });
      this.encoderConfigs.push(cfg);
      return enc;
    });
  }

  /** Build an untrained model (encoders created through the registry; weights come with `fit` or `load`). */
  static create(config: FusionModelConfig, options: CreateOptions = {}): FusionModel {
    return new FusionModel(normalizeConfig(config), options.registry ?? globalRegistry);
  }

  /** Labels in output order (category / multi-label); empty for regression. */
  get labels(): string[] {
    return [...this.labelList];
  }

  /** @internal */
  setLabels(labels: string[]): void {
    this.labelList = [...labels];
  }

  /** @internal */
  get outputSpec(): OutputSpec {
    const spec: OutputSpec = { type: this.config.output.type, labels: this.labelList, outDim: this.outDim };
    if (this.targetStats !== undefined) spec.targetStats = this.targetStats;
    return spec;
  }

  /** @internal */
  requireNetwork(): FusionNetwork {
    if (this.network === undefined) throw new MmfuseError('STATE', 'the model has no weights yet: call fit() or FusionModel.load() first');
    return this.network;
  }

  /** @internal Options for preparing inputs. */
  prepareOptions(cache: PrepareCache, baseDir?: string): PrepareInputsOptions {
    const o: PrepareInputsOptions = { fields: this.fields, encoders: this.encoders, encoderConfigs: this.encoderConfigs, cache };
    if (baseDir !== undefined) o.baseDir = baseDir;
    return o;
  }

  /**
   * @internal Fit encoder state and create every weight from the prepared training samples
   * (labels, regression statistics, encoder `fit`, `build`).
   */
  async initializeFrom(samples: readonly { values: unknown[]; target: Target }[]): Promise<void> {
    const type = this.config.output.type;
    if (type === 'regression') {
      // The first sample fixes the number of values; samples with another count are skipped by the caller.
      const dim = (samples[0]?.target as number[] | undefined)?.length ?? 1;
      const same = samples.filter((s) => (s.target as number[]).length === dim);
      const mean = new Array<number>(dim).fill(0); const std = new Array<number>(dim).fill(0);
      for (const s of same) (s.target as number[]).forEach((v, i) => { mean[i]! += v / same.length; });
      for (const s of same) (s.target as number[]).forEach((v, i) => { std[i]! += (v - (mean[i] as number)) ** 2 / same.length; });
      this.targetStats = { mean, std: std.map((v) => Math.sqrt(v) || 1) };
      this.labelList = [];
      this.outDim = dim;
    } else {
      const set = new Set<string>();
      for (const s of samples) for (const l of type === 'category' ? [s.target as string] : (s.target as string[])) set.add(l);
      this.labelList = [...set].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      if (type === 'category' && this.labelList.length < 2) throw new InvalidInputError(`the training data has ${this.labelList.length} distinct label(s) in "${this.config.output.field}"; a category output needs at least 2`, { field: this.config.output.field });
      if (this.labelList.length === 0) throw new InvalidInputError(`the training data has no labels in "${this.config.output.field}"`, { field: this.config.output.field });
      this.outDim = this.labelList.length;
    }
    for (let m = 0; m < this.encoders.length; m++) {
      const present = samples.flatMap((s) => (s.values[m] === undefined ? [] : [s.values[m]]));
      await this.encoders[m]?.fit?.(present);
    }
    this.buildNetwork(createRng(this.config.training.seed));
  }

  /** @internal Build encoders and fusion weights (encoder state must be set). */
  buildNetwork(rng = createRng(this.config.training.seed)): void {
    this.encoders.forEach((e, m) => e.build(rng.fork(`encoder:${this.fields[m]}`)));
    this.network = new FusionNetwork(this.config, this.encoders, this.outDim, rng.fork('fusion'));
  }

  /** @internal Every weight with its saved name, in save order. */
  namedWeights(): [string, tf.Variable][] {
    const net = this.requireNetwork();
    return [
      ...this.encoders.flatMap((e, m) => e.weights.map((w, i): [string, tf.Variable] => [`encoders.${this.fields[m]}.${i}`, w])),
      ...net.namedWeights('fusion.'),
    ];
  }

  /**
   * Train on `train` (any iterable of `{ id?, fields }`, e.g. `readManifest(...)`). Bad samples are skipped
   * and reported through `onSkip`. Resolves with the per-epoch history.
   */
  async fit(train: SampleSource, options: FitOptions = {}): Promise<TrainingHistory> {
    const history = await runTraining(this, train, options);
    this.history = history;
    return history;
  }

  /** @internal Head outputs [N, outDim] for prepared value lists, in inference mode; `drop` hides one input. */
  outputsFor(values: readonly unknown[][], drop?: number): Float32Array[] {
    const net = this.requireNetwork();
    const rows: Float32Array[] = [];
    for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
      const chunk = values.slice(start, start + INFERENCE_BATCH);
      const out = tf.tidy(() => net.forward(toBatchInput(chunk, this.fields.length, drop), { training: false }));
      const data = out.dataSync() as Float32Array;
      out.dispose();
      for (let r = 0; r < chunk.length; r++) rows.push(data.slice(r * this.outDim, (r + 1) * this.outDim));
    }
    return rows;
  }

  private predictValues(values: readonly unknown[][], contributions: boolean): Prediction[] {
    const spec = this.outputSpec;
    const full = this.outputsFor(values).map((r) => outputValues(spec, r));
    const preds = values.map((v, i) => toPrediction(spec, full[i] as number[], this.fields.filter((_, m) => v[m] !== undefined)));
    if (!contributions) return preds;
    preds.forEach((p) => { p.contributions = {}; });
    this.fields.forEach((field, m) => {
      const idx = values.flatMap((v, i) => (v[m] !== undefined ? [i] : []));
      if (idx.length === 0) return;
      const without = this.outputsFor(idx.map((i) => values[i] as unknown[]), m);
      idx.forEach((i, j) => {
        const f = full[i] as number[];
        const top = topIndex(spec, f);
        const w = outputValues(spec, without[j] as Float32Array);
        (preds[i] as Prediction).contributions![field] = (f[top] as number) - (w[top] as number);
      });
    });
    return preds;
  }

  /** Predict one sample from any subset of the inputs, e.g. `{ text: 'hi' }` or `{ text, audio, image }`. */
  async predict(input: Record<string, unknown>, options: PredictOptions = {}): Promise<Prediction> {
    this.requireNetwork();
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidInputError(`a prediction request must be an object of input fields (${this.fields.join(', ')}), got ${describe(input)}`, { sample: 0 });
    const values = await prepareFields(input, '0', this.prepareOptions(this.memoryCache, options.baseDir));
    return this.predictValues([values], options.contributions ?? true)[0] as Prediction;
  }

  /**
   * Prepare requests once (decode, features, tokenize) for repeated or timed prediction with
   * `predictPrepared`; a bad request gives `{ error }` in its place.
   */
  async prepareInputs(inputs: Record<string, unknown>[], options: { baseDir?: string } = {}): Promise<(PreparedInput | { error: PredictionError })[]> {
    const { prepared, skipped } = await prepareSamples(inputs.map((fields, i) => ({ id: String(i), fields })), this.prepareOptions(this.memoryCache, options.baseDir));
    const out: (PreparedInput | { error: PredictionError })[] = new Array(inputs.length);
    prepared.forEach((p) => { out[p.index] = { kind: 'mmfuse-prepared-input', values: p.values }; });
    for (const s of skipped) out[Number(s.sample)] = { error: errorOf(s) };
    return out;
  }

  /** Predict from inputs prepared by `prepareInputs` (no decoding; synchronous). */
  predictPrepared(inputs: readonly PreparedInput[], options: { contributions?: boolean } = {}): Prediction[] {
    this.requireNetwork();
    return this.predictValues(inputs.map((p) => p.values), options.contributions ?? true);
  }

  /** Predict many; a bad request gives `{ error }` (the error as JSON) in its place, the others are answered. */
  async predictBatch(inputs: Record<string, unknown>[], options: PredictOptions = {}): Promise<(Prediction | { error: PredictionError })[]> {
    this.requireNetwork();
    const { prepared, skipped } = await prepareSamples(inputs.map((fields, i) => ({ id: String(i), fields })), this.prepareOptions(this.memoryCache, options.baseDir));
    const preds = this.predictValues(prepared.map((p) => p.values), options.contributions ?? true);
    const out: (Prediction | { error: PredictionError })[] = new Array(inputs.length);
    prepared.forEach((p, j) => { out[p.index] = preds[j] as Prediction; });
    for (const s of skipped) out[Number(s.sample)] = { error: errorOf(s) };
    return out;
  }

  /** Accuracy, macro-F1, per-class metrics, confusion matrix and (by default) the test set re-scored without each input. */
  async evaluate(samples: SampleSource, options: { baseDir?: string; ablation?: boolean; onSkip?: (s: SkippedSample) => void; cacheDir?: string } = {}): Promise<EvaluationReport> {
    this.requireNetwork();
    const all = await collectSamples(samples);
    const cache = options.cacheDir === undefined ? this.memoryCache : new PrepareCache(options.cacheDir);
    const { prepared, skipped } = await prepareSamples(all, {
      ...this.prepareOptions(cache, options.baseDir),
      check: (s, id) => this.checkTarget(s.fields[this.config.output.field], id),
      ...(options.onSkip === undefined ? {} : { onSkip: options.onSkip }),
    });
    return evaluatePrepared(this, prepared.map((p) => ({ values: p.values, target: p.extra })), skipped, options.ablation ?? true);
  }

  /** @internal Parse a target and check its labels are known (after training). */
  checkTarget(raw: unknown, id: string): Target {
    const field = this.config.output.field;
    const t = parseTarget(this.config.output.type, raw, { sample: id, field });
    if (this.network !== undefined) {
      if (this.config.output.type === 'category' && !this.labelList.includes(t as string)) throw new InvalidInputError(`label ${JSON.stringify(t)} was not among the training labels`, { sample: id, field });
      if (this.config.output.type === 'multi-label') for (const l of t as string[]) if (!this.labelList.includes(l)) throw new InvalidInputError(`label ${JSON.stringify(l)} was not among the training labels`, { sample: id, field });
      if (this.config.output.type === 'regression' && (t as number[]).length !== this.outDim) throw new InvalidInputError(`expected ${this.outDim} value(s), got ${(t as number[]).length}`, { sample: id, field });
    }
    return t;
  }

  /** Write the model folder atomically (temp folder, then rename). */
  async save(dir: string): Promise<void> {
    this.requireNetwork();
    await writeFolderAtomically(dir, (tmp) => writeModelFiles(this, tmp));
  }

  /** Load a folder written by `save`. Throws ModelFormatError when it is corrupt, incomplete or mismatched. */
  static async load(dir: string, options: CreateOptions = {}): Promise<FusionModel> {
    const { model: file, buffer } = await readModelFolder(dir);
    let model: FusionModel;
    try {
      model = new FusionModel(normalizeConfig(file.config), options.registry ?? globalRegistry);
    } catch (err) {
      throw formatError(dir, `its config cannot be rebuilt: ${(err as Error).message}`, err);
    }
    model.restore(file, buffer, dir);
    return model;
  }

  /** @internal Set labels, encoder states and weights from a read model file. */
  restore(file: import('./io/format.js').ModelFile, buffer: Uint8Array, dir: string): void {
    this.labelList = [...file.labels];
    this.outDim = file.outDim;
    if (file.targetStats !== undefined) this.targetStats = file.targetStats;
    if (file.encoders.length !== this.encoders.length) throw formatError(dir, `lists ${file.encoders.length} encoders for ${this.encoders.length} inputs`);
    file.encoders.forEach((e, m) => {
      const enc = this.encoders[m] as ModalityEncoder;
      if (e.field !== this.fields[m] || e.kind !== enc.kind) throw formatError(dir, `encoder ${m} is ${e.kind} for "${e.field}", but the config gives ${enc.kind} for "${this.fields[m]}"`);
      try { enc.setState(e.state); } catch (err) { throw formatError(dir, `encoder ${e.kind} refused its saved state: ${(err as Error).message}`, err); }
    });
    this.network?.dispose();
    this.buildNetwork();
    const named = this.namedWeights();
    if (named.length !== file.weights.length) throw formatError(dir, `holds ${file.weights.length} weights, the model has ${named.length}`);
    tf.tidy(() => {
      named.forEach(([name, v], i) => {
        const w = file.weights[i] as import('./io/format.js').WeightEntry;
        if (w.name !== name || w.shape.join('x') !== v.shape.join('x')) throw formatError(dir, `weight ${i} is ${w.name} [${w.shape}], the model expects ${name} [${v.shape}]`);
        const data = new Float32Array(buffer.buffer.slice(buffer.byteOffset + w.offset, buffer.byteOffset + w.offset + w.byteLength));
        v.assign(tf.tensor(data, v.shape, 'float32'));
      });
    });
  }

  /** Parameter counts, inputs, labels and engine. */
  summary(): ModelSummary {
    const count = (ws: readonly tf.Variable[]): number => ws.reduce((a, w) => a + w.size, 0);
    const net = this.network;
    return {
      parameters: net === undefined ? 0 : count(this.namedWeights().map(([, v]) => v)),
      trainableParameters: net === undefined ? 0 : count(net.trainableWeights),
      inputs: this.fields.map((field, m) => {
        const enc = this.encoders[m] as ModalityEncoder;
        const cap = this.config.inputs[field]?.maxTokens;
        const base = { field, type: enc.modality, encoder: enc.kind, outputDim: enc.outputDim, parameters: count(enc.weights) };
        return cap === undefined ? base : { ...base, maxTokens: cap };
      }),
      fusion: this.config.fusion,
      output: this.config.output,
      labels: this.labels,
      engine: getEngineInfo()?.engine ?? tf.getBackend(),
      trained: net !== undefined,
    };
  }

  /** Free every weight. */
  dispose(): void {
    this.network?.dispose();
    this.network = undefined;
    for (const e of this.encoders) e.dispose();
  }
}

function errorOf(s: SkippedSample): PredictionError {
  const e: PredictionError = { name: s.code === 'INVALID_INPUT' ? 'InvalidInputError' : s.code === 'LIMIT_EXCEEDED' ? 'LimitExceededError' : s.code === 'UNSUPPORTED_FORMAT' ? 'UnsupportedFormatError' : 'MmfuseError', code: s.code, message: s.message, reason: s.reason, sample: Number(s.sample) };
  if (s.field !== undefined) e.field = s.field;
  return e;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function formatError(dir: string, reason: string, cause?: unknown): ModelFormatError {
  return new ModelFormatError(`model folder: ${reason}`, cause === undefined ? { file: dir } : { file: dir, cause });
}
