/**
 * Candidate out-of-scope scores of a trained category model (Banking77-OOS, issue 20), compared on
 * validation data only: the in-scope intents' validation queries against the held-out intents' validation
 * queries (rows of train.csv that no model saw). Each score is higher for "more in scope":
 *
 * - `msp@T`: the top probability of softmax(logits / T) (Hendrycks & Gimpel 2017; T = the fitted
 *   calibration temperature is what `predict` thresholds; a large T is ODIN's temperature, Liang et al. 2018);
 * - `energy`: T · logsumexp(logits / T) at the calibration temperature (Liu et al., NeurIPS 2020);
 * - `maxLogit`: the largest logit (Hendrycks et al. 2022);
 * - `knn:FIELD`: the cosine similarity of an input's pooled encoder features to its nearest training query's
 *   (Sun et al., ICML 2022, on that input's features); `knnK:fused`: to the K-th nearest, on the fused
 *   representation the head reads (Sun et al.'s penultimate features).
 *
 * The bench picks the one with the best validation AUROC and reports its test AUROC beside the others'.
 */
import * as tf from '@tensorflow/tfjs';
import { INFERENCE_BATCH, energyOf, outputRows, toBatchInput } from '@mmfuse/fusion';
import type { FusionModel } from '@mmfuse/fusion';

/** Head logits and each input's masked-mean encoder features of prepared value lists. */
export async function logitsAndFeatures(model: FusionModel, values: readonly (readonly unknown[])[]): Promise<{ logits: Float32Array[]; features: Float32Array[][]; fused: Float32Array[] }> {
  const state = model.state;
  const net = state.requireNetwork();
  const logits = await outputRows(state, values);
  const features: Float32Array[][] = state.fields.map(() => []);
  const fused: Float32Array[] = [];
  for (let start = 0; start < values.length; start += INFERENCE_BATCH) {
    const chunk = values.slice(start, start + INFERENCE_BATCH);
    const rows: (readonly number[] | null)[] = [];
    const pooled = tf.tidy(() => {
      const out = net.forwardWithEncoders(toBatchInput(chunk, state.fields.length), { training: false });
      out.encoded.forEach((e) => rows.push(e === null ? null : e.rows));
      return [out.fused, ...out.encoded.flatMap((e) => (e === null ? [] : [maskedMean(e.output.features as tf.Tensor3D, e.output.mask as tf.Tensor2D)]))];
    });
    const f = pooled[0] as tf.Tensor2D;
    const fd = f.dataSync() as Float32Array;
    for (let j = 0; j < chunk.length; j++) fused.push(fd.slice(j * f.shape[1], (j + 1) * f.shape[1]));
    let k = 1;
    rows.forEach((r, m) => {
      if (r === null) return;
      const t = pooled[k++] as tf.Tensor2D;
      const data = t.dataSync() as Float32Array;
      const d = t.shape[1];
      r.forEach((_, j) => (features[m] as Float32Array[]).push(data.slice(j * d, (j + 1) * d)));
    });
    tf.dispose(pooled);
  }
  return { logits, features, fused };
}

/** Mean over the time steps the mask keeps: [B, T, D] → [B, D]. */
function maskedMean(features: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  const sums = features.mul(mask.expandDims(2)).sum(1) as tf.Tensor2D;
  return sums.div(tf.maximum(mask.sum(1), 1).expandDims(1));
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const k = 1 / Math.max(Math.sqrt(n), 1e-12);
  return v.map((x) => x * k);
}

/** The k-th largest cosine similarity of each query row to the reference rows, for each k of `ks`. */
export function nearestCosine(queries: readonly Float32Array[], reference: readonly Float32Array[], ks: readonly number[] = [1]): number[][] {
  const ref = reference.map(unit);
  const kmax = Math.max(...ks);
  const out = ks.map(() => [] as number[]);
  for (const q0 of queries) {
    const q = unit(q0);
    const best: number[] = []; // descending, at most kmax
    for (const r of ref) {
      let dot = 0;
      for (let i = 0; i < q.length; i++) dot += (q[i] as number) * (r[i] as number);
      if (best.length < kmax || dot > (best[best.length - 1] as number)) {
        let at = best.length;
        while (at > 0 && (best[at - 1] as number) < dot) at--;
        best.splice(at, 0, dot);
        if (best.length > kmax) best.pop();
      }
    }
    ks.forEach((k, i) => (out[i] as number[]).push(best[Math.min(k, best.length) - 1] as number));
  }
  return out;
}

/** Every candidate score of `rows` (logits and per-input features of the same queries). */
export function candidateScores(rows: { logits: Float32Array[]; features: Float32Array[][]; fused: Float32Array[] }, train: { features: Float32Array[][]; fused: Float32Array[]; labels?: number[] }, fields: readonly string[], temperature: number): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const temps: [string, number][] = [['msp@calibrated', temperature], ['msp@1', 1], ['msp@4T', 4 * temperature], ['msp@1000', 1000]];
  for (const [name, t] of temps) {
    // The top probability of softmax(l / t) = exp(max / t − logsumexp(l / t)).
    out[name] = rows.logits.map((l) => Math.exp((Math.max(...l) - energyOf(l, t)) / t));
  }
  out.energy = rows.logits.map((l) => energyOf(l, temperature));
  out.maxLogit = rows.logits.map((l) => Math.max(...l));
  fields.forEach((f, m) => {
    const q = rows.features[m] as Float32Array[];
    const ref = train.features[m] as Float32Array[];
    if (q.length === rows.logits.length && ref.length > 0) out[`knn:${f}`] = nearestCosine(q, ref)[0] as number[];
  });
  const [k1, k5, k20] = nearestCosine(rows.fused, train.fused, [1, 5, 20]);
  out['knn:fused'] = k1 as number[];
  out['knn5:fused'] = k5 as number[];
  out['knn20:fused'] = k20 as number[];
  if (train.labels !== undefined) {
    // Class prototypes: the mean of each class's unit fused vectors.
    const byClass = new Map<number, Float32Array>();
    train.fused.forEach((f, i) => {
      const c = train.labels![i] as number;
      const u = unit(f);
      const acc = byClass.get(c) ?? new Float32Array(u.length);
      for (let j = 0; j < u.length; j++) acc[j]! += u[j] as number;
      byClass.set(c, acc);
    });
    out['proto:fused'] = nearestCosine(rows.fused, [...byClass.values()])[0] as number[];
    // A subsample of the memory: the first 8 training rows of each class.
    const seen = new Map<number, number>();
    const sub = train.fused.filter((_, i) => { const c = train.labels![i] as number; const n = seen.get(c) ?? 0; seen.set(c, n + 1); return n < 8; });
    out['knn-8pc:fused'] = nearestCosine(rows.fused, sub)[0] as number[];
  }
  return out;
}
