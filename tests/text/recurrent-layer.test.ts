import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRng } from '@mmfuse/core';
import { RecurrentLayer } from '@mmfuse/text-rnn';
import type { RecurrentCell } from '@mmfuse/text-rnn';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors');
interface StoredTensor { shape: number[]; data: number[] }
const asTensor = (s: StoredTensor): tf.Tensor => tf.tensor(s.data, s.shape, 'float32');

function maskOf(lengths: number[], steps: number): tf.Tensor2D {
  return tf.tensor2d(lengths.flatMap((n) => Array.from({ length: steps }, (_, t) => (t < n ? 1 : 0))), [lengths.length, steps]);
}

/** Largest |a − b| against the README's tolerance max(1e-4 · max|b|, 2 · float64 diff), floored at 1e-5 absolute. */
function expectClose(actual: tf.Tensor, expected: StoredTensor, label: string): void {
  expect(actual.shape, label).toEqual(expected.shape);
  const a = actual.dataSync();
  let maxAbs = 0;
  let maxRef = 0;
  expected.data.forEach((e, i) => {
    maxAbs = Math.max(maxAbs, Math.abs((a[i] as number) - e));
    maxRef = Math.max(maxRef, Math.abs(e));
  });
  expect(maxAbs, label).toBeLessThan(Math.max(1e-4 * maxRef, 1e-5));
}

describe.each(['lstm', 'gru'] as const)('RecurrentLayer (%s) against torch.nn vectors', (cell) => {
  it('matches outputs, final states and every gradient of sum(output · R)', () => {
    const v = JSON.parse(readFileSync(path.join(vectors, `layer_${cell}.json`), 'utf8'));
    const layer = new RecurrentLayer({ cell, inputSize: 8, hiddenSize: 16, bidirectional: true });
    layer.build(createRng(7));
    expect([...layer.params.keys()]).toEqual(Object.keys(v.params));
    for (const [name, p] of layer.params) p.assign(asTensor(v.params[name]));
    const x = tf.variable(asTensor(v.inputs.input) as tf.Tensor3D);
    const mask = maskOf(v.inputs.lengths, v.config.seq_len);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => layer.apply(x, mask));
    expectClose(out.output, v.outputs.output, 'output');
    expectClose(out.hN, v.outputs.h_n, 'h_n');
    if (cell === 'lstm') expectClose(out.cN as tf.Tensor, v.outputs.c_n, 'c_n');
    else expect(out.cN).toBeUndefined();
    tf.dispose([out.output, out.hN, ...(out.cN ? [out.cN] : [])]);
    expect(tf.memory().numTensors).toBe(before);

    const { value, grads } = tf.variableGrads(() => {
      const o = layer.apply(x, mask);
      let loss = o.output.mul(asTensor(v.loss.R.output)).sum().add(o.hN.mul(asTensor(v.loss.R.h_n)).sum());
      if (o.cN !== undefined) loss = loss.add(o.cN.mul(asTensor(v.loss.R.c_n)).sum());
      return loss as tf.Scalar;
    }, [x, ...layer.weights]);
    expect(Math.abs((value.dataSync()[0] as number) - v.loss.value)).toBeLessThan(1e-4 * Math.abs(v.loss.value));
    expectClose(grads[x.name] as tf.Tensor, v.grads.input, 'grad input');
    for (const [name, p] of layer.params) expectClose(grads[p.name] as tf.Tensor, v.grads[name], `grad ${name}`);
    tf.dispose([value, ...Object.values(grads), x, mask]);
    layer.dispose();
  });
});

function solo(layer: RecurrentLayer, x: tf.Tensor3D, b: number, length: number): Float32Array {
  return tf.tidy(() => {
    const one = x.slice([b, 0, 0], [1, length, -1]) as tf.Tensor3D;
    return layer.apply(one, tf.ones([1, length])).output.dataSync() as Float32Array;
  });
}

describe.each([
  ['lstm', false, 1],
  ['lstm', true, 2],
  ['gru', true, 1],
  ['gru', false, 2],
] as [RecurrentCell, boolean, number][])('padding invariance: %s, bidirectional %s, %i layer(s)', (cell, bidirectional, numLayers) => {
  it('gives each padded sequence its solo outputs and states, zeros at padded steps, and no gradient to padding', () => {
    const layer = new RecurrentLayer({ cell, inputSize: 5, hiddenSize: 6, numLayers, bidirectional });
    layer.build(createRng(3));
    const lengths = [6, 3, 1, 4];
    const steps = 6;
    // Random values in the padded positions too: they must not matter.
    const x = tf.randomNormal([4, steps, 5], 0, 1, 'float32', 11) as tf.Tensor3D;
    const mask = maskOf(lengths, steps);
    const before = tf.memory().numTensors;
    const padded = tf.tidy(() => layer.apply(x, mask).output);
    const out = padded.arraySync();
    const dim = layer.outputSize;
    lengths.forEach((n, b) => {
      const alone = solo(layer, x, b, n);
      for (let t = 0; t < steps; t++) {
        for (let d = 0; d < dim; d++) {
          const got = out[b]?.[t]?.[d] as number;
          if (t < n) expect(Math.abs(got - (alone[t * dim + d] as number))).toBeLessThan(1e-6);
          else expect(got).toBe(0);
        }
      }
    });
    padded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Padded input positions receive exactly zero gradient.
    const g = tf.grad((input: tf.Tensor) => layer.apply(input as tf.Tensor3D, mask).output.square().sum())(x);
    const gm = g.abs().sum(2).arraySync() as number[][];
    lengths.forEach((n, b) => gm[b]?.forEach((s, t) => (t < n ? expect(s).toBeGreaterThan(0) : expect(s).toBe(0))));
    tf.dispose([g, x, mask]);
    layer.dispose();
  });
});

describe('RecurrentLayer configuration', () => {
  it('lists weights in PyTorch order and sizes later layers from the concatenated outputs', () => {
    const layer = new RecurrentLayer({ cell: 'gru', inputSize: 4, hiddenSize: 3, numLayers: 2, bidirectional: true });
    layer.build(createRng(1));
    expect(layer.parameterNames.slice(0, 8)).toEqual([
      'weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0',
      'weight_ih_l0_reverse', 'weight_hh_l0_reverse', 'bias_ih_l0_reverse', 'bias_hh_l0_reverse',
    ]);
    expect(layer.params.get('weight_ih_l1')?.shape).toEqual([9, 6]);
    expect(layer.weights).toHaveLength(16);
    const n = tf.memory().numTensors;
    layer.build(createRng(2)); // idempotent
    expect(tf.memory().numTensors).toBe(n);
    const out = tf.tidy(() => layer.apply(tf.ones([2, 3, 4]), tf.ones([2, 3])));
    expect(out.output.shape).toEqual([2, 3, 6]);
    expect(out.hN.shape).toEqual([4, 2, 3]);
    tf.dispose([out.output, out.hN]);
    expect(() => layer.apply(tf.ones([2, 3, 5]) as tf.Tensor3D, tf.ones([2, 3]))).toThrow(/input must be \[batch, time, 4\]/);
    layer.dispose();
  });

  it('refuses bad arguments with ConfigError', () => {
    expect(() => new RecurrentLayer({ cell: 'rnn' as RecurrentCell, inputSize: 2, hiddenSize: 2 })).toThrow(ConfigError);
    expect(() => new RecurrentLayer({ cell: 'lstm', inputSize: 0, hiddenSize: 2 })).toThrow(/inputSize: must be an integer >= 1/);
    expect(() => new RecurrentLayer({ cell: 'lstm', inputSize: 2, hiddenSize: 2, dropout: 1 })).toThrow(/dropout/);
  });
  it('differentiates sequences of one step and unidirectional final states (tfjs\'s unstack gradient fails on a size-1 axis)', () => {
    for (const cell of ['gru', 'lstm'] as const) {
      for (const bidirectional of [false, true]) {
        const layer = new RecurrentLayer({ cell, inputSize: 3, hiddenSize: 2, bidirectional });
        layer.build(createRng(4));
        const x = tf.tensor3d([[[0.1, -0.2, 0.3]], [[0.5, 0.1, -0.4]]]); // [2, 1, 3]: one step
        const mask = maskOf([1, 1], 1);
        const { value, grads } = tf.variableGrads(() => {
          const out = layer.apply(x, mask);
          return out.output.sum().add(out.hN.square().sum()) as tf.Scalar;
        }, layer.weights);
        for (const w of layer.weights) expect(grads[w.name]?.shape, `${cell} ${bidirectional} ${w.name}`).toEqual(w.shape);
        // The one-step output equals the first step of a longer run of the same sequence.
        const long = tf.tidy(() => layer.apply(tf.concat([x, x], 1) as tf.Tensor3D, maskOf([1, 1], 2)).output.slice([0, 0, 0], [2, 1, -1]).arraySync());
        const one = tf.tidy(() => layer.apply(x, mask).output.arraySync());
        expect(one).toEqual(long);
        tf.dispose([value, x, mask, ...Object.values(grads)]);
        layer.dispose();
      }
    }
  });
});
