/** Inference on prepared values: head outputs in batches, predictions with per-input contributions. */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, StateError, createRecord } from '@mmfuse/core';
import { toBatchInput, unitRows } from './network.js';
import type { DecodeOptions, FittedOutput, Prediction } from './outputs/index.js';
import { scopeScore } from './outputs/scope.js';
import type { FusionState, ScopeMemory } from './state.js';

/** The decode options of a predict call: a per-call out-of-scope threshold, checked (a probability or null). */
export function decodeOptions(options: { outOfScopeThreshold?: number | null }): DecodeOptions {
  const t = options.outOfScopeThreshold;
  if (t === undefined) return {};
  if (t !== null && !(typeof t === 'number' && t >= 0 && t <= 1)) throw new ConfigError(`must be a probability in [0, 1] or null, got ${JSON.stringify(t)}`, { path: 'outOfScopeThreshold' });
  return { outOfScopeThreshold: t };
}

/** Rows predicted at once. */
export const INFERENCE_BATCH = 64;

/**
 * Head outputs [N][outDim] of prepared value lists, in inference mode; `drop` hides input m from every row.
 * Asynchronous, as every read of this module: the WebGPU engine can only read GPU data asynchronously in Node.
 */
export async function outputRows(state: FusionState, values: readonly (readonly unknown[])[], drop?: number): Promise<Float32Array[]> {
  return (await forwardRows(state, values, drop, false)).rows;
}

/**
 * `outputRows`, and each row's nearest in-scope similarity when the model keeps a memory for an
 * `energy+nearest` out-of-scope score (`state.scopeMemory`).
 */
export async function outputRowsWithNearest(state: FusionState, values: readonly (readonly unknown[])[], drop?: number): Promise<{ rows: Float32Array[]; nearest?: number[] }> {
  const pass = await forwardRows(state, values, drop, false, true);
  return pass.nearest === undefined ? { rows: pass.rows } : { rows: pass.rows, nearest: pass.nearest };
}

/**
 * The fused representations (what the head reads) of prepared value lists, in inference mode, each scaled to
 * unit length: the memory an `energy+nearest` out-of-scope score compares requests with.
 */
export async function fusedVectors(state: FusionState, values: readonly (readonly unknown[])[]): Promise<ScopeMemory> {
  const net = state.requireNetwork();
  const dim = net.fusedDim;
  const data = new Float32Array(values.length * dim);
  for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
    const chunk = values.slice(start, start + INFERENCE_BATCH);
    const unit = tf.tidy(() => unitRows(net.forwardWithEncoders(toBatchInput(chunk, state.fields.length), { training: false }).fused));
    if (unit.shape[1] !== dim) throw new StateError(`the fused representation has ${unit.shape[1]} values, the network's is ${dim}`);
    try {
      data.set(await unit.data() as Float32Array, start * dim);
    } finally {
      unit.dispose();
    }
  }
  return { rows: values.length, dim, data };
}

/**
 * Each row's `energy+nearest` score from its head outputs and nearest in-scope similarity (shared by every
 * runtime); undefined when the output's calibration has no such score. Throws `StateError` when it has one but
 * the similarities are missing.
 */
export function scopeScores(output: FittedOutput, rows: readonly Float32Array[], nearest: readonly number[] | undefined): number[] | undefined {
  const c = output.calibration;
  if (c?.score === undefined) return undefined;
  if (nearest === undefined || nearest.length !== rows.length) throw new StateError('this model scores out-of-scope requests by energy+nearest, but its nearest-neighbour memory is missing (a model folder or ONNX graph written without it?)');
  return rows.map((r, i) => scopeScore(c.score!, r, nearest[i] as number, c.temperature));
}

/**
 * The cosine similarity of each row of `fused` [B, d] to its nearest row of `memory` [N, d] (unit rows): [B].
 * In the caller's tidy scope.
 */
export function nearestSimilarity(fused: tf.Tensor2D, memory: tf.Tensor2D): tf.Tensor1D {
  return tf.matMul(unitRows(fused), memory, false, true).max(1) as tf.Tensor1D;
}

/**
 * `outputRows`, and with `transcripts` what each transcribing encoder (`ModalityEncoder.transcribe`, e.g. a
 * speech encoder's phonemes) recognised in each row, from the same forward pass; `withNearest`: each row's
 * nearest in-scope similarity too, when the model keeps a memory (`state.scopeMemory`).
 */
async function forwardRows(state: FusionState, values: readonly (readonly unknown[])[], drop: number | undefined, transcripts: boolean, withNearest = false): Promise<{ rows: Float32Array[]; heard: Record<string, string>[]; nearest?: number[] }> {
  const net = state.requireNetwork();
  const k = state.requireOutput().outDim;
  const rows: Float32Array[] = [];
  const heard: Record<string, string>[] = values.map(() => ({}));
  const wants = transcripts && state.encoders.some((e) => e.transcribe !== undefined);
  const memory = withNearest ? state.scopeMemoryTensor() : undefined;
  const nearest: number[] | undefined = memory === undefined ? undefined : [];
  for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
    const chunk = values.slice(start, start + INFERENCE_BATCH);
    // [logits] or [logits, nearest similarity]: what the tidy returns is all that outlives it.
    const kept = tf.tidy((): tf.Tensor[] => {
      const batch = toBatchInput(chunk, state.fields.length, drop);
      if (!wants && memory === undefined) return [net.forward(batch, { training: false })];
      const { logits, encoded, fused } = net.forwardWithEncoders(batch, { training: false });
      if (wants) {
        encoded.forEach((e, m) => {
          const enc = state.encoders[m];
          if (e === null || enc?.transcribe === undefined) return;
          const said = enc.transcribe(e.output);
          if (said === undefined) return;
          e.rows.forEach((r, i) => { (heard[start + r] as Record<string, string>)[state.fields[m] as string] = (said[i] ?? []).join(' '); });
        });
      }
      return memory === undefined ? [logits] : [logits, nearestSimilarity(fused, memory)];
    });
    let data: Float32Array;
    try {
      data = await (kept[0] as tf.Tensor).data() as Float32Array;
      if (kept[1] !== undefined) nearest!.push(...await kept[1].data());
    } finally {
      tf.dispose(kept);
    }
    for (let r = 0; r < chunk.length; r++) rows.push(data.slice(r * k, (r + 1) * k));
  }
  return nearest === undefined ? { rows, heard } : { rows, heard, nearest };
}

/** One extra pass of a prediction with contributions: input `input` hidden from the rows (indices) that have it. */
export interface ContributionPass {
  input: number;
  rows: number[];
}

/** The passes that measure each present input's contribution (one per input that some row has). */
export function contributionPasses(inputs: number, values: readonly (readonly unknown[])[]): ContributionPass[] {
  const passes: ContributionPass[] = [];
  for (let m = 0; m < inputs; m++) {
    const rows = values.flatMap((v, i) => (v[m] !== undefined ? [i] : []));
    if (rows.length > 0) passes.push({ input: m, rows });
  }
  return passes;
}

/**
 * Predictions from head outputs: `full[i]` of row i with every input, and (for contributions) each pass's
 * head outputs `without[p][j]` of row `passes[p].rows[j]` with the pass's input hidden. Shared by every
 * runtime (TensorFlow.js, onnxruntime), so they answer alike; `options.outOfScopeThreshold` overrides the
 * model's out-of-scope threshold; `nearest`: each row's nearest in-scope similarity, for a model whose
 * out-of-scope score is energy+nearest.
 */
export function decodePredictions(output: FittedOutput, fields: readonly string[], values: readonly (readonly unknown[])[], full: readonly Float32Array[], contributions?: { passes: readonly ContributionPass[]; without: readonly (readonly Float32Array[])[] }, options: DecodeOptions = {}, nearest?: readonly number[]): Prediction[] {
  const probs = full.map((r) => output.values(r));
  const scope = scopeScores(output, full, nearest);
  const preds = values.map((v, i) => output.decode(probs[i] as number[], fields.filter((_, m) => v[m] !== undefined), options, scope?.[i]));
  if (contributions === undefined) return preds;
  preds.forEach((p) => { p.contributions = createRecord<number>(); });
  contributions.passes.forEach((pass, k) => {
    const without = contributions.without[k] as readonly Float32Array[];
    pass.rows.forEach((i, j) => {
      const f = probs[i] as number[];
      const top = output.topIndex(f);
      const w = output.values(without[j] as Float32Array);
      (preds[i] as Prediction).contributions![fields[pass.input] as string] = (f[top] as number) - (w[top] as number);
    });
  });
  return preds;
}

/**
 * Predictions of prepared value lists (`options.outOfScopeThreshold` overrides the model's threshold). With `contributions`, each present input is removed in turn (one
 * extra pass per input) and the drop of the deciding value is its contribution.
 */
export async function predictValues(state: FusionState, values: readonly (readonly unknown[])[], contributions: boolean, options: DecodeOptions = {}): Promise<Prediction[]> {
  const output = state.requireOutput();
  const pass = await forwardRows(state, values, undefined, true, true);
  const full = pass.rows;
  const withHeard = (preds: Prediction[]): Prediction[] => {
    preds.forEach((p, i) => { const h = pass.heard[i] as Record<string, string>; if (Object.keys(h).length > 0) p.heard = h; });
    return preds;
  };
  if (!contributions) return withHeard(decodePredictions(output, state.fields, values, full, undefined, options, pass.nearest));
  const passes = contributionPasses(state.fields.length, values);
  const without: Float32Array[][] = [];
  for (const p of passes) without.push(await outputRows(state, p.rows.map((i) => values[i] as unknown[]), p.input));
  return withHeard(decodePredictions(output, state.fields, values, full, { passes, without }, options, pass.nearest));
}
