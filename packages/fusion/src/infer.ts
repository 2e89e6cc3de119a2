/** Inference on prepared values: head outputs in batches, predictions with per-input contributions. */
import * as tf from '@tensorflow/tfjs';
import { toBatchInput } from './network.js';
import type { FittedOutput, Prediction } from './outputs/index.js';
import type { FusionState } from './state.js';

/** Rows predicted at once. */
export const INFERENCE_BATCH = 64;

/** Head outputs [N][outDim] of prepared value lists, in inference mode; `drop` hides input m from every row. */
export function outputRows(state: FusionState, values: readonly (readonly unknown[])[], drop?: number): Float32Array[] {
  return forwardRows(state, values, drop, false).rows;
}

/**
 * `outputRows`, and with `transcripts` what each transcribing encoder (`ModalityEncoder.transcribe`, e.g. a
 * speech encoder's phonemes) recognised in each row, from the same forward pass.
 */
function forwardRows(state: FusionState, values: readonly (readonly unknown[])[], drop: number | undefined, transcripts: boolean): { rows: Float32Array[]; heard: Record<string, string>[] } {
  const net = state.requireNetwork();
  const k = state.requireOutput().outDim;
  const rows: Float32Array[] = [];
  const heard: Record<string, string>[] = values.map(() => ({}));
  const wants = transcripts && state.encoders.some((e) => e.transcribe !== undefined);
  for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
    const chunk = values.slice(start, start + INFERENCE_BATCH);
    const out = tf.tidy(() => {
      const batch = toBatchInput(chunk, state.fields.length, drop);
      if (!wants) return net.forward(batch, { training: false });
      const { logits, encoded } = net.forwardWithEncoders(batch, { training: false });
      encoded.forEach((e, m) => {
        const enc = state.encoders[m];
        if (e === null || enc?.transcribe === undefined) return;
        const said = enc.transcribe(e.output);
        e.rows.forEach((r, i) => { (heard[start + r] as Record<string, string>)[state.fields[m] as string] = (said[i] ?? []).join(' '); });
      });
      return logits;
    });
    const data = out.dataSync() as Float32Array;
    out.dispose();
    for (let r = 0; r < chunk.length; r++) rows.push(data.slice(r * k, (r + 1) * k));
  }
  return { rows, heard };
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
 * runtime (TensorFlow.js, onnxruntime), so they answer alike.
 */
export function decodePredictions(output: FittedOutput, fields: readonly string[], values: readonly (readonly unknown[])[], full: readonly Float32Array[], contributions?: { passes: readonly ContributionPass[]; without: readonly (readonly Float32Array[])[] }): Prediction[] {
  const probs = full.map((r) => output.values(r));
  const preds = values.map((v, i) => output.decode(probs[i] as number[], fields.filter((_, m) => v[m] !== undefined)));
  if (contributions === undefined) return preds;
  preds.forEach((p) => { p.contributions = {}; });
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
 * Predictions of prepared value lists. With `contributions`, each present input is removed in turn (one
 * extra pass per input) and the drop of the deciding value is its contribution.
 */
export function predictValues(state: FusionState, values: readonly (readonly unknown[])[], contributions: boolean): Prediction[] {
  const output = state.requireOutput();
  const pass = forwardRows(state, values, undefined, true);
  const full = pass.rows;
  const withHeard = (preds: Prediction[]): Prediction[] => {
    preds.forEach((p, i) => { const h = pass.heard[i] as Record<string, string>; if (Object.keys(h).length > 0) p.heard = h; });
    return preds;
  };
  if (!contributions) return withHeard(decodePredictions(output, state.fields, values, full));
  const passes = contributionPasses(state.fields.length, values);
  const without = passes.map((p) => outputRows(state, p.rows.map((i) => values[i] as unknown[]), p.input));
  return withHeard(decodePredictions(output, state.fields, values, full, { passes, without }));
}
