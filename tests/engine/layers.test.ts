// LSTM, GRU, conv1d, conv2d (with batch norm and pooling) and embedding layers train on the wasm backend, and
// their gradients and the weights after a few steps equal the cpu backend's within 1e-4 (relative).
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@mmfuse/core';
import { backendDataIds, expectClose, randomValues, type Snapshot, sizeOf } from './helpers.js';

// These tests are about the wasm engine, whichever engine MMFUSE_ENGINE gave tests/setup.ts.
beforeAll(async () => {
  await initEngine({ engine: 'wasm' });
});

afterEach(async () => {
  await tf.setBackend('wasm');
});

interface Case {
  name: string;
  build(): tf.LayersModel;
  xShape: number[];
  /** Integer inputs (token ids) below this bound instead of normal values. */
  vocab?: number;
  yShape: number[];
}

const cases: Case[] = [
  {
    name: 'LSTM',
    xShape: [3, 7, 5],
    yShape: [3, 2],
    build: () => tf.sequential({ layers: [
      tf.layers.lstm({ inputShape: [7, 5], units: 6, returnSequences: true }),
      tf.layers.lstm({ units: 4 }),
      tf.layers.dense({ units: 2 }),
    ] }),
  },
  {
    name: 'bidirectional GRU',
    xShape: [2, 6, 3],
    yShape: [2, 2],
    build: () => tf.sequential({ layers: [
      tf.layers.bidirectional({ inputShape: [6, 3], layer: tf.layers.gru({ units: 5 }) as unknown as tf.RNN, mergeMode: 'concat' }),
      tf.layers.dense({ units: 2 }),
    ] }),
  },
  {
    name: 'conv1d',
    xShape: [3, 11, 4],
    yShape: [3, 2],
    build: () => tf.sequential({ layers: [
      tf.layers.conv1d({ inputShape: [11, 4], filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.conv1d({ filters: 3, kernelSize: 2, padding: 'valid' }),
      tf.layers.maxPooling1d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ] }),
  },
  {
    name: 'conv2d + batch norm + pooling',
    xShape: [2, 9, 7, 3],
    yShape: [2, 2],
    build: () => tf.sequential({ layers: [
      // No bias before batch norm: its gradient is zero in theory, float noise in practice.
      tf.layers.conv2d({ inputShape: [9, 7, 3], filters: 4, kernelSize: 3, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 3, kernelSize: [2, 3], strides: 2, padding: 'valid' }),
      tf.layers.averagePooling2d({ poolSize: 1 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ] }),
  },
  {
    name: 'embedding',
    xShape: [4, 6],
    vocab: 23,
    yShape: [4, 3],
    build: () => tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: 23, outputDim: 5, inputLength: 6 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ] }),
  },
];

interface TrainResult { grads: Snapshot[]; weights: Snapshot[]; losses: number[] }

const STEPS = 3;

function snap(t: tf.Tensor): Snapshot {
  return { shape: t.shape.slice(), values: t.dataSync() as Float32Array };
}

/** Build the model on `backend`, load `init` weights, take its gradients, then train STEPS steps of SGD. */
function train(backend: 'cpu' | 'wasm', c: Case, init: Float32Array[] | undefined, x: { values: Float32Array | Int32Array; dtype: 'float32' | 'int32' }, y: Float32Array): TrainResult & { init: Float32Array[] } {
  tf.setBackend(backend);
  const model = c.build();
  if (init !== undefined) model.setWeights(model.getWeights().map((w, i) => tf.tensor(init[i]!, w.shape)));
  const initial = model.getWeights().map((w) => w.dataSync() as Float32Array);
  const xs = tf.tensor(x.values, c.xShape, x.dtype);
  const ys = tf.tensor(y, c.yShape);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = (): tf.Scalar => tf.losses.meanSquaredError(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar;
  const { value, grads } = tf.variableGrads(loss, vars);
  const gradSnaps = vars.map((v) => snap(grads[v.name]!));
  tf.dispose([value, ...Object.values(grads)]);
  const optimizer = tf.train.sgd(0.05);
  const losses: number[] = [];
  const step = (): void => {
    const l = optimizer.minimize(loss, true, vars);
    losses.push(l!.dataSync()[0]!);
    l!.dispose();
  };
  step();
  // A training step on this backend leaks nothing (tensors or backend buffers).
  const tensors = tf.memory().numTensors;
  const buffers = backendDataIds();
  for (let s = 1; s < STEPS; s++) step();
  expect(tf.memory().numTensors, `${c.name} on ${backend}: tensors after steps`).toBe(tensors);
  expect(backendDataIds(), `${c.name} on ${backend}: backend buffers after steps`).toBe(buffers);
  const weights = model.getWeights().map(snap);
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
  return { grads: gradSnaps, weights, losses, init: initial };
}

describe('layers train on wasm with the cpu backend’s gradients', () => {
  for (const c of cases) {
    it(c.name, () => {
      const n = sizeOf(c.xShape);
      const x = c.vocab !== undefined
        ? { values: Int32Array.from(randomValues(`${c.name} ids`, n), (v) => Math.abs(Math.floor(v * 1000)) % c.vocab!), dtype: 'int32' as const }
        : { values: randomValues(`${c.name} x`, n), dtype: 'float32' as const };
      const y = randomValues(`${c.name} y`, sizeOf(c.yShape));
      const onWasm = train('wasm', c, undefined, x, y);
      const onCpu = train('cpu', c, onWasm.init, x, y);
      expect(onWasm.grads.length).toBeGreaterThan(0);
      // Every trainable weight gets a real gradient on wasm (no missing kernel silently zeroing one).
      onWasm.grads.forEach((g, i) => expect(Math.max(...Array.from(g.values, Math.abs)), `${c.name} grad ${i}`).toBeGreaterThan(0));
      expectClose(onWasm.grads, onCpu.grads, 1e-4, `${c.name} gradients`);
      expectClose(onWasm.weights, onCpu.weights, 1e-4, `${c.name} weights after ${STEPS} steps`);
      onWasm.losses.forEach((l, i) => expect(Math.abs(l - onCpu.losses[i]!) / Math.abs(onCpu.losses[i]!)).toBeLessThan(1e-4));
      // Training moved the weights (the loss itself need not fall in three steps from a random start).
      const moved = onWasm.weights.some((w, i) => w.values.some((v, j) => v !== onWasm.init[i]![j]));
      expect(moved).toBe(true);
    });
  }
});
