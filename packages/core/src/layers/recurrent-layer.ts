/**
 * A stacked, optionally bidirectional LSTM or GRU over a padded batch, equivalent to PyTorch's
 * `nn.LSTM` / `nn.GRU` (batch-first) run on a packed sequence: weights in PyTorch's layout and names
 * (`weight_ih_l0`, `weight_hh_l0_reverse`, ...), so PyTorch weights load directly. Padding never leaks:
 * each sequence's outputs equal those of the sequence run alone, in both directions, and padded steps
 * output exactly 0.
 * Lives in core so every modality plugin (text/rnn, audio/phonetic) shares one implementation.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.js';
import { checkInteger, checkOneOf } from '../options.js';
import { dropout } from '../dropout.js';
import type { Rng } from '../random.js';
import type { OnnxGraphBuilder, OnnxValue } from '../onnx-graph.js';
import type { BuildOptions, PruningGroup, WeightDescription } from '../types.js';
import { seededVariable } from './seeded-variable.js';
import { gruLoop, lstmLoop, unstackAxis } from '../internal/recurrence.js';
import type { StackedOutput, StackedWeights } from '../internal/recurrence.js';

/** Recurrent cell type. */
export type RecurrentCell = 'lstm' | 'gru';

export interface RecurrentLayerArgs {
  /** `lstm` (gates i, f, g, o) or `gru` (gates r, z, n). */
  cell: RecurrentCell;
  /** Size of the last axis of the input. */
  inputSize: number;
  /** State size per direction. */
  hiddenSize: number;
  /** Stacked layers; layer k > 0 reads layer k − 1's (concatenated) outputs. Default 1. */
  numLayers?: number;
  /** Add a backward direction; outputs are [forward, backward] concatenated. Default `false`. */
  bidirectional?: boolean;
  /** Dropout on the input of layers 1..N−1 while training (as PyTorch's `dropout`). Default 0. */
  dropout?: number;
}

/** Options of {@link RecurrentLayer.apply}. */
export interface RecurrentApplyOptions {
  /** Enables inter-layer dropout. Default `false`. */
  training?: boolean;
  /** Random stream for dropout masks. */
  rng?: Rng;
}

/** Outputs of {@link RecurrentLayer.apply}, as PyTorch returns them. */
export type RecurrentOutput = {
  /** [B, T, hiddenSize × directions]; 0 at padded steps. */
  output: tf.Tensor3D;
  /** Final states [layers × directions, B, H] (a backward direction's final state is at step 0). */
  hN: tf.Tensor3D;
  /** Final cell states, LSTM only, same shape as `hN`. */
  cN?: tf.Tensor3D;
};

const SUFFIXES = ['', '_reverse'] as const;

export class RecurrentLayer {
  static readonly className = 'RecurrentLayer';
  readonly cell: RecurrentCell;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly dropout: number;
  private variables: Map<string, tf.Variable> | undefined;

  constructor(args: RecurrentLayerArgs) {
    checkOneOf(args.cell, 'cell', ['lstm', 'gru'] as const);
    checkInteger(args.inputSize, 'inputSize', 1);
    checkInteger(args.hiddenSize, 'hiddenSize', 1);
    const numLayers = checkInteger(args.numLayers ?? 1, 'layers', 1);
    const rate = args.dropout ?? 0;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new ConfigError(`must be a number >= 0 and < 1, got ${JSON.stringify(rate)}`, { path: 'dropout' });
    this.cell = args.cell;
    this.inputSize = args.inputSize;
    this.hiddenSize = args.hiddenSize;
    this.numLayers = numLayers;
    this.bidirectional = args.bidirectional ?? false;
    this.dropout = rate;
  }

  /** Gate count: 4 for LSTM, 3 for GRU. */
  get gates(): number {
    return this.cell === 'lstm' ? 4 : 3;
  }

  /** Size of the last axis of `output`. */
  get outputSize(): number {
    return this.hiddenSize * (this.bidirectional ? 2 : 1);
  }

  /** PyTorch parameter names in PyTorch's order (per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh). */
  get parameterNames(): string[] {
    const names: string[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      for (const s of SUFFIXES.slice(0, this.bidirectional ? 2 : 1)) {
        names.push(`weight_ih_l${l}${s}`, `weight_hh_l${l}${s}`, `bias_ih_l${l}${s}`, `bias_hh_l${l}${s}`);
      }
    }
    return names;
  }

  /** Create the weights, uniform in ±1/√H as PyTorch does (zeros with `weightsFollow`: a load assigns them next). Idempotent. */
  build(rng: Rng, options: BuildOptions = {}): void {
    if (this.variables !== undefined) return;
    const k = 1 / Math.sqrt(this.hiddenSize);
    const gh = this.gates * this.hiddenSize;
    const vars = new Map<string, tf.Variable>();
    for (const name of this.parameterNames) {
      const layer = Number(/_l(\d+)/.exec(name)?.[1]);
      const inSize = layer === 0 ? this.inputSize : this.outputSize;
      const shape = name.startsWith('weight_ih') ? [gh, inSize] : name.startsWith('weight_hh') ? [gh, this.hiddenSize] : [gh];
      vars.set(name, seededVariable(shape, { uniform: k }, rng.nextSeed(), options));
    }
    this.variables = vars;
  }

  /** Weights by PyTorch name. Throws before `build`. */
  get params(): ReadonlyMap<string, tf.Variable> {
    if (this.variables === undefined) throw new ConfigError('RecurrentLayer: call build() before using the weights');
    return this.variables;
  }

  /** Every weight in PyTorch's order (all trainable). Empty before `build`. */
  get weights(): tf.Variable[] {
    return this.variables === undefined ? [] : [...this.variables.values()];
  }

  /** Layer `layer`'s weights of every direction, stacked on a leading axis (forward first). */
  private stacked(layer: number): StackedWeights {
    const p = this.params;
    const suffixes = SUFFIXES.slice(0, this.bidirectional ? 2 : 1);
    const get = (name: string): tf.Tensor[] => suffixes.map((s) => p.get(`${name}_l${layer}${s}`) as tf.Tensor);
    return {
      weightIh: tf.stack(get('weight_ih')) as tf.Tensor3D,
      weightHh: tf.stack(get('weight_hh')) as tf.Tensor3D,
      biasIh: tf.stack(get('bias_ih')) as tf.Tensor2D,
      biasHh: tf.stack(get('bias_hh')) as tf.Tensor2D,
    };
  }

  /**
   * Run over `x` [B, T, inputSize] with `mask` [B, T] (1 = real step; each row must be a prefix of ones,
   * i.e. right padding). Call inside `tf.tidy` (or a gradient scope); inputs are not disposed.
   */
  apply(x: tf.Tensor3D, mask: tf.Tensor2D, options: RecurrentApplyOptions = {}): RecurrentOutput {
    if (x.rank !== 3 || x.shape[2] !== this.inputSize) {
      throw new ConfigError(`RecurrentLayer: input must be [batch, time, ${this.inputSize}], got [${x.shape.join(', ')}]`);
    }
    if (mask.rank !== 2 || mask.shape[0] !== x.shape[0] || mask.shape[1] !== x.shape[1]) {
      throw new ConfigError(`RecurrentLayer: mask must be [${x.shape[0]}, ${x.shape[1]}], got [${mask.shape.join(', ')}]`);
    }
    const run = this.cell === 'lstm' ? lstmLoop : gruLoop;
    // Both directions run in one loop: the backward direction reads the time-reversed batch, in which the
    // padding comes first; masked steps keep the zero initial state, so each sequence starts at its own
    // last real token.
    const masks = (this.bidirectional ? tf.stack([mask, tf.reverse(mask, 1)]) : mask.expandDims(0)) as tf.Tensor3D; // [G, B, T]
    const hs: tf.Tensor2D[] = [];
    const cs: tf.Tensor2D[] = [];
    let input = x;
    for (let l = 0; l < this.numLayers; l++) {
      if (l > 0 && options.training === true && this.dropout > 0) {
        input = dropout(input, this.dropout, true, options.rng);
      }
      const inputs = (this.bidirectional ? tf.stack([input, tf.reverse(input, 1)]) : input.expandDims(0)) as tf.Tensor4D; // [G, B, T, D]
      const out: StackedOutput = run(inputs, masks, this.stacked(l));
      hs.push(...(unstackAxis(out.h, 0) as tf.Tensor2D[]));
      if (out.c !== undefined) cs.push(...(unstackAxis(out.c, 0) as tf.Tensor2D[]));
      if (!this.bidirectional) {
        input = out.output.squeeze([0]) as tf.Tensor3D; // [B, T, H]
        continue;
      }
      const [fw, bw] = tf.unstack(out.output) as [tf.Tensor3D, tf.Tensor3D];
      input = tf.concat([fw, tf.reverse(bw, 1)], 2) as tf.Tensor3D; // [B, T, 2H]
    }
    const hN = tf.stack(hs, 0) as tf.Tensor3D; // [layers × dirs, B, H]
    return cs.length > 0 ? { output: input, hN, cN: tf.stack(cs, 0) as tf.Tensor3D } : { output: input, hN };
  }

  /**
   * Add the layer to an ONNX graph as ONNX `LSTM` / `GRU` ops (one per layer, both directions in one op,
   * `sequence_lens` = the lengths, so the backward direction starts at each sequence's last real step as
   * here). Gate rows are reordered from PyTorch's (i, f, g, o / r, z, n) to ONNX's (i, o, f, c / z, r, h);
   * the GRU uses `linear_before_reset`, PyTorch's form. x [B, T, inputSize] float32, lengths [B] int32,
   * mask [B, T] float32 (the prefix mask of the lengths). Returns the output [B, T, outputSize], exactly
   * 0 at padded steps as `apply`'s. Zero lengths run one step and are masked back to 0.
   */
  exportOnnx(g: OnnxGraphBuilder, x: OnnxValue, lengths: OnnxValue, mask: OnnxValue): OnnxValue {
    const p = this.params;
    const h = this.hiddenSize;
    const order = this.cell === 'lstm' ? [0, 3, 1, 2] : [1, 0, 2];
    const suffixes = SUFFIXES.slice(0, this.bidirectional ? 2 : 1);
    // Gate blocks of a PyTorch [K*H, ...] weight in ONNX order.
    const reorder = (v: tf.Variable): Float32Array => {
      const src = v.dataSync() as Float32Array;
      const block = src.length / this.gates;
      const out = new Float32Array(src.length);
      order.forEach((gate, i) => out.set(src.subarray(gate * block, (gate + 1) * block), i * block));
      return out;
    };
    const stack = (parts: Float32Array[]): Float32Array => {
      const out = new Float32Array(parts.reduce((a, q) => a + q.length, 0));
      let o = 0;
      for (const q of parts) { out.set(q, o); o += q.length; }
      return out;
    };
    const seqLens = g.op('Max', [g.op('Cast', [lengths], { to: 6 }), g.constant({ data: Int32Array.of(1), dims: [1] })]); // [B] int32, >= 1
    const maskTb = g.op('Unsqueeze', [g.op('Transpose', [mask], { perm: [1, 0] }), g.ints([2])]); // [T, B, 1]
    let input = g.op('Transpose', [x], { perm: [1, 0, 2] }); // [T, B, D]
    const kh = this.gates * h;
    for (let l = 0; l < this.numLayers; l++) {
      const inSize = l === 0 ? this.inputSize : this.outputSize;
      const get = (name: string): tf.Variable[] => suffixes.map((s) => p.get(`${name}_l${l}${s}`) as tf.Variable);
      const w = g.constant({ data: stack(get('weight_ih').map(reorder)), dims: [suffixes.length, kh, inSize] });
      const r = g.constant({ data: stack(get('weight_hh').map(reorder)), dims: [suffixes.length, kh, h] });
      const biasIh = get('bias_ih').map(reorder);
      const biasHh = get('bias_hh').map(reorder);
      const b = g.constant({ data: stack(suffixes.flatMap((_, d) => [biasIh[d] as Float32Array, biasHh[d] as Float32Array])), dims: [suffixes.length, 2 * kh] });
      const attrs = { hidden_size: h, direction: this.bidirectional ? 'bidirectional' : 'forward', ...(this.cell === 'gru' ? { linear_before_reset: 1 } : {}) };
      const [y] = g.ops(this.cell === 'lstm' ? 'LSTM' : 'GRU', [input, w, r, b, seqLens], 1, attrs) as [OnnxValue]; // [T, dirs, B, H]
      const joined = g.op('Reshape', [g.op('Transpose', [y], { perm: [0, 2, 1, 3] }), g.ints([0, 0, -1])]); // [T, B, dirs*H], forward first
      input = g.op('Mul', [joined, maskTb]); // padded steps exactly 0
    }
    return g.op('Transpose', [input], { perm: [1, 0, 2] }); // [B, T, outputSize]
  }

  /**
   * Compression descriptions of `weights` (in order): the [gates × H, in] and [gates × H, H] matrices have
   * their output channels (gate rows) on axis 0; biases stay float32.
   */
  describeWeights(prefix = ''): WeightDescription[] {
    return this.parameterNames.map((n) => ({ name: `${prefix}${n}`, outputAxis: n.startsWith('weight') ? 0 : null }));
  }

  /**
   * Structured-pruning groups: the hidden units of each layer and direction (`l0.hidden`, `l0_reverse.hidden`,
   * ...), all tied to one count because `hiddenSize` is shared. Unit u of layer l, direction d owns its
   * gate rows (g·H + u) of weight_ih, weight_hh, bias_ih and bias_hh, column u of weight_hh, and column
   * d·H + u of the next layer's weight_ih (both directions); on the last layer it feeds output feature
   * d·H + u. With all of them zero the unit's state stays 0 from its zero initial state (LSTM: g = 0 so
   * c = 0 and h = 0; GRU: n = 0 so h = z·h = 0) and nothing reads it, so removing it changes nothing.
   * `weightOffset` is the index of this layer's first weight in the owner's `weights`.
   */
  pruningGroups(weightOffset: number, prefix = ''): PruningGroup[] {
    const names = this.parameterNames;
    const index = (name: string): number => weightOffset + names.indexOf(name);
    const h = this.hiddenSize;
    const gates = this.gates;
    const suffixes = SUFFIXES.slice(0, this.bidirectional ? 2 : 1);
    const groups: PruningGroup[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      suffixes.forEach((s, d) => {
        const rows = (u: number): number[] => Array.from({ length: gates }, (_, g) => g * h + u);
        const slices: PruningGroup['slices'] = [
          { weight: index(`weight_ih_l${l}${s}`), axis: 0, indices: rows },
          { weight: index(`weight_hh_l${l}${s}`), axis: 0, indices: rows },
          { weight: index(`weight_hh_l${l}${s}`), axis: 1, indices: (u) => [u] },
          { weight: index(`bias_ih_l${l}${s}`), axis: 0, indices: rows },
          { weight: index(`bias_hh_l${l}${s}`), axis: 0, indices: rows },
        ];
        if (l + 1 < this.numLayers) {
          for (const s2 of suffixes) slices.push({ weight: index(`weight_ih_l${l + 1}${s2}`), axis: 1, indices: (u) => [d * h + u] });
        }
        const group: PruningGroup = { name: `${prefix}l${l}${s}.hidden`, size: h, slices, tie: `${prefix}hidden` };
        if (l + 1 === this.numLayers) group.outputFeatures = (u) => [d * h + u];
        groups.push(group);
      });
    }
    return groups;
  }

  /** Free the weights. */
  dispose(): void {
    if (this.variables !== undefined) for (const v of this.variables.values()) v.dispose();
    this.variables = undefined;
  }
}
