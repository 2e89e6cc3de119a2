/**
 * FusionModel: the public face of the package, a thin facade over `FusionState` (the trained state that
 * the trainer, evaluator, serializer and predictor work on). Create it from a config, `fit` it on samples,
 * `predict` any subset of its inputs, `evaluate`, `save` to a folder and `load` it back.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, encoders as globalRegistry, getEngineInfo, ownValue } from '@mmfuse/core';
import type { EncoderRegistry, ModalityEncoder, Outcome, SkippedSample } from '@mmfuse/core';
import { normalizeConfig } from './config.js';
import type { FusionModelConfig, ResolvedConfig } from './config.js';
import { evaluatePrepared } from './evaluate.js';
import type { EvaluationReport } from './evaluate.js';
import { decodeOptions, predictValues } from './infer.js';
import { loadState, saveState } from './io/state-folder.js';
import type { Calibration, Prediction } from './outputs/index.js';
import { isCalibrated } from './outputs/calibration.js';
import { PrepareCache } from './pipeline/cache.js';
import { collectSamples, prepareAll, prepareFields, prepareSamples } from './pipeline/prepare.js';
import type { SampleSource } from './pipeline/prepare.js';
import { FusionState } from './state.js';
import type { ModelInput } from './state.js';
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
  /** `predictBatch`: the name of each request in errors (`sample`), e.g. request ids. Default: its index. */
  sampleIds?: readonly (string | number)[];
  /**
   * Category: the calibrated top probability below which a prediction is `outOfScope`, instead of the
   * model's own threshold (chosen on validation data or set in the config); null: no out-of-scope answers.
   */
  outOfScopeThreshold?: number | null;
  /** `predict`: the request's name in errors (`sample`), e.g. a request id or a file name. Default `"input"`. */
  sampleId?: string | number;
}


export interface EvaluateOptions {
  /** Folder that relative paths resolve against. */
  baseDir?: string;
  /** Also score the samples without each input. Default true. */
  ablation?: boolean;
  onSkip?: (s: SkippedSample) => void;
  /** On-disk cache of prepared inputs. */
  cacheDir?: string;
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
  /** `training.ensemble`: the members the model answers with, when more than one (parameters count them all). */
  ensemble?: number;
}

/** A request prepared by `FusionModel.prepareInputs` (opaque: the encoders' prepared values). */
export interface PreparedInput {
  readonly kind: 'mmfuse-prepared-input';
  readonly values: unknown[];
}

export class FusionModel {
  /** The trained state (config, encoders, fitted output, network, history): what exporters and distillers take. */
  readonly state: FusionState;
  /** Prepared values of earlier predictions, for the life of the model. */
  private readonly cache = new PrepareCache();

  private constructor(state: FusionState) {
    this.state = state;
  }

  /** Build an untrained model (encoders created through the registry; weights come with `fit` or `load`). */
  static create(config: FusionModelConfig, options: CreateOptions = {}): FusionModel {
    return new FusionModel(FusionState.create(normalizeConfig(config), options.registry ?? globalRegistry));
  }

  /** Load a folder written by `save`. Throws ModelFormatError when it is corrupt, incomplete or mismatched. */
  static async load(dir: string, options: CreateOptions = {}): Promise<FusionModel> {
    return new FusionModel(await loadState(dir, options));
  }

  /** The config with every default filled in. */
  get config(): ResolvedConfig {
    return this.state.config;
  }

  /** Labels in output order (category / multi-label); empty for regression or before training. */
  get labels(): string[] {
    return [...(this.state.output?.labels ?? [])];
  }

  /** The inputs: field, modality, encoder kind and raw-input declaration (file / bytes / text / JSON, byte limit). */
  get inputs(): ModelInput[] {
    return this.state.inputs;
  }

  /**
   * Category: the calibration fitted after training (temperature, out-of-scope threshold, validation ECE
   * before and after); undefined for other outputs, before training, or for a model saved without one.
   */
  get calibration(): Calibration | undefined {
    const c = this.state.output?.calibration;
    return c === undefined || !isCalibrated(c) ? undefined : { ...c };
  }

  /** History of the last `fit` (or of the loaded model's training, when saved with it). */
  get history(): TrainingHistory | undefined {
    return this.state.history;
  }

  /**
   * Train on `train` (any iterable of `{ id?, fields }`, e.g. `readManifest(...)`). Bad samples are skipped
   * and reported through `onSkip`. Resolves with the per-epoch history. A trained model trains further from its
   * weights; a trained ensemble does so one member after another (member 0, then each other member).
   */
  fit(train: SampleSource, options: FitOptions = {}): Promise<TrainingHistory> {
    return runTraining(this.state, train, options);
  }

  /** Predict one sample from any subset of the inputs, e.g. `{ text: 'hi' }` or `{ text, audio, image }`. */
  async predict(input: Record<string, unknown>, options: PredictOptions = {}): Promise<Prediction> {
    this.state.requireNetwork();
    const decode = decodeOptions(options);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidInputError(`a prediction request must be an object of input fields (${[...new Set(this.state.sources)].join(', ')}), got ${describe(input)}`, { sample: options.sampleId ?? 'input' });
    const values = await prepareFields(input, options.sampleId ?? 'input', this.state.prepareOptions(this.cache, options.baseDir));
    return (await predictValues(this.state, [values], options.contributions ?? true, decode))[0] as Prediction;
  }

  /**
   * Prepare requests once (decode, features, tokenize) for repeated or timed prediction with
   * `predictPrepared`: one outcome per request, a refused one carrying its typed error (sample = its index).
   */
  async prepareInputs(inputs: Record<string, unknown>[], options: { baseDir?: string } = {}): Promise<Outcome<PreparedInput>[]> {
    const outcomes = await prepareAll(inputs.map((fields) => ({ fields })), { ...this.state.prepareOptions(this.cache, options.baseDir), sampleName: (i) => i });
    return outcomes.map((o) => (o.ok ? { ok: true, value: { kind: 'mmfuse-prepared-input', values: o.value.values } } : o));
  }

  /**
   * Predict from inputs prepared by `prepareInputs` (no decoding). Asynchronous since the WebGPU engine reads
   * its results back asynchronously; on the CPU engines it resolves as soon as the forward pass is done.
   */
  predictPrepared(inputs: readonly PreparedInput[], options: { contributions?: boolean; outOfScopeThreshold?: number | null } = {}): Promise<Prediction[]> {
    this.state.requireNetwork();
    return predictValues(this.state, inputs.map((p) => p.values), options.contributions ?? true, decodeOptions(options));
  }

  /**
   * Predict many: one outcome per request, in order. A bad request gives `{ ok: false, error }` with the
   * typed error that refused it (sample = `sampleIds[i]`, default its index); the others are answered.
   */
  async predictBatch(inputs: Record<string, unknown>[], options: PredictOptions = {}): Promise<Outcome<Prediction>[]> {
    this.state.requireNetwork();
    const decode = decodeOptions(options);
    const ids = options.sampleIds;
    const outcomes = await prepareAll(inputs.map((fields) => ({ fields })), { ...this.state.prepareOptions(this.cache, options.baseDir), sampleName: (i) => ids?.[i] ?? i });
    const ready = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    const preds = await predictValues(this.state, ready.map((p) => p.values), options.contributions ?? true, decode);
    const byIndex = new Map(ready.map((p, j) => [p.index, preds[j] as Prediction]));
    return outcomes.map((o, i) => (o.ok ? { ok: true, value: byIndex.get(i) as Prediction } : o));
  }

  /** Accuracy, macro-F1, per-class metrics, confusion matrix and (by default) the test set re-scored without each input. */
  async evaluate(samples: SampleSource, options: EvaluateOptions = {}): Promise<EvaluationReport> {
    this.state.requireNetwork();
    const all = await collectSamples(samples);
    const cache = options.cacheDir === undefined ? this.cache : new PrepareCache(options.cacheDir);
    const field = this.state.config.output.field;
    const { prepared, skipped } = await prepareSamples(all, {
      ...this.state.prepareOptions(cache, options.baseDir),
      check: (s, id) => this.state.target(ownValue(s.fields, field), id),
      ...(options.onSkip === undefined ? {} : { onSkip: options.onSkip }),
    });
    return await evaluatePrepared(this.state, prepared.map((p) => ({ values: p.values, target: p.extra })), skipped, options.ablation ?? true);
  }

  /** Write the model folder atomically (temp folder, then rename). */
  async save(dir: string): Promise<void> {
    await saveState(this.state, dir);
  }

  /** Parameter counts, inputs, labels and engine. */
  summary(): ModelSummary {
    const count = (ws: readonly tf.Variable[]): number => ws.reduce((a, w) => a + w.size, 0);
    const s = this.state;
    const net = s.network;
    return {
      parameters: net === undefined ? 0 : count(s.namedWeights().map(([, v]) => v)),
      trainableParameters: net === undefined ? 0 : count([net, ...net.otherMembers].flatMap((n) => n.trainableWeights)),
      ...(s.members > 1 ? { ensemble: s.members } : {}),
      inputs: s.fields.map((field, m) => {
        const enc = s.encoders[m] as ModalityEncoder;
        const cap = s.config.inputs[field]?.maxTokens;
        const base = { field, type: enc.modality, encoder: enc.kind, outputDim: enc.outputDim, parameters: count(enc.weights) };
        return cap === undefined ? base : { ...base, maxTokens: cap };
      }),
      fusion: s.config.fusion,
      output: s.config.output,
      labels: this.labels,
      engine: getEngineInfo()?.engine ?? tf.getBackend(),
      trained: net !== undefined,
    };
  }

  /** Free every weight. */
  dispose(): void {
    this.state.dispose();
  }
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

