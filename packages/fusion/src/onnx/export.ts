/**
 * ONNX export of a trained `FusionState`: every encoder's tensor part (through its `exportOnnx`), the
 * alignment, the fusion strategy and the head as one graph with a dynamic batch (and per-input time)
 * dimension and one presence mask per input, so any subset of the inputs is answered as mmfuse answers it.
 *
 * Graph inputs, per input field F: its encoder's `collate` tensors as `F.<key>` (same dtypes and layouts),
 * and `F.present` [batch] float32 (1 = the row has F; an absent row's tensors may hold anything finite,
 * e.g. zeros). Output: `logits` [batch, outDim] float32, the head output (softmax / sigmoid / target
 * statistics are applied by the runtime, as `FittedOutput.values` does). The model's `metadata_props`
 * hold `mmfuse` (JSON, `OnnxModelMetadata`): the config, every encoder's kind, config and fitted state, the
 * fitted output and each graph input, so a runtime rebuilds the preparation (tokenizers, features) from
 * the file alone.
 */
import { ConfigError } from '@mmfuse/core';
import type { JsonObject, ModalityEncoder, OnnxGraphBuilder, OnnxValue } from '@mmfuse/core';
import type { ResolvedConfig } from '../config.js';
import type { SavedOutput } from '../outputs/index.js';
import { sinusoidalTable } from '../layers/positional-encoding.js';
import type { FusionState, ScopeMemory } from '../state.js';
import { CrossAttentionFusion } from '../strategies/cross-attention.js';
import { LateFusion } from '../strategies/late.js';
import { TransformerFusion } from '../strategies/transformer.js';
import type { Alignment } from '../alignment.js';
import { OnnxGraph } from './graph-builder.js';
import type { GraphInputSpec } from './graph-builder.js';
import { blockOnnx, geluOnnx, layerNormOnnx, linearOnnx, maskedMeanOnnx } from './layers.js';

export const ONNX_METADATA_KEY = 'mmfuse';
export const ONNX_FORMAT = 'mmfuse-onnx';
export const ONNX_FORMAT_VERSION = 1;
/** Name of the graph output. */
export const LOGITS = 'logits';
/** The graph output of each row's nearest in-scope similarity (models with an `energy+nearest` out-of-scope score). */
export const NEAREST = 'nearest';

/** x / max(|x|, 1e-12) row by row (as `unitRows`). */
function unitRowsOnnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
  const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [x, x]), g.ints([1])], { keepdims: 1 })]);
  return g.op('Div', [x, g.op('Max', [norm, g.floats(1e-12, [])])]);
}

/** unit(fused) · memoryᵀ, its maximum per row: [batch] (as `nearestSimilarity`). */
function nearestOnnx(g: OnnxGraph, fused: OnnxValue, memory: ScopeMemory): OnnxValue {
  const transposed = new Float32Array(memory.rows * memory.dim);
  for (let r = 0; r < memory.rows; r++) for (let c = 0; c < memory.dim; c++) transposed[c * memory.rows + r] = memory.data[r * memory.dim + c] as number;
  const sims = g.op('MatMul', [unitRowsOnnx(g, fused), g.constant({ data: transposed, dims: [memory.dim, memory.rows] }, 'memory')]);
  return g.op('ReduceMax', [sims], { axes: [1], keepdims: 0 });
}

/** One input field of an exported graph. */
export interface OnnxInputMetadata {
  field: string;
  modality: string;
  /** Encoder registry kind, config and fitted state (to rebuild `prepare` and `collate`). */
  kind: string;
  config: JsonObject;
  state: JsonObject;
  /** Graph name of the presence mask [batch] float32. */
  present: string;
  /** The encoder's `collate` tensors, in declaration order. */
  tensors: GraphInputSpec[];
}

/** What an exported model's `metadata_props["mmfuse"]` holds. */
export interface OnnxModelMetadata {
  format: typeof ONNX_FORMAT;
  version: number;
  config: ResolvedConfig;
  output: SavedOutput;
  inputs: OnnxInputMetadata[];
  /** Graph output name and width. */
  logits: { name: string; outDim: number };
  /**
   * With an `energy+nearest` out-of-scope score: the graph output [batch] holding each row's cosine
   * similarity to its nearest in-scope training sample (the memory is a constant of the graph).
   */
  nearest?: { name: string; samples: number };
  /** The batch dimension's name. */
  batch: string;
  /** Integer kernels (`int8`) or float32 (null). */
  quantize: 'int8' | null;
  opset: number;
}

export interface OnnxExportOptions {
  /** `int8`: integer kernels for every dense product, int8 embedding rows. Default null (float32). */
  quantize?: 'int8' | null;
}

export interface OnnxExport {
  /** The encoded ModelProto. */
  bytes: Uint8Array;
  metadata: OnnxModelMetadata;
}

/** Positions [T, d] for the aligned tokens x [B, T, d]: a stored table when T is bounded, else computed in the graph. */
function positionsOnnx(g: OnnxGraphBuilder, x: OnnxValue, d: number, bound: number | undefined): OnnxValue {
  const steps = g.op('Gather', [g.op('Shape', [x]), g.ints([1])], { axis: 0 }); // [1] int64
  if (bound !== undefined) {
    return g.op('Slice', [g.constant({ data: sinusoidalTable(bound, d), dims: [bound, d] }, 'positions'), g.ints([0]), steps, g.ints([0])]); // [T, d]
  }
  // PE[pos, 2i] = sin(pos div_i), PE[pos, 2i+1] = cos(pos div_i), div_i = exp(-2i ln(10000) / d).
  const div = Float32Array.from({ length: d / 2 }, (_, i) => Math.exp(2 * i * (-Math.log(10000) / d)));
  const pos = g.op('Cast', [g.op('Range', [g.ints(0, []), g.op('Squeeze', [steps, g.ints([0])]), g.ints(1, [])])], { to: 1 }); // [T]
  const angles = g.op('Mul', [g.op('Unsqueeze', [pos, g.ints([1])]), g.constant({ data: div, dims: [1, d / 2] }, 'div_term')]); // [T, d/2]
  const pair = g.op('Concat', [g.op('Unsqueeze', [g.op('Sin', [angles]), g.ints([2])]), g.op('Unsqueeze', [g.op('Cos', [angles]), g.ints([2])])], { axis: 2 }); // [T, d/2, 2]
  return g.op('Reshape', [pair, g.ints([-1, d])]); // [T, d], sin and cos interleaved
}

/**
 * Each sample capped at `cap` tokens (as `capTokens`), in the graph: a sample with L real steps is
 * mean-pooled over windows of ceil(L / cap) of its own steps (stride 1 when L <= cap), by one batched product
 * with the window weights [B, min(cap, T), T]. Tokens past a sample's own count are masked.
 */
function poolOnnx(g: OnnxGraphBuilder, features: OnnxValue, mask: OnnxValue, cap: number): { features: OnnxValue; mask: OnnxValue } {
  const t = g.op('Gather', [g.op('Shape', [features]), g.ints([1])], { axis: 0 }); // [1] int64
  const lengths = g.op('Cast', [g.op('ReduceSum', [mask, g.ints([1])], { keepdims: 1 })], { to: 7 }); // [B, 1] int64: real steps
  const stride = g.op('Max', [g.op('Div', [g.op('Add', [lengths, g.ints([cap - 1])]), g.ints([cap])]), g.ints([1])]); // [B, 1]: max(1, ceil(L / cap))
  const steps = g.op('Range', [g.ints(0, []), g.op('Squeeze', [t, g.ints([0])]), g.ints(1, [])]); // [T]
  const window = g.op('Div', [g.op('Unsqueeze', [steps, g.ints([0])]), stride]); // [B, T]: each step's window
  const tokens = g.op('Min', [t, g.ints([cap])]); // [1]
  const slots = g.op('Range', [g.ints(0, []), g.op('Squeeze', [tokens, g.ints([0])]), g.ints(1, [])]); // [T']
  const member = g.op('Mul', [
    g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [window, g.ints([1])]), g.op('Unsqueeze', [slots, g.ints([0, 2])])])], { to: 1 }), // [B, T', T]
    g.op('Unsqueeze', [mask, g.ints([1])]),
  ]);
  const counts = g.op('ReduceSum', [member, g.ints([2])], { keepdims: 1 }); // [B, T', 1]
  return {
    features: g.op('MatMul', [g.op('Div', [member, g.op('Max', [counts, g.floats(1, [])])]), features]), // [B, T', D]
    mask: g.op('Cast', [g.op('Greater', [g.op('Squeeze', [counts, g.ints([2])]), g.floats(0, [])])], { to: 1 }),
  };
}

interface AlignedTokens { x: OnnxValue; mask: OnnxValue }

function alignOnnx(g: OnnxGraphBuilder, alignment: Alignment, m: number, enc: { features: OnnxValue; mask: OnnxValue; maxSteps?: number }, present: OnnxValue): AlignedTokens {
  let { features, mask } = enc;
  const cap = alignment.maxTokens[m];
  if (cap !== undefined) ({ features, mask } = poolOnnx(g, features, mask, cap));
  const proj = alignment.projections[m];
  let x = proj === null || proj === undefined ? features : linearOnnx(g, proj, features); // [B, T, d]
  // Absent rows: zero tokens and an all-zero mask, as the scatter of `Alignment.apply` leaves them.
  x = g.op('Mul', [x, g.op('Unsqueeze', [present, g.ints([1, 2])])]);
  mask = g.op('Mul', [mask, g.op('Unsqueeze', [present, g.ints([1])])]);
  const d = alignment.dModel;
  const emb = g.op('Gather', [g.constant(alignment.modalityEmbedding, 'modality_embedding'), g.ints(m, [])], { axis: 0 }); // [d]
  const bound = cap === undefined ? enc.maxSteps : Math.min(cap, enc.maxSteps ?? cap);
  x = g.op('Add', [g.op('Add', [x, emb]), positionsOnnx(g, x, d, bound)]);
  return { x, mask };
}

/** [B, 1, d] copies of a [d] vector (the [CLS] or null token), B taken from `like` [B, ...]. */
function perRow(g: OnnxGraphBuilder, vector: OnnxValue, like: OnnxValue, d: number): OnnxValue {
  const b = g.op('Gather', [g.op('Shape', [like]), g.ints([0])], { axis: 0 }); // [1]
  return g.op('Expand', [g.op('Reshape', [vector, g.ints([1, 1, d])]), g.op('Concat', [b, g.ints([1, d])], { axis: 0 })]);
}

/** [B, 1] of ones, B taken from `like`. */
function onesColumn(g: OnnxGraphBuilder, like: OnnxValue): OnnxValue {
  const b = g.op('Gather', [g.op('Shape', [like]), g.ints([0])], { axis: 0 });
  return g.op('Expand', [g.floats(1, [1, 1]), g.op('Concat', [b, g.ints([1])], { axis: 0 })]);
}

function strategyOnnx(g: OnnxGraph, state: FusionState, tokens: AlignedTokens[], like: OnnxValue): OnnxValue {
  const strategy = state.requireNetwork().strategy;
  const d = state.config.fusion.dModel;
  if (strategy instanceof TransformerFusion) {
    const cls = perRow(g, g.constant(strategy.cls, 'cls'), like, d);
    let x = g.op('Concat', [cls, ...tokens.map((t) => t.x)], { axis: 1 }); // [B, 1 + sum T, d]
    const mask = g.op('Concat', [onesColumn(g, like), ...tokens.map((t) => t.mask)], { axis: 1 });
    strategy.blocks.forEach((block, i) => { x = g.scoped(`block${i}.`, () => blockOnnx(g, block, x, mask)); });
    const out = layerNormOnnx(g, strategy.norm, x);
    return g.op('Gather', [out, g.ints(0, [])], { axis: 1 }); // [B, d]: the [CLS] token
  }
  if (strategy instanceof LateFusion) {
    const z = g.op('Concat', tokens.map((t) => maskedMeanOnnx(g, t.x, t.mask)), { axis: 1 }); // [B, M*d]
    return layerNormOnnx(g, strategy.norm, linearOnnx(g, strategy.out, geluOnnx(g, linearOnnx(g, strategy.hidden, z))));
  }
  if (strategy instanceof CrossAttentionFusion) {
    const nul = perRow(g, g.constant(strategy.nullToken, 'null_token'), like, d);
    const ones = onesColumn(g, like);
    const pooled = tokens.map((target, m) => g.scoped(`stream${m}.`, () => {
      const others = tokens.filter((_, n) => n !== m);
      const context = g.op('Concat', [nul, ...others.map((t) => t.x)], { axis: 1 });
      const ctxMask = g.op('Concat', [ones, ...others.map((t) => t.mask)], { axis: 1 });
      let x = target.x;
      for (const block of strategy.streams[m] ?? []) x = blockOnnx(g, block, x, ctxMask, context);
      return maskedMeanOnnx(g, layerNormOnnx(g, strategy.norms[m]!, x), target.mask);
    }));
    return linearOnnx(g, strategy.out, g.op('Concat', pooled, { axis: 1 }));
  }
  throw new ConfigError(`ONNX export: the fusion strategy ${state.config.fusion.strategy} has no ONNX form`, { path: 'fusion.strategy' });
}

/**
 * One model's (or one ensemble member's) encoders, alignment, fusion and head on the graph inputs: member 0
 * declares the inputs (listed in `inputs`), members k >= 1 read them (`OnnxGraph.forField`).
 */
function memberOnnx(g: OnnxGraph, state: FusionState, k: number, inputs: OnnxInputMetadata[] | undefined): { logits: OnnxValue; fused: OnnxValue } {
  const net = state.requireNetwork();
  const tokens: AlignedTokens[] = [];
  let like: OnnxValue | undefined;
  state.fields.forEach((field, m) => {
    const enc = state.encoders[m] as ModalityEncoder;
    if (typeof enc.exportOnnx !== 'function') {
      throw new ConfigError(`encoder ${enc.kind} has no exportOnnx, so this model cannot be exported to ONNX`, { path: `inputs.${field}.encoder` });
    }
    const { result, inputs: tensors } = g.forField(field, () => {
      const out = enc.exportOnnx!(g, { field });
      const present = g.input('present', 'float32', [g.batch]);
      return { aligned: alignOnnx(g, net.alignment, m, out, present), present };
    }, k);
    like ??= result.present;
    tokens.push(result.aligned);
    if (inputs === undefined) return;
    const presentSpec = tensors.pop() as GraphInputSpec; // `present`, declared last
    inputs.push({ field, modality: enc.modality, kind: enc.kind, config: enc.getConfig(), state: enc.getState(), present: presentSpec.graphName, tensors });
  });
  if (like === undefined) throw new ConfigError('ONNX export: the model has no inputs', { path: 'inputs' });
  const scope = k === 0 ? '' : `members.${k}.`;
  const fused = g.scoped(`${scope}fusion.`, () => strategyOnnx(g, state, tokens, like!));
  const logits = g.scoped(`${scope}head.`, () => linearOnnx(g, net.head.linear, fused));
  return { logits, fused };
}

/** Export a trained state as one ONNX graph (see the file comment). Throws `ConfigError` naming an input whose encoder cannot export. */
export function exportOnnx(state: FusionState, options: OnnxExportOptions = {}): OnnxExport {
  state.requireNetwork();
  const output = state.requireOutput();
  const g = new OnnxGraph({ quantize: options.quantize ?? null });
  const inputs: OnnxInputMetadata[] = [];
  // One model, or every member of an ensemble on the same graph inputs (members 1..N-1 under `members.<k>.`).
  const members = [state, ...state.otherMembers];
  const passes = members.map((member, k) => memberOnnx(g, member, k, k === 0 ? inputs : undefined));
  const n = passes.length;
  let logits = (passes[0] as { logits: OnnxValue }).logits;
  let fused = (passes[0] as { fused: OnnxValue }).fused;
  if (n > 1) {
    // The mean of the members' logits; their unit-length fused vectors side by side over sqrt(N) (as FusionNetwork).
    logits = g.scoped('ensemble.', () => g.op('Mul', [g.op('Sum', passes.map((p) => p.logits)), g.floats(1 / n, [])]));
    fused = g.scoped('ensemble.', () => g.op('Mul', [g.op('Concat', passes.map((p) => unitRowsOnnx(g, p.fused)), { axis: 1 }), g.floats(1 / Math.sqrt(n), [])]));
  }
  g.output(logits, LOGITS, 'float32', [g.batch, output.outDim]);
  const memory = state.scopeMemory;
  if (memory !== undefined) g.scoped('outOfScope.', () => g.output(nearestOnnx(g, fused, memory), NEAREST, 'float32', [g.batch]));
  const metadata: OnnxModelMetadata = {
    format: ONNX_FORMAT,
    version: ONNX_FORMAT_VERSION,
    config: state.config,
    output: output.toJSON(),
    inputs,
    logits: { name: LOGITS, outDim: output.outDim },
    ...(memory === undefined ? {} : { nearest: { name: NEAREST, samples: memory.rows } }),
    batch: g.batch,
    quantize: g.quantize,
    opset: g.opset,
  };
  const doc = `mmfuse fusion model: inputs ${state.fields.join(', ')}; strategy ${state.config.fusion.strategy}; output ${state.config.output.type} (${output.outDim})`;
  return { bytes: g.encode({ [ONNX_METADATA_KEY]: JSON.stringify(metadata) }, doc), metadata };
}
