/**
 * The trained state of a fusion model, in one object: the resolved config, the input fields with their
 * encoders (plugins, with their fitted state), the fitted output (labels / target statistics / width), the
 * network (encoders -> alignment -> fusion -> head) and the training history. The trainer, evaluator,
 * serializer, checkpoint code (and exporters, distillers) take it; `FusionModel` is a facade over it.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, StateError, createRng, isMmfuseError, rawInputOf } from '@mmfuse/core';
import type { BuildOptions, EncoderRegistry, JsonObject, ModalityEncoder, RawInputSpec, Rng } from '@mmfuse/core';
import { calibrationSettings, encoderConfig, encoderKind, inputField } from './config.js';
import type { ResolvedConfig } from './config.js';
import { FusionNetwork } from './network.js';
import { outputKind } from './outputs/index.js';
import type { FittedOutput, OutputKind, Target } from './outputs/index.js';
import type { PrepareCache } from './pipeline/cache.js';
import type { PrepareInputsOptions } from './pipeline/prepare.js';
import type { TrainingHistory } from './train/history.js';
import type { WeightStorage } from './io/format.js';

/** The saved name of member k's weight `name` in an ensemble (member 0's weights keep their own names). */
export function memberWeightName(k: number, name: string): string {
  return k === 0 ? name : `members.${k}.${name}`;
}

/**
 * One sample field a model reads: the field, its modality, the encoder reading it and what its raw value
 * is. A field read by several inputs (`inputs.<name>.field`) is listed once, with the first input's encoder
 * and the smallest byte limit among them.
 */
export interface ModelInput {
  field: string;
  /** Modality type the encoder reads, e.g. `text`. */
  modality: string;
  /** Encoder registry kind, e.g. `text/rnn` (the first, when several inputs read the field). */
  encoder: string;
  /** What the raw value is (file, bytes, text, JSON) and its byte limit, from the encoder(s). */
  input: RawInputSpec;
  /** The inputs (config names) that read this field, when that is not just the field itself. */
  inputs?: string[];
}

/** The fused vectors an `energy+nearest` out-of-scope score compares a request with (see `FusionState.scopeMemory`). */
export interface ScopeMemory {
  rows: number;
  dim: number;
  /** Unit-length rows, row-major. */
  data: Float32Array;
}

export class FusionState {
  readonly config: ResolvedConfig;
  /** Input names, in config order (the order of `encoders` and of prepared values). */
  readonly fields: readonly string[];
  /** The sample field each input reads (`inputs.<name>.field`, default the name), in the order of `fields`. */
  readonly sources: readonly string[];
  readonly encoders: readonly ModalityEncoder[];
  /** The config each encoder was built from (part of the prepared-value cache key). */
  readonly encoderConfigs: readonly JsonObject[];
  /** The output kind of `config.output.type`. */
  readonly outputKind: OutputKind;
  /** The fitted output; set by `initialize` or a restore. */
  output?: FittedOutput;
  /** Every weight; set by `build`. */
  network?: FusionNetwork;
  /** History of the last training run. */
  history?: TrainingHistory;
  /** How `saveState` stores weights in low precision (int8 / float16 by weight name); unset = float32. */
  weightStorage?: WeightStorage;
  /**
   * `outOfScope.score: energy+nearest`: the in-scope training samples' fused vectors, unit length, row-major
   * [rows, dim] (set after training by calibration, or by a restore); unset otherwise.
   */
  get scopeMemory(): ScopeMemory | undefined {
    return this.memory;
  }

  set scopeMemory(memory: ScopeMemory | undefined) {
    this.memoryTensor?.dispose();
    this.memoryTensor = undefined;
    this.memory = memory;
  }

  private memory?: ScopeMemory;
  private memoryTensor?: tf.Tensor2D;

  /** `scopeMemory` as a [rows, dim] tensor (made once, kept until the memory changes or the state is disposed). */
  scopeMemoryTensor(): tf.Tensor2D | undefined {
    if (this.memory === undefined) return undefined;
    this.memoryTensor ??= tf.keep(tf.tensor2d(this.memory.data, [this.memory.rows, this.memory.dim]));
    return this.memoryTensor;
  }

  /** The registry the encoders came from (an ensemble's members are built through it). */
  private readonly registry: EncoderRegistry;
  /** Members 1..N-1 of an ensemble (`training.ensemble`), each a whole state of its own; empty for one model. */
  private memberStates: FusionState[] = [];

  private constructor(config: ResolvedConfig, encoders: ModalityEncoder[], encoderConfigs: JsonObject[], registry: EncoderRegistry) {
    this.registry = registry;
    this.config = config;
    this.fields = Object.keys(config.inputs);
    this.sources = this.fields.map((f) => inputField(f, config.inputs[f] as { field?: string }));
    this.encoders = encoders;
    this.encoderConfigs = encoderConfigs;
    this.outputKind = outputKind(config.output.type);
  }

  /**
   * How raw samples are prepared for this state's inputs: each input's encoder reads its source field
   * (`inputs.<name>.field`). Every caller that prepares samples for a model goes through here.
   */
  prepareOptions(cache: PrepareCache, baseDir?: string): PrepareInputsOptions {
    return { fields: this.fields, sources: this.sources, encoders: this.encoders, encoderConfigs: this.encoderConfigs, cache, ...(baseDir === undefined ? {} : { baseDir }) };
  }

  /** Build the encoders of a resolved config through the registry (no weights yet). Throws `ConfigError` naming the input. */
  static create(config: ResolvedConfig, registry: EncoderRegistry): FusionState {
    const encoders: ModalityEncoder[] = [];
    const configs: JsonObject[] = [];
    try {
      for (const [field, input] of Object.entries(config.inputs)) {
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
        encoders.push(enc);
        if (enc.modality !== input.type) throw new ConfigError(`encoder ${kind} reads "${enc.modality}", but the input's type is "${input.type}"`, { path: `inputs.${field}.type` });
        configs.push(cfg);
      }
      // Inputs sharing a sample field must agree on what its raw value is.
      const rawKind = new Map<string, { name: string; kind: string }>();
      Object.entries(config.inputs).forEach(([name, input], m) => {
        const source = inputField(name, input);
        const kind = rawInputOf(encoders[m] as ModalityEncoder).kind;
        const first = rawKind.get(source);
        if (first === undefined) rawKind.set(source, { name, kind });
        else if (first.kind !== kind) {
          throw new ConfigError(`reads field "${source}" as ${kind}, but input "${first.name}" reads it as ${first.kind}; inputs sharing a field need the same raw input kind`, { path: `inputs.${name}.field` });
        }
      });
    } catch (err) {
      for (const e of encoders) e.dispose();
      throw err;
    }
    return new FusionState(config, encoders, configs, registry);
  }

  /**
   * The config a model folder records: the resolved config, except that an input whose encoder has a
   * `savedConfig` (options naming files the saved weights replace, e.g. `audio/phonetic`'s `pretrained`)
   * records those options instead, so the folder loads on its own.
   */
  savedConfig(): ResolvedConfig {
    const inputs: ResolvedConfig['inputs'] = {};
    this.fields.forEach((field, m) => {
      const input = this.config.inputs[field] as ResolvedConfig['inputs'][string];
      const saved = this.encoders[m]?.savedConfig?.();
      if (saved === undefined) { inputs[field] = input; return; }
      const { preprocessing: _p, ...rest } = input;
      inputs[field] = { ...rest, encoder: { kind: input.encoder.kind, ...saved } };
    });
    // A trained ensemble records the members it holds (fewer than asked when its training was interrupted).
    const asked = this.config.training.ensemble ?? 1;
    if (this.network === undefined || asked === this.members) return { ...this.config, inputs };
    const training = { ...this.config.training };
    if (this.members > 1) training.ensemble = this.members;
    else delete training.ensemble;
    return { ...this.config, inputs, training };
  }

  /** The encoder options a model folder records for input m (see `savedConfig`). */
  savedEncoderConfig(m: number): JsonObject {
    return this.encoders[m]?.savedConfig?.() ?? this.encoderConfigs[m] ?? {};
  }

  /** The sample fields read, each with its modality, encoder and raw-input declaration (one entry per field). */
  get inputs(): ModelInput[] {
    const byField = new Map<string, ModelInput>();
    this.fields.forEach((name, m) => {
      const enc = this.encoders[m] as ModalityEncoder;
      const field = this.sources[m] as string;
      const spec = rawInputOf(enc);
      const seen = byField.get(field);
      if (seen === undefined) {
        byField.set(field, { field, modality: enc.modality, encoder: enc.kind, input: spec, ...(name === field ? {} : { inputs: [name] }) });
        return;
      }
      seen.inputs = [...(seen.inputs ?? [field]), name];
      if (spec.maxBytes < seen.input.maxBytes) seen.input = { ...seen.input, maxBytes: spec.maxBytes };
    });
    return [...byField.values()];
  }

  /** True once the state has weights (fitted or loaded). */
  get trained(): boolean {
    return this.network !== undefined;
  }

  /** @internal The fusion network, or a StateError before fit/load (the guard of predict, evaluate and export). */
  requireNetwork(): FusionNetwork {
    if (this.network === undefined) throw new StateError('the model has no weights yet: call fit() or FusionModel.load() first');
    return this.network;
  }

  requireOutput(): FittedOutput {
    if (this.output === undefined) throw new StateError('the model has no fitted output yet: call fit() or FusionModel.load() first');
    return this.output;
  }

  /**
   * Parse a sample's target (`output.field`) and, once the output is fitted, check that its labels (or value
   * count) are known. Throws `InvalidInputError` naming the sample and field.
   * @internal used by sample preparation; targets reach users through `fit` and `evaluate`.
   */
  target(raw: unknown, sample: string | number): Target {
    const loc = { sample, field: this.config.output.field };
    const t = this.outputKind.parse(raw, loc);
    this.output?.check(t, loc);
    return t;
  }

  /**
   * Fit the output (labels or target statistics) and every encoder's state (`fit`) on prepared training
   * samples, then create every weight.
   */
  async initialize(samples: readonly { values: readonly unknown[]; target: Target }[]): Promise<void> {
    this.output = this.outputKind.fit(samples.map((s) => s.target), this.config.output.field);
    this.scopeMemory = undefined;
    // What the config fixes (out-of-scope labels, a threshold given as a number) holds from the start, so a
    // checkpoint or an interrupted run answers as the finished model will; validation refits the rest at the end.
    // This also refuses, before any training, an out-of-scope label no training sample has (ConfigError).
    this.output.calibrate?.([], [], calibrationSettings(this.config.output));
    for (let m = 0; m < this.encoders.length; m++) {
      const present = samples.flatMap((s) => (s.values[m] === undefined ? [] : [s.values[m]]));
      await this.encoders[m]?.fit?.(present);
    }
    this.build();
  }

  /**
   * Create the encoders' and the fusion network's weights (replacing earlier ones). The output must be fitted.
   * `weightsFollow`: every weight is assigned next (a load), so encoders may skip drawing initial values.
   */
  build(rng: Rng = createRng(this.config.training.seed), options: BuildOptions = {}): void {
    const output = this.requireOutput();
    for (const m of this.memberStates) m.dispose();
    this.memberStates = [];
    this.network?.dispose();
    this.encoders.forEach((e, m) => e.build(rng.fork(`encoder:${this.fields[m]}`), options));
    this.network = new FusionNetwork(this.config, this.encoders, output.outDim, rng.fork('fusion'));
  }

  /**
   * Every weight with its saved name (`encoders.<field>.<i>`, then `fusion.<path>`), in save order; an
   * ensemble's members 1..N-1 follow, each under `members.<k>.`.
   */
  namedWeights(): [string, tf.Variable][] {
    const net = this.requireNetwork();
    return [
      ...this.encoders.flatMap((e, m) => e.weights.map((w, i): [string, tf.Variable] => [`encoders.${this.fields[m]}.${i}`, w])),
      ...net.namedWeights('fusion.'),
      ...this.memberStates.flatMap((member, j) => member.namedWeights().map(([name, w]): [string, tf.Variable] => [memberWeightName(j + 1, name), w])),
    ];
  }

  /**
   * @internal Members 1..N-1 taken out of this ensemble without being disposed: from here the network answers
   * alone (member 0) until `adoptMembers` puts them, or replacements, back. For work done one member at a time:
   * structured pruning and continued training (fine-tuning) of an ensemble.
   */
  detachMembers(): FusionState[] {
    const members = this.memberStates;
    this.memberStates = [];
    this.network?.setOtherMembers([]);
    return members;
  }

  /** Members 1..N-1 of an ensemble (each a state of its own), in member order; empty for one model. */
  get otherMembers(): readonly FusionState[] {
    return this.memberStates;
  }

  /** Members of the ensemble this state answers for: `training.ensemble` once built (1 for one model). */
  get members(): number {
    return 1 + this.memberStates.length;
  }

  /**
   * @internal Member k (>= 1) of an ensemble, untrained: the config with seed `seed + k` and no ensemble, the
   * fitted output and encoder states of this state (member 0), so it reads the values this state prepares, and
   * fresh weights from its own seed.
   */
  createMember(k: number, options: BuildOptions = {}): FusionState {
    const training = { ...this.config.training, seed: this.config.training.seed + k };
    delete training.ensemble;
    const member = FusionState.create({ ...this.config, training }, this.registry);
    try {
      member.output = this.outputKind.restore(this.requireOutput().toJSON(), this.config.output.field);
      member.encoders.forEach((e, m) => e.setState((this.encoders[m] as ModalityEncoder).getState()));
      member.build(undefined, options);
    } catch (err) {
      member.dispose();
      throw err;
    }
    return member;
  }

  /**
   * @internal This state (member 0) answers for an ensemble with `members` (1..N-1, trained or to be restored):
   * its network averages their logits. The state owns them from here (disposed with it).
   */
  adoptMembers(members: readonly FusionState[]): void {
    const net = this.requireNetwork();
    for (const m of this.memberStates) if (!members.includes(m)) m.dispose();
    this.memberStates = [...members];
    net.setOtherMembers(members.map((m) => m.requireNetwork()));
  }

  /** @internal Members 1..N-1 of a restored ensemble, built untrained for their saved weights (after `build`). */
  buildMembers(options: BuildOptions = {}): void {
    const n = this.config.training.ensemble ?? 1;
    const members: FusionState[] = [];
    try {
      for (let k = 1; k < n; k++) members.push(this.createMember(k, options));
    } catch (err) {
      for (const m of members) m.dispose();
      throw err;
    }
    this.adoptMembers(members);
  }

  /** Free every weight (encoders and ensemble members included). */
  dispose(): void {
    this.scopeMemory = undefined;
    for (const m of this.memberStates) m.dispose();
    this.memberStates = [];
    this.network?.dispose();
    this.network = undefined;
    for (const e of this.encoders) e.dispose();
  }
}
