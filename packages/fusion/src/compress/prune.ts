/**
 * Structured pruning: removes whole units — attention heads and feed-forward neurons of every fusion block
 * (late fusion: its hidden neurons), and the units encoders declare (`pruningGroups`: conv channels,
 * recurrent hidden units) — and builds a genuinely smaller model (config updated, weights sliced), which is
 * faster on dense kernels. Every group keeps round((1 − ratio) × size) units (at least 1), chosen by
 * importance:
 *
 * - `taylor` (default with data): first-order Taylor estimate of the loss change when the unit is removed,
 *   |Σ_{w in unit} w · ∂L/∂w| per batch, summed over batches of training data (Molchanov et al., 2019), in
 *   inference mode;
 * - `norm`: the L2 norm of the unit's weights (no data needed).
 *
 * A unit owns slices of weights such that zeroing them all removes it exactly (an attention head's q, k, v
 * columns and output-projection rows; a neuron's first-layer column and bias and second-layer row; an
 * encoder unit's slices and, when it feeds the encoder output, the alignment projection's rows), so the
 * pruned model computes exactly what the original computes with those slices zeroed (`zeroPrunedUnits`).
 *
 * An ensemble (`training.ensemble`) is pruned member by member: each member's units are ranked on its own
 * weights (Taylor scores: on its own loss, not the ensemble's), and every member keeps the same count per group,
 * so the pruned members share one config as before.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, StateError, encoders as globalRegistry } from '@mmfuse/core';
import type { EncoderRegistry, JsonObject, JsonValue, ModalityEncoder, PruningGroup } from '@mmfuse/core';
import { normalizeConfig } from '../config.js';
import type { BlockShape, ResolvedConfig } from '../config.js';
import { MultiHeadAttention } from '../layers/multi-head-attention.js';
import { TransformerBlock } from '../layers/transformer-block.js';
import { toBatchInput } from '../network.js';
import { INFERENCE_BATCH } from '../infer.js';
import type { Target } from '../outputs/index.js';
import { FusionState } from '../state.js';
import { CrossAttentionFusion } from '../strategies/cross-attention.js';
import { LateFusion } from '../strategies/late.js';
import { TransformerFusion } from '../strategies/transformer.js';
import type { PreparedSet } from './data.js';

export type Importance = 'taylor' | 'norm';

/** A slice of a saved weight (by name) that a unit owns. */
interface Slice { weight: string; axis: number; indices(unit: number): number[] }

/** A prunable group over saved weight names. */
interface Group {
  /** `fusion.block0.heads`, `fusion.block0.ffn`, `fusion.hidden`, `encoders.<field>:<encoder group>`. */
  name: string;
  size: number;
  slices: Slice[];
  tie?: string;
  /** Where the kept count goes in the config. */
  target: { kind: 'block'; path: string; key: keyof BlockShape } | { kind: 'encoder'; field: string; group: string };
}

export interface PrunedGroup {
  name: string;
  size: number;
  /** Kept unit indices, ascending. */
  kept: number[];
  /** Importance of every unit (higher = more important). */
  scores: number[];
}

/** Which units of which groups a pruning removes: from `planStructuredPruning`, input to `pruneStructured` and `zeroPrunedUnits`. */
export interface StructuredPrunePlan {
  ratio: number;
  importance: Importance;
  groups: PrunedGroup[];
  /** Inputs whose encoders are kept whole, and why (no pruning groups declared, `project: false`). */
  skippedInputs: { field: string; reason: string }[];
  /**
   * An ensemble's members 1..N-1 (`training.ensemble`), each planned on its own weights (and, with Taylor
   * scores, its own loss); `groups` above are member 0's. Every member keeps the same number of units per group,
   * so all members keep one shape, but each its own units.
   */
  members?: StructuredPrunePlan[];
}

export interface StructuredPruneOptions {
  /** Share of every group's units to remove, in (0, 1). */
  ratio: number;
  /** Default `taylor` when `data` is given, else `norm`. */
  importance?: Importance;
  /** Labeled samples for Taylor scores (only labeled ones are used). */
  data?: PreparedSet;
  /** Most samples used for Taylor scores. Default 512. */
  maxSamples?: number;
  /** Prune the encoders' declared groups too. Default true. */
  encoders?: boolean;
}

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

function blockGroups(prefix: string, path: string, block: TransformerBlock): Group[] {
  const attn = block.attn as MultiHeadAttention;
  const hd = attn.headDim;
  const inner = attn.inner;
  const at = `${prefix}${path}.`;
  const headCols = (h: number): number[] => [...range(h * hd, hd), ...range(inner + h * hd, hd), ...range(2 * inner + h * hd, hd)];
  return [
    {
      name: `fusion.${path}.heads`, size: attn.heads, target: { kind: 'block', path, key: 'heads' },
      slices: [
        { weight: `${at}attn.inKernel`, axis: 1, indices: headCols },
        { weight: `${at}attn.inBias`, axis: 0, indices: headCols },
        { weight: `${at}attn.out.kernel`, axis: 0, indices: (h) => range(h * hd, hd) },
      ],
    },
    {
      name: `fusion.${path}.ffn`, size: block.ff.linear1.outDim, target: { kind: 'block', path, key: 'ffDim' },
      slices: [
        { weight: `${at}ff.linear1.kernel`, axis: 1, indices: (j) => [j] },
        { weight: `${at}ff.linear1.bias`, axis: 0, indices: (j) => [j] },
        { weight: `${at}ff.linear2.kernel`, axis: 0, indices: (j) => [j] },
      ],
    },
  ];
}

/** The fusion strategy's groups (blocks' heads and neurons, or late fusion's hidden neurons). */
function fusionGroups(state: FusionState): Group[] {
  const strategy = state.requireNetwork().strategy;
  const prefix = 'fusion.strategy.';
  if (strategy instanceof TransformerFusion) return strategy.blocks.flatMap((b, i) => blockGroups(prefix, `block${i}`, b));
  if (strategy instanceof CrossAttentionFusion) return strategy.streams.flatMap((blocks, m) => blocks.flatMap((b, l) => blockGroups(prefix, `stream${m}.block${l}`, b)));
  if (strategy instanceof LateFusion) {
    return [{
      name: 'fusion.hidden', size: strategy.hidden.outDim, target: { kind: 'block', path: 'hidden', key: 'ffDim' },
      slices: [
        { weight: `${prefix}hidden.kernel`, axis: 1, indices: (j) => [j] },
        { weight: `${prefix}hidden.bias`, axis: 0, indices: (j) => [j] },
        { weight: `${prefix}out.kernel`, axis: 0, indices: (j) => [j] },
      ],
    }];
  }
  return [];
}

/** The encoders' declared groups over saved names; an output-feeding unit also owns its alignment projection rows. */
function encoderGroups(state: FusionState, skipped: { field: string; reason: string }[]): Group[] {
  const net = state.requireNetwork();
  return state.encoders.flatMap((enc: ModalityEncoder, m) => {
    const field = state.fields[m] as string;
    if (enc.weights.length === 0) return [];
    if (enc.pruningGroups === undefined || enc.prunedOptions === undefined) {
      skipped.push({ field, reason: `encoder ${enc.kind} declares no pruning groups` });
      return [];
    }
    const declared: PruningGroup[] = enc.pruningGroups();
    const projection = net.alignment.projections[m];
    if (declared.some((g) => g.outputFeatures !== undefined) && (projection === null || projection === undefined)) {
      skipped.push({ field, reason: 'project: false fixes the encoder output width to dModel' });
      return [];
    }
    return declared.map((g): Group => {
      g.slices.forEach((s) => {
        if (!Number.isInteger(s.weight) || s.weight < 0 || s.weight >= enc.weights.length) throw new StateError(`encoder ${enc.kind}: pruning group ${g.name} names weight ${s.weight}, which it does not have`);
      });
      const slices: Slice[] = g.slices.map((s) => ({ weight: `encoders.${field}.${s.weight}`, axis: s.axis, indices: s.indices }));
      if (g.outputFeatures !== undefined) slices.push({ weight: `fusion.alignment.projection${m}.kernel`, axis: 0, indices: g.outputFeatures });
      const group: Group = { name: `encoders.${field}:${g.name}`, size: g.size, slices, target: { kind: 'encoder', field, group: g.name } };
      if (g.tie !== undefined) group.tie = `encoders.${field}:${g.tie}`;
      return group;
    });
  });
}

/** Flat offsets of the elements of `indices` along `axis` of a row-major `shape`. */
function offsetsOf(shape: readonly number[], axis: number, indices: readonly number[]): number[] {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape[axis] as number;
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const i of indices) for (let k = 0; k < inner; k++) out.push((o * n + i) * inner + k);
  return out;
}

interface Resolved { group: Group; offsets: number[][][] } // [unit][slice] flat offsets

function resolveOffsets(groups: readonly Group[], shapes: ReadonlyMap<string, number[]>): Resolved[] {
  return groups.map((group) => ({
    group,
    offsets: range(0, group.size).map((u) => group.slices.map((s) => {
      const shape = shapes.get(s.weight);
      if (shape === undefined) throw new StateError(`pruning group ${group.name} names weight ${s.weight}, which the model does not have`);
      const idx = s.indices(u);
      const n = shape[s.axis] as number;
      if (idx.some((i) => !Number.isInteger(i) || i < 0 || i >= n)) throw new StateError(`pruning group ${group.name}: unit ${u} names an index outside axis ${s.axis} of ${s.weight} [${shape.join(', ')}]`);
      return offsetsOf(shape, s.axis, idx);
    })),
  }));
}

function normScores(resolved: readonly Resolved[], values: ReadonlyMap<string, Float32Array>): number[][] {
  return resolved.map(({ group, offsets }) => offsets.map((unit) => {
    let sum = 0;
    unit.forEach((offs, s) => {
      const w = values.get((group.slices[s] as Slice).weight) as Float32Array;
      for (const o of offs) sum += (w[o] as number) ** 2;
    });
    return Math.sqrt(sum);
  }));
}

/** Σ over batches of |Σ_{w in unit} w · ∂L/∂w|, with L the head loss in inference mode. */
function taylorScores(state: FusionState, resolved: readonly Resolved[], values: ReadonlyMap<string, Float32Array>, data: PreparedSet, maxSamples: number): number[][] {
  const labeled = data.targets.flatMap((t, i) => (t === undefined ? [] : [i])).slice(0, maxSamples);
  if (labeled.length === 0) throw new ConfigError('taylor importance needs labeled samples (the output field); give labeled data or use importance "norm"', { path: 'importance' });
  const net = state.requireNetwork();
  const output = state.requireOutput();
  const named = state.namedWeights();
  const wanted = new Set(resolved.flatMap((r) => r.group.slices.map((s) => s.weight)));
  const vars = named.filter(([name]) => wanted.has(name));
  const scores = resolved.map((r) => new Array<number>(r.group.size).fill(0));
  for (let start = 0; start < labeled.length; start += INFERENCE_BATCH) {
    const rows = labeled.slice(start, start + INFERENCE_BATCH);
    const input = toBatchInput(rows.map((i) => data.values[i] as unknown[]), state.fields.length);
    const targets = output.encode(rows.map((i) => data.targets[i] as Target));
    const { value, grads } = tf.variableGrads(() => output.loss(net.forward(input, { training: false }), targets), vars.map(([, v]) => v));
    const products = new Map<string, Float32Array>();
    for (const [name, v] of vars) {
      const g = grads[v.name];
      const gv = g === undefined ? new Float32Array(v.size) : (g.dataSync() as Float32Array);
      const w = values.get(name) as Float32Array;
      products.set(name, w.map((x, i) => x * (gv[i] as number)));
    }
    tf.dispose([value, ...Object.values(grads)]);
    resolved.forEach(({ group, offsets }, gi) => offsets.forEach((unit, u) => {
      let sum = 0;
      unit.forEach((offs, s) => {
        const p = products.get((group.slices[s] as Slice).weight) as Float32Array;
        for (const o of offs) sum += p[o] as number;
      });
      (scores[gi] as number[])[u] = ((scores[gi] as number[])[u] as number) + Math.abs(sum);
    }));
  }
  return scores;
}

/**
 * Take an ensemble's members 1..N-1 out while `fn` runs on member 0 and on each of them (`fn(member, k)`, k = 0
 * for member 0), then put them back; one model runs `fn(state, 0)` only.
 */
function perMember<T>(state: FusionState, fn: (member: FusionState, k: number) => T): T[] {
  if (state.members === 1) return [fn(state, 0)];
  const others = state.detachMembers();
  try {
    return [fn(state, 0), ...others.map((m, j) => fn(m, j + 1))];
  } finally {
    state.adoptMembers(others);
  }
}

/** The plan of member k (0: the plan itself), checked against the ensemble's size. */
function memberPlan(plan: StructuredPrunePlan, k: number, members: number): StructuredPrunePlan {
  const n = 1 + (plan.members?.length ?? 0);
  if (n !== members) throw new StateError(`the pruning plan is for ${n === 1 ? 'one model' : `an ensemble of ${n}`}, and this model ${members === 1 ? 'is one model' : `is an ensemble of ${members}`}`);
  return k === 0 ? plan : (plan.members as StructuredPrunePlan[])[k - 1] as StructuredPrunePlan;
}

/**
 * Decide which units of every group stay (for an ensemble: in every member). Reads weights (and, for Taylor
 * scores, runs the data); changes nothing.
 */
export function planStructuredPruning(state: FusionState, options: StructuredPruneOptions): StructuredPrunePlan {
  const [own, ...members] = perMember(state, (member) => planOne(member, options));
  return members.length === 0 ? own as StructuredPrunePlan : { ...own as StructuredPrunePlan, members };
}

function planOne(state: FusionState, options: StructuredPruneOptions): StructuredPrunePlan {
  const ratio = options.ratio;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) throw new ConfigError(`must be a number between 0 and 1 (the share of units removed), got ${ratio}`, { path: 'ratio' });
  const importance = options.importance ?? (options.data !== undefined ? 'taylor' : 'norm');
  if (importance !== 'taylor' && importance !== 'norm') throw new ConfigError(`must be "taylor" or "norm", got ${JSON.stringify(importance)}`, { path: 'importance' });
  if (importance === 'taylor' && options.data === undefined) throw new ConfigError('taylor importance needs training data', { path: 'importance' });
  const skippedInputs: { field: string; reason: string }[] = [];
  const groups = [...fusionGroups(state), ...(options.encoders === false ? [] : encoderGroups(state, skippedInputs))];
  const values = new Map(state.namedWeights().map(([name, v]) => [name, v.dataSync() as Float32Array]));
  const shapes = new Map(state.namedWeights().map(([name, v]) => [name, [...v.shape]]));
  const resolved = resolveOffsets(groups, shapes);
  const scores = importance === 'taylor' ? taylorScores(state, resolved, values, options.data as PreparedSet, options.maxSamples ?? 512) : normScores(resolved, values);
  const planned = groups.map((g, i): PrunedGroup => {
    const keep = Math.max(1, Math.round(g.size * (1 - ratio)));
    const s = scores[i] as number[];
    const kept = range(0, g.size).sort((a, b) => (s[b] as number) - (s[a] as number) || a - b).slice(0, keep).sort((a, b) => a - b);
    return { name: g.name, size: g.size, kept, scores: s };
  });
  // Tied groups keep one count (they have one size, so the same keep count already).
  return { ratio, importance, groups: planned, skippedInputs };
}

function groupsOf(state: FusionState, plan: StructuredPrunePlan): { group: Group; planned: PrunedGroup }[] {
  const groups = [...fusionGroups(state), ...encoderGroups(state, [])];
  return plan.groups.map((planned) => {
    const group = groups.find((g) => g.name === planned.name);
    if (group === undefined || group.size !== planned.size) throw new StateError(`the pruning plan's group ${planned.name} does not fit this model`);
    return { group, planned };
  });
}

/**
 * The masked computation of a plan: zero, in place, every slice of every removed unit (the model keeps its
 * shapes; an ensemble's members each by their own plan).
 */
export function zeroPrunedUnits(state: FusionState, plan: StructuredPrunePlan): void {
  const n = state.members;
  perMember(state, (member, k) => zeroOne(member, memberPlan(plan, k, n)));
}

function zeroOne(state: FusionState, plan: StructuredPrunePlan): void {
  const named = new Map(state.namedWeights());
  const values = new Map([...named].map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
  const shapes = new Map([...named].map(([name, v]) => [name, [...v.shape]]));
  for (const { group, planned } of groupsOf(state, plan)) {
    const kept = new Set(planned.kept);
    for (let u = 0; u < group.size; u++) {
      if (kept.has(u)) continue;
      for (const s of group.slices) {
        const w = values.get(s.weight) as Float32Array;
        for (const o of offsetsOf(shapes.get(s.weight) as number[], s.axis, s.indices(u))) w[o] = 0;
      }
    }
  }
  tf.tidy(() => { for (const [name, v] of named) v.assign(tf.tensor(values.get(name) as Float32Array, v.shape, 'float32')); });
}

/** Keep the `kept[axis]` indices of each listed axis of a row-major tensor. */
function sliceAxes(values: Float32Array, shape: readonly number[], keep: ReadonlyMap<number, number[]>): { values: Float32Array; shape: number[] } {
  let data = values;
  let dims = [...shape];
  for (const [axis, idx] of [...keep].sort((a, b) => a[0] - b[0])) {
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const n = dims[axis] as number;
    const out = new Float32Array(outer * idx.length * inner);
    let p = 0;
    for (let o = 0; o < outer; o++) for (const i of idx) { out.set(data.subarray((o * n + i) * inner, (o * n + i + 1) * inner), p); p += inner; }
    data = out;
    dims = [...dims.slice(0, axis), idx.length, ...dims.slice(axis + 1)];
  }
  return { values: data, shape: dims };
}

function jsonCopy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * A new, smaller state from a plan: the config with the kept sizes (`fusion.blockShapes`, the encoders'
 * pruned options), the same fitted output and encoder states, and every weight sliced to the kept units.
 * An ensemble's members are pruned each by its own plan (`plan.members`), and the new member 0 answers for the
 * pruned members. The original state is left as it was. A model with an `energy+nearest` out-of-scope score loses its memory
 * (its fused vectors no longer describe the pruned network): fine-tune it (`runTraining`), which refits the
 * memory and the threshold, before predicting.
 */
export function pruneStructured(state: FusionState, plan: StructuredPrunePlan, options: { registry?: EncoderRegistry } = {}): FusionState {
  const n = state.members;
  const pruned: FusionState[] = [];
  try {
    perMember(state, (member, k) => pruned.push(pruneOne(member, memberPlan(plan, k, n), options)));
    const [head, ...others] = pruned as [FusionState, ...FusionState[]];
    if (others.length > 0) head.adoptMembers(others);
    return head;
  } catch (err) {
    for (const p of pruned) p.dispose();
    throw err;
  }
}

function pruneOne(state: FusionState, plan: StructuredPrunePlan, options: { registry?: EncoderRegistry }): FusionState {
  const pairs = groupsOf(state, plan);
  const config: ResolvedConfig = jsonCopy(state.config);
  const shapes: Record<string, BlockShape> = { ...(config.fusion.blockShapes ?? {}) };
  const keptByEncoder = new Map<string, Record<string, number>>();
  for (const { group, planned } of pairs) {
    const t = group.target;
    if (t.kind === 'block') shapes[t.path] = { ...shapes[t.path], [t.key]: planned.kept.length };
    else keptByEncoder.set(t.field, { ...keptByEncoder.get(t.field), [t.group]: planned.kept.length });
  }
  if (Object.keys(shapes).length > 0) config.fusion.blockShapes = shapes;
  for (const [field, kept] of keptByEncoder) {
    const m = state.fields.indexOf(field);
    const enc = state.encoders[m] as ModalityEncoder;
    const patch = (enc.prunedOptions as NonNullable<ModalityEncoder['prunedOptions']>)(kept);
    const input = config.inputs[field] as ResolvedConfig['inputs'][string];
    for (const [k, v] of Object.entries(patch)) {
      input.encoder[k] = v as JsonValue;
      if (input.preprocessing !== undefined) delete (input.preprocessing as JsonObject)[k];
    }
  }
  const pruned = FusionState.create(normalizeConfig(config, { registry: options.registry ?? globalRegistry }), options.registry ?? globalRegistry);
  try {
    pruned.output = state.outputKind.restore(state.requireOutput().toJSON(), state.config.output.field);
    pruned.encoders.forEach((e, m) => e.setState((state.encoders[m] as ModalityEncoder).getState()));
    pruned.build();
    // Kept indices per weight and axis: the intersection over every group slicing that axis.
    const keep = new Map<string, Map<number, number[]>>();
    const oldNamed = new Map(state.namedWeights());
    for (const { group, planned } of pairs) {
      const kept = new Set(planned.kept);
      for (const s of group.slices) {
        const shape = (oldNamed.get(s.weight) as tf.Variable).shape;
        const removed = new Set(range(0, group.size).filter((u) => !kept.has(u)).flatMap((u) => s.indices(u)));
        const axes = keep.get(s.weight) ?? new Map<number, number[]>();
        const current = axes.get(s.axis) ?? range(0, shape[s.axis] as number);
        axes.set(s.axis, current.filter((i) => !removed.has(i)));
        keep.set(s.weight, axes);
      }
    }
    const newNamed = pruned.namedWeights();
    if (newNamed.length !== oldNamed.size) throw new StateError(`the pruned model has ${newNamed.length} weights, the original ${oldNamed.size}`);
    tf.tidy(() => {
      for (const [name, v] of newNamed) {
        const old = oldNamed.get(name);
        if (old === undefined) throw new StateError(`the pruned model has a weight ${name} that the original does not`);
        const sliced = sliceAxes(old.dataSync() as Float32Array, old.shape, keep.get(name) ?? new Map());
        if (sliced.shape.join('x') !== v.shape.join('x')) throw new StateError(`weight ${name}: slicing [${old.shape}] gave [${sliced.shape}], the pruned model expects [${v.shape}] (an encoder's pruningGroups and prunedOptions disagree)`);
        v.assign(tf.tensor(sliced.values, v.shape, 'float32'));
      }
    });
  } catch (err) {
    pruned.dispose();
    throw err;
  }
  return pruned;
}
