/**
 * The whole differentiable model: encoders (plugins) -> alignment -> fusion strategy -> head.
 * `forward` is synchronous and allocates only inside the caller's tidy / gradient scope.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, StateError } from '@mmfuse/core';
import type { EncoderOutput, ModalityEncoder, Rng, TensorMap } from '@mmfuse/core';
import { Alignment } from './alignment.js';
import type { ModalityTokens } from './alignment.js';
import { inputField } from './config.js';
import type { ResolvedConfig } from './config.js';
import { Head } from './heads.js';
import { Module } from './layers/module.js';
import { CrossAttentionFusion } from './strategies/cross-attention.js';
import { LateFusion } from './strategies/late.js';
import type { FusionStrategy } from './strategies/strategy.js';
import { blockPaths } from './strategies/strategy.js';
import { TransformerFusion } from './strategies/transformer.js';

/** A batch of prepared samples, grouped by input: `fields[m]` lists the batch rows that have input m. */
export interface BatchInput {
  size: number;
  fields: ({ rows: number[]; values: unknown[] } | null)[];
}

/** Group prepared samples (values[m] undefined = modality missing) into a `BatchInput`. */
export function toBatchInput(samples: readonly (readonly unknown[])[], inputs: number, drop?: number): BatchInput {
  const fields: BatchInput['fields'] = [];
  for (let m = 0; m < inputs; m++) {
    const rows: number[] = []; const values: unknown[] = [];
    if (m !== drop) {
      samples.forEach((s, r) => { const v = s[m]; if (v !== undefined) { rows.push(r); values.push(v); } });
    }
    fields.push(rows.length > 0 ? { rows, values } : null);
  }
  return { size: samples.length, fields };
}

/** Each row scaled to unit length (a zero row stays zero). In the caller's tidy scope. */
export function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return x.div(x.square().sum(1, true).sqrt().maximum(1e-12));
}

/** One input's encoder output in a forward pass: `output` covers the batch rows listed in `rows`. */
export interface EncodedInput {
  /** Batch rows (0-based) that have this input, in the order of `output`'s first axis. */
  rows: readonly number[];
  /** The encoder's features [rows, time, dim], mask [rows, time] and optional `aux` tensors. */
  output: EncoderOutput;
}

/** Options of `FusionNetwork.forward`. */
export interface ForwardOptions {
  /** Training mode: dropout, modality dropout and encoders' train-only behaviour. */
  training: boolean;
  /** Random stream for every mask; required while training with dropout. */
  rng?: Rng;
  /** Apply the configured modality dropout while training. Default true. */
  modalityDropout?: boolean;
}

export class FusionNetwork extends Module {
  readonly encoders: readonly ModalityEncoder[];
  readonly alignment: Alignment;
  readonly strategy: FusionStrategy;
  readonly head: Head;
  readonly modalityDropout: number;
  /** Width of the fused representation of one member (`fusion.dModel`). */
  readonly dModel: number;
  /** The sample field each input reads, as an index: inputs that read one field are one modality for modality dropout. */
  private readonly sourceOf: readonly number[];
  /** The other members of an ensemble (`training.ensemble`), each with its own encoders; empty for one model. */
  private others: readonly FusionNetwork[] = [];

  constructor(config: ResolvedConfig, encoders: readonly ModalityEncoder[], outDim: number, rng: Rng) {
    super();
    const f = config.fusion;
    const fields = Object.keys(config.inputs);
    this.encoders = encoders;
    this.modalityDropout = f.modalityDropout;
    this.dModel = f.dModel;
    const sources = fields.map((name) => inputField(name, config.inputs[name] as { field?: string }));
    this.sourceOf = sources.map((source) => sources.indexOf(source));
    this.alignment = this.child('alignment', new Alignment({
      dModel: f.dModel,
      inputs: fields.map((field, m) => {
        const input = config.inputs[field];
        return {
          field,
          inDim: (encoders[m] as ModalityEncoder).outputDim,
          ...(input?.maxTokens === undefined ? {} : { maxTokens: input.maxTokens }),
          ...(input?.project === undefined ? {} : { project: input.project }),
        };
      }),
    }, rng.fork('alignment')));
    const srng = rng.fork('strategy');
    const paths = blockPaths(f.strategy, f.layers, fields.length);
    for (const key of Object.keys(f.blockShapes ?? {})) {
      if (!paths.includes(key)) throw new ConfigError(`"${key}" is not a block of this ${f.strategy} fusion (blocks: ${paths.join(', ')})`, { path: `fusion.blockShapes.${key}` });
    }
    const common = { dModel: f.dModel, ffDim: f.ffDim, dropout: f.dropout, ...(f.blockShapes === undefined ? {} : { blockShapes: f.blockShapes }) };
    this.strategy = this.child('strategy',
      f.strategy === 'late' ? new LateFusion({ ...common, modalities: fields.length }, srng)
        : f.strategy === 'cross-attention' ? new CrossAttentionFusion({ ...common, modalities: fields.length, layers: f.layers, heads: f.heads }, srng)
          : new TransformerFusion({ ...common, layers: f.layers, heads: f.heads }, srng));
    this.head = this.child('head', new Head({ dModel: f.dModel, outDim }, rng.fork('head')));
  }

  /** Every weight the optimizer updates: each encoder's trainable weights, then the fusion weights. */
  get trainableWeights(): tf.Variable[] {
    return [...this.encoders.flatMap((e) => [...e.trainableWeights]), ...this.weights];
  }

  /**
   * Logits [B, outDim]. In training, modality dropout hides each present modality of each sample with
   * probability `modalityDropout`, always leaving one. A modality is a sample field: inputs that read one field
   * (e.g. `text/ngram` and `text/use` on `text`) are hidden together, as they are missing together in a request.
   */
  forward(batch: BatchInput, options: ForwardOptions): tf.Tensor2D {
    return this.others.length === 0 ? this.forwardMember(batch, options).logits : this.forwardEnsemble(batch, options, false).logits;
  }

  /**
   * `forward`, also returning each input's encoder output (null for an input no row has), for auxiliary
   * losses, and the fused representation [B, dModel] the head reads.
   */
  forwardWithEncoders(batch: BatchInput, options: ForwardOptions): { logits: tf.Tensor2D; encoded: (EncodedInput | null)[]; fused: tf.Tensor2D } {
    if (this.others.length === 0) return this.forwardMember(batch, options);
    const out = this.forwardEnsemble(batch, options, true);
    return { logits: out.logits, encoded: out.encoded, fused: out.fused as tf.Tensor2D };
  }

  /**
   * The ensemble's pass, in inference only: the mean of the members' logits and, with `withFused`, the members'
   * unit-length fused vectors side by side over sqrt(N) (so its cosine similarity is the mean of the members').
   * Each input is collated once, by member 0's encoder, for every member: the members' encoders hold the same
   * fitted state (`FusionState.createMember`) and `encode` never disposes its inputs (the plugin contract).
   */
  private forwardEnsemble(batch: BatchInput, options: ForwardOptions, withFused: boolean): { logits: tf.Tensor2D; encoded: (EncodedInput | null)[]; fused?: tf.Tensor2D } {
    if (options.training) throw new StateError(`this network is an ensemble of ${this.members} members, which train one at a time (training.ensemble); it cannot take a training step as a whole`);
    const collated = batch.fields.map((field, m) => (field === null ? null : (this.encoders[m] as ModalityEncoder).collate(field.values)));
    const outs = [this, ...this.others].map((net) => net.forwardMember(batch, options, collated));
    const n = outs.length;
    const logits = tf.addN(outs.map((o) => o.logits)).div(n) as tf.Tensor2D;
    const encoded = (outs[0] as { encoded: (EncodedInput | null)[] }).encoded;
    if (!withFused) return { logits, encoded };
    return { logits, encoded, fused: tf.concat(outs.map((o) => unitRows(o.fused)), 1).mul(1 / Math.sqrt(n)) as tf.Tensor2D };
  }

  /** Members of the ensemble this network answers for (1 for one model). */
  get members(): number {
    return 1 + this.others.length;
  }

  /** Width of the fused representation `forwardWithEncoders` returns: dModel, times the members of an ensemble. */
  get fusedDim(): number {
    return this.dModel * this.members;
  }

  /** The other members' networks (each over its own encoders), in member order. */
  get otherMembers(): readonly FusionNetwork[] {
    return this.others;
  }

  /**
   * @internal Make this network (member 0) answer for an ensemble with `others` (members 1..N-1). The networks
   * stay owned by their states; disposing this network does not dispose them.
   */
  setOtherMembers(others: readonly FusionNetwork[]): void {
    this.others = [...others];
  }

  /** One member's forward pass (this network's own encoders and weights), on `collated` inputs when given. */
  private forwardMember(batch: BatchInput, options: ForwardOptions, collated?: readonly (TensorMap | null)[]): { logits: tf.Tensor2D; encoded: (EncodedInput | null)[]; fused: tf.Tensor2D } {
    const b = batch.size;
    const keep = options.training && this.modalityDropout > 0 && options.modalityDropout !== false ? this.modalityKeep(batch, options.rng) : undefined;
    const encoded: (EncodedInput | null)[] = [];
    const tokens: (ModalityTokens | null)[] = batch.fields.map((field, m) => {
      if (field === null) { encoded.push(null); return null; }
      const enc = this.encoders[m] as ModalityEncoder;
      const inputs = collated?.[m] ?? enc.collate(field.values);
      const encRng = options.rng?.fork(`encoder${m}`);
      const out = enc.encode(inputs, encRng === undefined ? { training: options.training } : { training: options.training, rng: encRng });
      encoded.push({ rows: field.rows, output: out });
      return this.alignment.apply(m, out, field.rows, b, keep?.[m]);
    });
    const fused = this.strategy.apply(tokens, b, options.rng === undefined ? { training: options.training } : { training: options.training, rng: options.rng.fork('fusion') });
    return { logits: this.head.apply(fused), encoded, fused };
  }

  private modalityKeep(batch: BatchInput, rng: Rng | undefined): number[][] | undefined {
    if (rng === undefined) throw new ConfigError('FusionNetwork.forward: training with modalityDropout > 0 needs options.rng (a random stream)', { path: 'rng' });
    const r = rng.fork('modalityDropout');
    const keep = batch.fields.map(() => new Array<number>(batch.size).fill(1));
    for (let row = 0; row < batch.size; row++) {
      const inputs = batch.fields.flatMap((f, m) => (f !== null && f.rows.includes(row) ? [m] : []));
      // One draw per present field (the first input reading it stands for the field).
      const present = [...new Set(inputs.map((m) => this.sourceOf[m] as number))];
      if (present.length < 2) continue;
      const kept = present.filter(() => !r.bernoulli(this.modalityDropout));
      const survivor = kept.length > 0 ? undefined : present[r.int(present.length)];
      for (const m of inputs) {
        const source = this.sourceOf[m] as number;
        if (!kept.includes(source) && source !== survivor) (keep[m] as number[])[row] = 0;
      }
    }
    return keep;
  }
}
