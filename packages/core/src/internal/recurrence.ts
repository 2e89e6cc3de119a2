/**
 * The time loops of the LSTM and GRU cells, in PyTorch's formulation, over a masked batch. Both directions
 * of a bidirectional layer run in one loop, stacked on a leading "direction" axis G (batched matMuls), which
 * halves the number of kernel calls per time step (the dominant cost on the wasm engine).
 *
 * A step whose mask is 0 leaves the state unchanged and outputs zeros, so a forward pass over a right-padded
 * batch freezes each sequence's state after its last token, and a backward pass over the time-reversed
 * batch (padding first) keeps the zero initial state until the sequence's own last token: both equal
 * running each sequence alone.
 */
import * as tf from '@tensorflow/tfjs';

/** Weights of G directions of one layer, PyTorch layout stacked on a leading axis. */
export interface StackedWeights {
  weightIh: tf.Tensor3D; // [G, K*H, D]  (K gates)
  weightHh: tf.Tensor3D; // [G, K*H, H]
  biasIh: tf.Tensor2D; // [G, K*H]
  biasHh: tf.Tensor2D; // [G, K*H]
}

/** Output of G directions: the masked outputs and the final states. */
export interface StackedOutput {
  output: tf.Tensor4D; // [G, B, T, H], 0 at padded steps
  h: tf.Tensor3D; // [G, B, H]
  c?: tf.Tensor3D; // [G, B, H], LSTM only
}

/**
 * `tf.unstack` that also differentiates over an axis of size 1 (tfjs 4.22's Unpack gradient hands `stack`
 * a single tensor instead of a list when the op has one output, and throws): a squeeze there.
 */
export function unstackAxis(x: tf.Tensor, axis: number): tf.Tensor[] {
  return x.shape[axis] === 1 ? [x.squeeze([axis])] : tf.unstack(x, axis);
}

/** x [G, B, T, D] → x W^T + b as [G, B, T, K*H], one batched matMul for the whole sequence. */
function inputProjection(x: tf.Tensor4D, weight: tf.Tensor3D, bias: tf.Tensor2D): tf.Tensor4D {
  const [g, b, t, d] = x.shape;
  const flat = x.reshape([g, b * t, d]); // [G, B*T, D]
  // Transpose explicitly: a transposed operand is much slower on the wasm backend.
  const proj = tf.matMul(flat, weight.transpose([0, 2, 1])).add(bias.expandDims(1)); // [G, B*T, K*H]
  return proj.reshape([g, b, t, weight.shape[1]]); // [G, B, T, K*H]
}

/** Per-step masks [G, B, H] (bool) with one tile for the whole sequence, not one per step. */
function keepMasks(mask: tf.Tensor3D, hidden: number): tf.Tensor3D[] {
  const full = mask.greater(0).expandDims(3).tile([1, 1, 1, hidden]); // [G, B, T, H]
  return unstackAxis(full, 2) as tf.Tensor3D[]; // T × [G, B, H]
}

function stackSteps(outs: tf.Tensor3D[], g: number, b: number, h: number): tf.Tensor4D {
  return (outs.length === 0 ? tf.zeros([g, b, 0, h]) : tf.stack(outs, 2)) as tf.Tensor4D; // [G, B, T, H]
}

/**
 * LSTM over `x` [G, B, T, D] with `mask` [G, B, T] (1 = real step). Gates i, f, g, o:
 * c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(c').
 */
export function lstmLoop(x: tf.Tensor4D, mask: tf.Tensor3D, w: StackedWeights): StackedOutput {
  const [dirs, batch, steps] = x.shape;
  const hidden = w.weightHh.shape[2];
  const proj = inputProjection(x, w.weightIh, w.biasIh.add(w.biasHh) as tf.Tensor2D);
  const xs = unstackAxis(proj, 2) as tf.Tensor3D[]; // T × [G, B, 4H]
  const keep = keepMasks(mask, hidden);
  const whhT = w.weightHh.transpose([0, 2, 1]); // [G, H, 4H]
  const zero: tf.Tensor3D = tf.zeros([dirs, batch, hidden]);
  let h = zero;
  let c = zero;
  const outs: tf.Tensor3D[] = [];
  for (let t = 0; t < steps; t++) {
    const gates = (xs[t] as tf.Tensor3D).add(tf.matMul(h, whhT)); // [G, B, 4H]
    const [i, f, g, o] = tf.split(gates, 4, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const cNew = tf.sigmoid(f).mul(c).add(tf.sigmoid(i).mul(tf.tanh(g))) as tf.Tensor3D;
    const hNew = tf.sigmoid(o).mul(tf.tanh(cNew)) as tf.Tensor3D;
    const k = keep[t] as tf.Tensor3D;
    outs.push(tf.where(k, hNew, zero)); // exact +0 at padded steps
    h = tf.where(k, hNew, h);
    c = tf.where(k, cNew, c);
  }
  return { output: stackSteps(outs, dirs, batch, hidden), h, c };
}

/**
 * GRU, PyTorch's form (reset gate applied after the recurrent product and its bias):
 * r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r ⊙ (W_hn h + b_hn)), h' = (1 − z) n + z h.
 */
export function gruLoop(x: tf.Tensor4D, mask: tf.Tensor3D, w: StackedWeights): StackedOutput {
  const [dirs, batch, steps] = x.shape;
  const hidden = w.weightHh.shape[2];
  const proj = inputProjection(x, w.weightIh, w.biasIh);
  const xs = unstackAxis(proj, 2) as tf.Tensor3D[]; // T × [G, B, 3H]
  const keep = keepMasks(mask, hidden);
  const whhT = w.weightHh.transpose([0, 2, 1]); // [G, H, 3H]
  const bhh = w.biasHh.expandDims(1); // [G, 1, 3H]
  const zero: tf.Tensor3D = tf.zeros([dirs, batch, hidden]);
  let h = zero;
  const outs: tf.Tensor3D[] = [];
  for (let t = 0; t < steps; t++) {
    const hp = tf.matMul(h, whhT).add(bhh); // [G, B, 3H]
    const [xrz, xn] = tf.split(xs[t] as tf.Tensor3D, [2 * hidden, hidden], 2) as [tf.Tensor3D, tf.Tensor3D];
    const [hrz, hn] = tf.split(hp, [2 * hidden, hidden], 2) as [tf.Tensor3D, tf.Tensor3D];
    const [r, z] = tf.split(tf.sigmoid(xrz.add(hrz)), 2, 2) as [tf.Tensor3D, tf.Tensor3D];
    const n = tf.tanh(xn.add(r.mul(hn))) as tf.Tensor3D;
    const hNew = n.add(z.mul(h.sub(n))) as tf.Tensor3D; // (1 − z) n + z h
    const k = keep[t] as tf.Tensor3D;
    outs.push(tf.where(k, hNew, zero)); // exact +0 at padded steps
    h = tf.where(k, hNew, h);
  }
  return { output: stackSteps(outs, dirs, batch, hidden), h };
}
