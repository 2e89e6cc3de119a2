/**
 * One LSTM step's elementwise part as a single kernel (and its gradient as another) on wasm:
 *   i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o);  c′ = f·c + i·g;  h′ = o·tanh(c′)
 * with gates z = [z_i | z_f | z_g | z_o] of shape [B, 4H] (PyTorch's gate order) and c [B, H].
 * Written with tf ops this is ~10 kernels forward and ~25 backward per step, and on wasm the engine's
 * per-kernel bookkeeping costs more than the arithmetic ([32, 64] states); fused it is one each way.
 * On other backends `lstmCell` composes the same function from tf ops (identical values and gradients).
 */
import * as tf from '@tensorflow/tfjs';
import { f32, type Info, type KernelArgs } from './heap.js';

export const LSTM_CELL = 'MmfuseLstmCell';
export const LSTM_CELL_GRAD = 'MmfuseLstmCellGrad';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function shapesOf(gates: Info, c: Info): { b: number; h: number } {
  const [b, g4] = gates.shape as [number, number];
  const h = g4 / 4;
  if (gates.shape.length !== 2 || !Number.isInteger(h) || c.shape.length !== 2 || c.shape[0] !== b || c.shape[1] !== h) {
    throw new Error(`lstmCell: gates must be [B, 4H] and c [B, H], got [${gates.shape.join(', ')}] and [${c.shape.join(', ')}]`);
  }
  return { b, h };
}

/** Forward kernel: inputs {gates, c} → [h′, c′]. */
function lstmCellKernel(args: KernelArgs): Info[] {
  const { inputs, backend } = args;
  const gates = inputs['gates']!;
  const c = inputs['c']!;
  const { b: B, h: H } = shapesOf(gates, c);
  const hOut = backend.makeOutput([B, H], 'float32');
  const cOut = backend.makeOutput([B, H], 'float32');
  const z = f32(backend, gates);
  const cv = f32(backend, c);
  const hv = f32(backend, hOut);
  const cn = f32(backend, cOut);
  for (let r = 0; r < B; r++) {
    const zr = r * 4 * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(z[zr + j]!);
      const f = sigmoid(z[zr + H + j]!);
      const g = Math.tanh(z[zr + 2 * H + j]!);
      const o = sigmoid(z[zr + 3 * H + j]!);
      const cNew = f * cv[r * H + j]! + i * g;
      cn[r * H + j] = cNew;
      hv[r * H + j] = o * Math.tanh(cNew);
    }
  }
  return [hOut, cOut];
}

/** Gradient kernel: inputs {gates, c, cNew, dh, dc} → [dGates, dC]. */
function lstmCellGradKernel(args: KernelArgs): Info[] {
  const { inputs, backend } = args;
  const gates = inputs['gates']!;
  const c = inputs['c']!;
  const { b: B, h: H } = shapesOf(gates, c);
  const dGates = backend.makeOutput([B, 4 * H], 'float32');
  const dC = backend.makeOutput([B, H], 'float32');
  const z = f32(backend, gates);
  const cv = f32(backend, c);
  const cnv = f32(backend, inputs['cNew']!);
  const dh = f32(backend, inputs['dh']!);
  const dcn = f32(backend, inputs['dc']!);
  const dz = f32(backend, dGates);
  const dcv = f32(backend, dC);
  for (let r = 0; r < B; r++) {
    const zr = r * 4 * H;
    for (let j = 0; j < H; j++) {
      const k = r * H + j;
      const i = sigmoid(z[zr + j]!);
      const f = sigmoid(z[zr + H + j]!);
      const g = Math.tanh(z[zr + 2 * H + j]!);
      const o = sigmoid(z[zr + 3 * H + j]!);
      const tc = Math.tanh(cnv[k]!);
      const dcTotal = dcn[k]! + dh[k]! * o * (1 - tc * tc);
      dz[zr + j] = dcTotal * g * i * (1 - i);
      dz[zr + H + j] = dcTotal * cv[k]! * f * (1 - f);
      dz[zr + 2 * H + j] = dcTotal * i * (1 - g * g);
      dz[zr + 3 * H + j] = dh[k]! * tc * o * (1 - o);
      dcv[k] = dcTotal * f;
    }
  }
  return [dGates, dC];
}

export const lstmCellConfig: tf.KernelConfig = { kernelName: LSTM_CELL, backendName: 'wasm', kernelFunc: lstmCellKernel as unknown as tf.KernelFunc };
export const lstmCellGradConfig: tf.KernelConfig = { kernelName: LSTM_CELL_GRAD, backendName: 'wasm', kernelFunc: lstmCellGradKernel as unknown as tf.KernelFunc };

/** The step with tf ops, for backends without the fused kernel. */
function composed(gates: tf.Tensor2D, c: tf.Tensor2D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  const [zi, zf, zg, zo] = tf.split(gates, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const cNew = tf.sigmoid(zf).mul(c).add(tf.sigmoid(zi).mul(tf.tanh(zg))) as tf.Tensor2D;
  return { h: tf.sigmoid(zo).mul(tf.tanh(cNew)) as tf.Tensor2D, c: cNew };
}

/** The gradient by tf ops (the same formulas as the kernel), for a backend without the gradient kernel. */
function composedGrad(gates: tf.Tensor2D, c: tf.Tensor2D, cNew: tf.Tensor2D, dh: tf.Tensor2D, dc: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const [zi, zf, zg, zo] = tf.split(gates, 4, 1);
    const i = tf.sigmoid(zi!);
    const f = tf.sigmoid(zf!);
    const g = tf.tanh(zg!);
    const o = tf.sigmoid(zo!);
    const tc = tf.tanh(cNew);
    const one = tf.scalar(1);
    const dcTotal = dc.add(dh.mul(o).mul(one.sub(tc.square())));
    const dz = tf.concat([
      dcTotal.mul(g).mul(i).mul(one.sub(i)),
      dcTotal.mul(c).mul(f).mul(one.sub(f)),
      dcTotal.mul(i).mul(one.sub(g.square())),
      dh.mul(tc).mul(o).mul(one.sub(o)),
    ], 1) as tf.Tensor2D;
    return [dz, dcTotal.mul(f) as tf.Tensor2D];
  });
}

/**
 * Register the gradient of the fused kernel (once per process, whichever copy of @mmfuse/core asks first;
 * gradients are backend-independent).
 */
export function registerLstmCellGradient(): void {
  if (tf.getGradient(LSTM_CELL) !== undefined) return;
  tf.registerGradient({
    kernelName: LSTM_CELL,
    inputsToSave: ['gates', 'c'],
    outputsToSave: [false, true],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [gates, c, cNew] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const dys = Array.isArray(dy) ? dy : [dy];
      const dh = (dys[0] ?? tf.zerosLike(cNew)) as tf.Tensor2D;
      const dc = (dys[1] ?? tf.zerosLike(cNew)) as tf.Tensor2D;
      const [dGates, dC] = tf.getKernel(LSTM_CELL_GRAD, tf.getBackend()) !== undefined
        ? tf.engine().runKernel(LSTM_CELL_GRAD, { gates, c, cNew, dh, dc }, {}) as [tf.Tensor2D, tf.Tensor2D]
        : composedGrad(gates, c, cNew, dh, dc);
      return { gates: () => dGates, c: () => dC };
    },
  });
}

/**
 * One LSTM step from pre-activation gates z [B, 4H] (order i, f, g, o) and the cell state c [B, H]:
 * returns the new hidden state h′ and cell state c′, both [B, H]. Differentiable. On the wasm engine (after
 * `initEngine`) it runs as one fused kernel each way; elsewhere as tf ops.
 */
export function lstmCell(gates: tf.Tensor2D, c: tf.Tensor2D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  if (tf.getKernel(LSTM_CELL, tf.getBackend()) === undefined) return composed(gates, c);
  const [h, cNew] = tf.engine().runKernel(LSTM_CELL, { gates, c }, {}) as unknown as [tf.Tensor2D, tf.Tensor2D];
  return { h, c: cNew };
}
