/**
 * The time loops of the LSTM and GRU cells, in PyTorch's formulation, over a masked batch. A step whose mask
 * is 0 leaves the state unchanged and outputs zeros, so a forward pass over a right-padded batch freezes
 * each sequence's state after its last token, and a backward pass over the time-reversed batch (padding
 * first) keeps the zero initial state until the sequence's own last token: both equal running each
 * sequence alone.
 */
import * as tf from '@tensorflow/tfjs';

/** Weights of one direction of one layer, PyTorch layout. */
export interface DirectionWeights {
  weightIh: tf.Tensor2D; // [G*H, D]
  weightHh: tf.Tensor2D; // [G*H, H]
  biasIh: tf.Tensor1D; // [G*H]
  biasHh: tf.Tensor1D; // [G*H]
}

/** Output of one direction: the masked outputs and the final states. */
export interface DirectionOutput {
  output: tf.Tensor3D; // [B, T, H], 0 at padded steps
  h: tf.Tensor2D; // [B, H]
  c?: tf.Tensor2D; // [B, H], LSTM only
}

/** x [B, T, D] → x W^T + b as [B, T, G*H], one matMul for the whole sequence. */
function inputProjection(x: tf.Tensor3D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor3D {
  const [b, t, d] = x.shape;
  const flat = x.reshape([b * t, d]); // [B*T, D]
  // Transpose explicitly: a transposed operand is much slower on the wasm backend.
  const proj = tf.matMul(flat, weight.transpose()).add(bias); // [B*T, G*H]
  return proj.reshape([b, t, weight.shape[0]]); // [B, T, G*H]
}

/**
 * Per-step masks [B, H] (bool), made with one tile for the whole sequence: `where` with a [B, 1] condition
 * would tile at every step (three times per step, measured as the largest cost on wasm).
 */
function keepMasks(mask: tf.Tensor2D, hidden: number): tf.Tensor2D[] {
  const full = mask.greater(0).expandDims(2).tile([1, 1, hidden]); // [B, T, H]
  return tf.unstack(full, 1) as tf.Tensor2D[]; // T × [B, H]
}

/**
 * One LSTM direction over `x` [B, T, D] with `mask` [B, T] (1 = real step). Gates i, f, g, o:
 * c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(c').
 */
export function lstmDirection(x: tf.Tensor3D, mask: tf.Tensor2D, w: DirectionWeights): DirectionOutput {
  const [batch, steps] = x.shape;
  const hidden = w.weightHh.shape[1];
  const proj = inputProjection(x, w.weightIh, w.biasIh.add(w.biasHh) as tf.Tensor1D);
  const xs = tf.unstack(proj, 1) as tf.Tensor2D[]; // T × [B, 4H]
  const keep = keepMasks(mask, hidden);
  const whhT = w.weightHh.transpose(); // [H, 4H]
  const zero: tf.Tensor2D = tf.zeros([batch, hidden]);
  let h = zero;
  let c = zero;
  const outs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const gates = (xs[t] as tf.Tensor2D).add(tf.matMul(h, whhT)); // [B, 4H]
    const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const cNew = tf.sigmoid(f).mul(c).add(tf.sigmoid(i).mul(tf.tanh(g))) as tf.Tensor2D;
    const hNew = tf.sigmoid(o).mul(tf.tanh(cNew)) as tf.Tensor2D;
    const k = keep[t] as tf.Tensor2D;
    outs.push(tf.where(k, hNew, zero)); // exact +0 at padded steps
    h = tf.where(k, hNew, h);
    c = tf.where(k, cNew, c);
  }
  const output = (steps === 0 ? tf.zeros([batch, 0, hidden]) : tf.stack(outs, 1)) as tf.Tensor3D; // [B, T, H]
  return { output, h, c };
}

/**
 * One GRU direction, PyTorch's form (reset gate applied after the recurrent product and its bias):
 * r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r ⊙ (W_hn h + b_hn)), h' = (1 − z) n + z h.
 */
export function gruDirection(x: tf.Tensor3D, mask: tf.Tensor2D, w: DirectionWeights): DirectionOutput {
  const [batch, steps] = x.shape;
  const hidden = w.weightHh.shape[1];
  const proj = inputProjection(x, w.weightIh, w.biasIh);
  const xs = tf.unstack(proj, 1) as tf.Tensor2D[]; // T × [B, 3H]
  const keep = keepMasks(mask, hidden);
  const whhT = w.weightHh.transpose(); // [H, 3H]
  const zero: tf.Tensor2D = tf.zeros([batch, hidden]);
  let h = zero;
  const outs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const hp = tf.matMul(h, whhT).add(w.biasHh); // [B, 3H]
    const [xrz, xn] = tf.split(xs[t] as tf.Tensor2D, [2 * hidden, hidden], 1) as [tf.Tensor2D, tf.Tensor2D];
    const [hrz, hn] = tf.split(hp, [2 * hidden, hidden], 1) as [tf.Tensor2D, tf.Tensor2D];
    const [r, z] = tf.split(tf.sigmoid(xrz.add(hrz)), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    const n = tf.tanh(xn.add(r.mul(hn))) as tf.Tensor2D;
    const hNew = n.add(z.mul(h.sub(n))) as tf.Tensor2D; // (1 − z) n + z h
    const k = keep[t] as tf.Tensor2D;
    outs.push(tf.where(k, hNew, zero)); // exact +0 at padded steps
    h = tf.where(k, hNew, h);
  }
  const output = (steps === 0 ? tf.zeros([batch, 0, hidden]) : tf.stack(outs, 1)) as tf.Tensor3D; // [B, T, H]
  return { output, h };
}
