/** Inference on prepared values: head outputs in batches, predictions with per-input contributions. */
import * as tf from '@tensorflow/tfjs';
import { createRecord } from '@mmfuse/core';
import { toBatchInput } from './network.js';
import type { Prediction } from './outputs/index.js';
import type { FusionState } from './state.js';

/** Rows predicted at once. */
export const INFERENCE_BATCH = 64;

/** Head outputs [N][outDim] of prepared value lists, in inference mode; `drop` hides input m from every row. */
export function outputRows(state: FusionState, values: readonly (readonly unknown[])[], drop?: number): Float32Array[] {
  const net = state.requireNetwork();
  const k = state.requireOutput().outDim;
  const rows: Float32Array[] = [];
  for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
    const chunk = values.slice(start, start + INFERENCE_BATCH);
    const out = tf.tidy(() => net.forward(toBatchInput(chunk, state.fields.length, drop), { training: false }));
    const data = out.dataSync() as Float32Array;
    out.dispose();
    for (let r = 0; r < chunk.length; r++) rows.push(data.slice(r * k, (r + 1) * k));
  }
  return rows;
}

/**
 * Predictions of prepared value lists. With `contributions`, each present input is removed in turn (one
 * extra pass per input) and the drop of the deciding value is its contribution.
 */
export function predictValues(state: FusionState, values: readonly (readonly unknown[])[], contributions: boolean): Prediction[] {
  const output = state.requireOutput();
  const full = outputRows(state, values).map((r) => output.values(r));
  const preds = values.map((v, i) => output.decode(full[i] as number[], state.fields.filter((_, m) => v[m] !== undefined)));
  if (!contributions) return preds;
  preds.forEach((p) => { p.contributions = createRecord<number>(); });
  state.fields.forEach((field, m) => {
    const idx = values.flatMap((v, i) => (v[m] !== undefined ? [i] : []));
    if (idx.length === 0) return;
    const without = outputRows(state, idx.map((i) => values[i] as unknown[]), m);
    idx.forEach((i, j) => {
      const f = full[i] as number[];
      const top = output.topIndex(f);
      const w = output.values(without[j] as Float32Array);
      (preds[i] as Prediction).contributions![field] = (f[top] as number) - (w[top] as number);
    });
  });
  return preds;
}
