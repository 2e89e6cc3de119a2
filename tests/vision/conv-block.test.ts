import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRng } from '@mmfuse/core';
import { ConvBlock } from '@mmfuse/vision-cnn';
import { withConvGradBackend } from './helpers.js';

interface Stored { shape: number[]; data: number[] }
const fixtures = path.resolve(__dirname, '../fixtures');
const vec = JSON.parse(readFileSync(path.join(fixtures, 'vectors/layer_conv_block.json'), 'utf8')) as {
  params: Record<string, Stored>; buffers: Record<string, Stored>; grads: Record<string, Stored>;
  nhwc: Record<string, Stored>; float64_max_abs_diff: { outputs: Record<string, number>; grads: Record<string, number> };
};
const train = JSON.parse(readFileSync(path.join(fixtures, 'vision/conv_block_train.json'), 'utf8')) as Record<string, Stored>;

const t = (s: Stored) => tf.tensor(s.data, s.shape, 'float32');

/** |a - b| ≤ max(1e-4·max|b|, 2·float64 error) elementwise, as the vectors' README asks. */
function expectClose(actual: tf.Tensor, expected: Stored, f64 = 0): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  const scale = Math.max(...expected.data.map(Math.abs));
  const tol = Math.max(1e-4 * scale, 2 * f64, 1e-6);
  let worst = 0;
  expected.data.forEach((e, i) => { worst = Math.max(worst, Math.abs((a[i] as number) - e)); });
  expect(worst).toBeLessThanOrEqual(tol);
}

function loadWeights(block: ConvBlock, values: Stored[]): void {
  block.weights.forEach((w, i) => w.assign(t(values[i] as Stored).reshape(w.shape)));
}

describe('ConvBlock', () => {
  it('builds any number of unnamed blocks (tfjs names their variables) and prefixes named ones', () => {
    const blocks = [0, 1, 2].map(() => new ConvBlock({ inChannels: 1, outChannels: 2 }));
    blocks.forEach((b, i) => b.build(createRng(i)));
    const names = blocks.flatMap((b) => b.weights.map((w) => w.name));
    expect(new Set(names).size).toBe(names.length);
    const named = new ConvBlock({ inChannels: 1, outChannels: 2, name: 'stem' });
    named.build(createRng(3));
    expect(named.weights.map((w) => w.name)).toEqual(expect.arrayContaining(['stem/kernel', 'stem/gamma', 'stem/beta']));
    expect(named.getConfig()).toMatchObject({ name: 'stem' });
    expect(blocks[0]?.getConfig()).not.toHaveProperty('name');
    for (const b of [...blocks, named]) b.dispose();
    expect(() => new ConvBlock({ inChannels: 1, outChannels: 2, name: '' })).toThrow(/name: must be a non-empty string/);
  });

  it('matches torch Conv2d + BatchNorm2d (eval) + ReLU + MaxPool2d: output and every gradient', async () => {
    const block = new ConvBlock({ inChannels: 3, outChannels: 4, useBias: true });
    block.build(createRng(1));
    expect(block.weights.map((w) => w.shape)).toEqual([[3, 3, 3, 4], [4], [4], [4], [4], [4]]);
    expect(block.trainableWeights).toHaveLength(4);
    loadWeights(block, [vec.nhwc['conv.weight_hwio']!, vec.params['conv.bias']!, vec.params['bn.weight']!, vec.params['bn.bias']!,
      vec.buffers['bn.running_mean']!, vec.buffers['bn.running_var']!]);
    const input = t(vec.nhwc.input!) as tf.Tensor4D;
    const out = block.apply(input, { training: false });
    expectClose(out, vec.nhwc.output!, vec.float64_max_abs_diff.outputs.output);
    out.dispose();

    await withConvGradBackend(() => {
      const R = t(vec.nhwc.R_output!);
      const x = t(vec.nhwc.input!);
      const [wk, wb, wg, wbeta] = block.trainableWeights as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const vg = tf.variableGrads(() => tf.sum(tf.mul(block.apply(x as tf.Tensor4D, { training: false }), R)) as tf.Scalar, block.trainableWeights);
      const f64 = vec.float64_max_abs_diff.grads;
      expectClose(vg.grads[wk.name]!, vec.nhwc['grad_conv.weight_hwio']!, f64['conv.weight']);
      expectClose(vg.grads[wb.name]!, vec.grads['conv.bias']!, f64['conv.bias']);
      expectClose(vg.grads[wg.name]!, vec.grads['bn.weight']!, f64['bn.weight']);
      expectClose(vg.grads[wbeta.name]!, vec.grads['bn.bias']!, f64['bn.bias']);
      const [gx] = tf.grads((xi: tf.Tensor) => tf.sum(tf.mul(block.apply(xi as tf.Tensor4D, { training: false }), R)))([x]);
      expectClose(gx!, vec.nhwc.grad_input!, f64.input);
      tf.dispose([R, x, vg.value, ...Object.values(vg.grads), gx!]);
    });
    input.dispose();
    block.dispose();
  });

  it('training mode: batch statistics, PyTorch running-statistics update, gradients (odd height)', async () => {
    const block = new ConvBlock({ inChannels: 3, outChannels: 4 });
    block.build(createRng(2));
    expect(block.useBias).toBe(false);
    loadWeights(block, [train.kernel!, train.gamma!, train.beta!, train.running_mean_before!, train.running_var_before!]);
    await withConvGradBackend(() => {
      const x = t(train.input!) as tf.Tensor4D;
      const R = t(train.R!);
      const vg = tf.variableGrads(() => {
        const out = block.apply(x, { training: true });
        expectClose(out, train.output!);
        return tf.sum(tf.mul(out, R)) as tf.Scalar;
      }, block.trainableWeights);
      const [wk, wg, wb] = block.trainableWeights as [tf.Variable, tf.Variable, tf.Variable];
      expectClose(vg.grads[wk.name]!, train.grad_kernel!);
      expectClose(vg.grads[wg.name]!, train.grad_gamma!);
      expectClose(vg.grads[wb.name]!, train.grad_beta!);
      // the running statistics moved once, exactly as torch's did
      const [rm, rv] = block.weights.slice(3) as [tf.Variable, tf.Variable];
      expectClose(rm, train.running_mean_after!);
      expectClose(rv, train.running_var_after!);
      const [gx] = tf.grads((xi: tf.Tensor) => tf.sum(tf.mul(block.apply(xi as tf.Tensor4D, { training: true }), R)))([x]);
      expectClose(gx!, train.grad_input!);
      tf.dispose([x, R, vg.value, ...Object.values(vg.grads), gx!]);
    });
    block.dispose();
  });

  it('residual blocks: identity or 1×1 shortcut, gradients reach every weight', async () => {
    for (const [inC, outC] of [[4, 4], [3, 5]] as const) {
      const block = new ConvBlock({ inChannels: inC, outChannels: outC, residual: true, pool: 1 });
      block.build(createRng(3));
      expect(block.trainableWeights).toHaveLength(inC === outC ? 3 : 4);
      const x = tf.randomNormal([2, 5, 5, inC], 0, 1, 'float32', 4) as tf.Tensor4D;
      // With a zero kernel and beta the block is relu(bn(0) + shortcut(x)) = relu(shortcut(x)).
      const w0 = block.trainableWeights[0] as tf.Variable;
      const saved = w0.clone();
      w0.assign(tf.zerosLike(w0));
      const y = block.apply(x, { training: false });
      const expected = inC === outC ? tf.relu(x) : tf.relu(tf.conv2d(x, block.trainableWeights[3] as tf.Tensor4D, 1, 'valid'));
      expectClose(y, { shape: expected.shape, data: Array.from(expected.dataSync()) });
      w0.assign(saved);
      await withConvGradBackend(() => {
        const vg = tf.variableGrads(() => tf.sum(tf.square(block.apply(x, { training: true }))) as tf.Scalar, block.trainableWeights);
        for (const w of block.trainableWeights) expect(tf.sum(tf.abs(vg.grads[w.name]!)).dataSync()[0]).toBeGreaterThan(0);
        tf.dispose([vg.value, ...Object.values(vg.grads)]);
      });
      tf.dispose([x, y, expected, saved]);
      block.dispose();
    }
  });

  it('is deterministic from the seed, leaks no tensors, and validates its arguments', () => {
    const n0 = tf.memory().numTensors;
    const a = new ConvBlock({ inChannels: 2, outChannels: 3 });
    const b = new ConvBlock({ inChannels: 2, outChannels: 3 });
    a.build(createRng(9));
    b.build(createRng(9));
    expect(Array.from(a.weights[0]!.dataSync())).toEqual(Array.from(b.weights[0]!.dataSync()));
    // He init: std ≈ √(2 / (3·3·2)) = 0.333
    const k = Array.from(a.weights[0]!.dataSync());
    expect(k.some((v) => v !== 0)).toBe(true);
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
    for (const training of [false, true]) {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) tf.tidy(() => { a.apply(x, { training }); });
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(n0); // the training calls' running-statistics updates left nothing behind
    expect(() => new ConvBlock({ inChannels: 2, outChannels: 3, kernelSize: 4 })).toThrow(ConfigError);
    expect(() => new ConvBlock({ inChannels: 0, outChannels: 3 })).toThrow(/inChannels: must be an integer/);
    const c = new ConvBlock({ inChannels: 2, outChannels: 3 });
    expect(() => c.apply(tf.zeros([1, 4, 4, 2]) as tf.Tensor4D, { training: false })).toThrow(/call build\(\)/);
    c.build(createRng(1));
    expect(() => c.apply(tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, { training: false })).toThrow(/expected input \[batch, height, width, 2\]/);
    expect(new ConvBlock(c.getConfig() as never).getConfig()).toEqual(c.getConfig());
    c.dispose();
  });
});
