// The fusion layers against PyTorch reference vectors: outputs and every gradient within 1e-4.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createRng } from '@mmfuse/core';
import { LayerNorm, MultiHeadAttention, TransformerBlock, sinusoidalTable } from '@mmfuse/fusion';
import { expectClose, readVector, toTensor } from './vectors.js';

/** PyTorch's key_padding_mask (true = ignored) as mmfuse's key mask (1 = real key). */
function keyMask(stored: any): tf.Tensor2D {
  return tf.tidy(() => tf.scalar(1).sub(toTensor(stored)) as tf.Tensor2D);
}

describe('layer vectors', () => {
  it('positional_encoding matches the interleaved sin/cos table', () => {
    const v = readVector('positional_encoding.json');
    const pe = tf.tensor(sinusoidalTable(v.config.max_len, v.config.d_model), [v.config.max_len, v.config.d_model]);
    expectClose(pe, v.outputs.pe, 'pe', 1e-6);
    pe.dispose();
  });

  it('layer_layernorm: output and gradients', () => {
    const v = readVector('layer_layernorm.json');
    const ln = new LayerNorm({ dim: 16, epsilon: v.config.eps }, createRng(1));
    ln.gamma.assign(toTensor(v.params.weight)); ln.beta.assign(toTensor(v.params.bias));
    const x = tf.variable(toTensor(v.inputs.input));
    const R = toTensor(v.loss.R.output);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => ln.apply(x));
    expectClose(out, v.outputs.output, 'output');
    const { value, grads } = tf.variableGrads(() => ln.apply(x).mul(R).sum() as tf.Scalar, [x, ln.gamma, ln.beta]);
    expect(value.dataSync()[0]).toBeCloseTo(v.loss.value, 3);
    expectClose(grads[x.name] as tf.Tensor, v.grads.input, 'd input');
    expectClose(grads[ln.gamma.name] as tf.Tensor, v.grads.weight, 'd weight');
    expectClose(grads[ln.beta.name] as tf.Tensor, v.grads.bias, 'd bias');
    tf.dispose([out, value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, R]); ln.dispose();
  });

  it('layer_mha: output, attention weights and gradients with a key padding mask', () => {
    const v = readVector('layer_mha.json');
    const mha = new MultiHeadAttention({ dModel: 16, heads: 4 }, createRng(2));
    tf.tidy(() => mha.loadTorch({
      inProjWeight: toTensor(v.params.in_proj_weight), inProjBias: toTensor(v.params.in_proj_bias),
      outWeight: toTensor(v.params['out_proj.weight']), outBias: toTensor(v.params['out_proj.bias']),
    }));
    const q = tf.variable(toTensor(v.inputs.query)) as tf.Variable<tf.Rank.R3>;
    const k = tf.variable(toTensor(v.inputs.key)) as tf.Variable<tf.Rank.R3>;
    const val = tf.variable(toTensor(v.inputs.value)) as tf.Variable<tf.Rank.R3>;
    const mask = keyMask(v.inputs.key_padding_mask);
    const R = toTensor(v.loss.R.attn_output);
    // Separate key and value tensors: run with a context whose projections differ, through a tiny adapter.
    const run = (): { output: tf.Tensor3D; weights: tf.Tensor4D } => {
      // The layer packs keys and values from one tensor; to feed distinct key/value tensors, project by hand.
      const d = 16; const [b, tq] = q.shape; const tk = k.shape[1];
      const [wq, wk, wv] = tf.split(mha.inKernel, 3, 1) as tf.Tensor2D[];
      const [bq, bk, bv] = tf.split(mha.inBias, 3, 0);
      const split = (x: tf.Tensor, t: number) => x.reshape([b, t, 4, 4]).transpose([0, 2, 1, 3]); // [B, H, T, hd]
      const qh = split(tf.matMul(q.reshape([b * tq, d]), wq as tf.Tensor2D).add(bq as tf.Tensor), tq);
      const kh = split(tf.matMul(k.reshape([b * tk, d]), wk as tf.Tensor2D).add(bk as tf.Tensor), tk);
      const vh = split(tf.matMul(val.reshape([b * tk, d]), wv as tf.Tensor2D).add(bv as tf.Tensor), tk);
      return mha.applyProjected({ q: qh as tf.Tensor4D, k: kh as tf.Tensor4D, v: vh as tf.Tensor4D }, mask, { training: false });
    };
    const before = tf.memory().numTensors;
    const out = tf.tidy(run);
    expectClose(out.output, v.outputs.attn_output, 'attn_output');
    const meanWeights = tf.tidy(() => out.weights.mean(1));
    expectClose(meanWeights, v.outputs.attn_weights, 'attn_weights');
    expectClose(out.weights, v.outputs.attn_weights_per_head, 'attn_weights_per_head');
    const vars = [q, k, val, mha.inKernel, mha.inBias, mha.out.kernel, mha.out.bias as tf.Variable];
    const { value, grads } = tf.variableGrads(() => run().output.mul(R).sum() as tf.Scalar, vars);
    expectClose(grads[q.name] as tf.Tensor, v.grads.query, 'd query');
    expectClose(grads[k.name] as tf.Tensor, v.grads.key, 'd key');
    expectClose(grads[val.name] as tf.Tensor, v.grads.value, 'd value');
    const t = tf.tidy(() => ({
      inW: (grads[mha.inKernel.name] as tf.Tensor).transpose(),
      outW: (grads[mha.out.kernel.name] as tf.Tensor).transpose(),
    }));
    expectClose(t.inW, v.grads.in_proj_weight, 'd in_proj_weight');
    expectClose(grads[mha.inBias.name] as tf.Tensor, v.grads.in_proj_bias, 'd in_proj_bias');
    expectClose(t.outW, v.grads['out_proj.weight'], 'd out_proj.weight');
    expectClose(grads[(mha.out.bias as tf.Variable).name] as tf.Tensor, v.grads['out_proj.bias'], 'd out_proj.bias');
    tf.dispose([out.output, out.weights, meanWeights, value, t.inW, t.outW, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, val, mask, R]); mha.dispose();
  });

  it('layer_mha: a key whose mask is 0 does not change the output', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2 }, createRng(3));
    const [a, b] = tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 7) as tf.Tensor3D;
      const mask = tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]);
      const noise = tf.tensor3d(Array.from({ length: 80 }, (_, i) => (Math.floor(i / 8) % 5 >= 3 && i < 40 ? 100 : 0)), [2, 5, 8]);
      const y1 = mha.apply(x, x.add(noise) as tf.Tensor3D, mask, { training: false }).output;
      const y2 = mha.apply(x, x, mask, { training: false }).output;
      return [y1, y2];
    });
    const d = tf.tidy(() => (a as tf.Tensor).sub(b as tf.Tensor).abs().max().dataSync()[0] as number);
    expect(d).toBeLessThan(1e-5);
    tf.dispose([a as tf.Tensor, b as tf.Tensor]); mha.dispose();
  });

  it('layer_transformer_encoder_layer (pre-LN, GELU): output and every gradient', () => {
    const v = readVector('layer_transformer_encoder_layer.json');
    expect(v.module).toMatch(/norm_first=True/);
    expect(v.module).toMatch(/activation="gelu"/);
    const block = new TransformerBlock({ dModel: 16, heads: 4, ffDim: 32 }, createRng(4));
    tf.tidy(() => {
      const p: Record<string, tf.Tensor> = {};
      for (const [name, t] of Object.entries(v.params)) p[name] = toTensor(t as any);
      block.loadTorch(p);
    });
    const src = tf.variable(toTensor(v.inputs.src)) as tf.Variable<tf.Rank.R3>;
    const mask = keyMask(v.inputs.src_key_padding_mask);
    const R = toTensor(v.loss.R.output);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => block.apply(src, mask, { training: false }));
    expectClose(out, v.outputs.output, 'output');
    const named = new Map(block.namedWeights());
    const vars = [src, ...named.values()];
    const { value, grads } = tf.variableGrads(() => block.apply(src, mask, { training: true }).mul(R).sum() as tf.Scalar, vars);
    expect(value.dataSync()[0]).toBeCloseTo(v.loss.value, 3);
    expectClose(grads[src.name] as tf.Tensor, v.grads.src, 'd src');
    const torchName: Record<string, [string, boolean]> = {
      'attn.inKernel': ['self_attn.in_proj_weight', true], 'attn.inBias': ['self_attn.in_proj_bias', false],
      'attn.out.kernel': ['self_attn.out_proj.weight', true], 'attn.out.bias': ['self_attn.out_proj.bias', false],
      'ff.linear1.kernel': ['linear1.weight', true], 'ff.linear1.bias': ['linear1.bias', false],
      'ff.linear2.kernel': ['linear2.weight', true], 'ff.linear2.bias': ['linear2.bias', false],
      'ln1.gamma': ['norm1.weight', false], 'ln1.beta': ['norm1.bias', false],
      'ln2.gamma': ['norm2.weight', false], 'ln2.beta': ['norm2.bias', false],
    };
    expect([...named.keys()].sort()).toEqual(Object.keys(torchName).sort());
    for (const [name, variable] of named) {
      const [tname, transposed] = torchName[name] as [string, boolean];
      const g = tf.tidy(() => (transposed ? (grads[variable.name] as tf.Tensor).transpose() : (grads[variable.name] as tf.Tensor).clone()));
      expectClose(g, v.grads[tname], `d ${tname}`);
      g.dispose();
    }
    tf.dispose([out, value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([src, mask, R]); block.dispose();
  });
});

describe('dropout', () => {
  it('drops about `rate` of the values, scales the rest, repeats with the seed, and is identity in inference', async () => {
    const { dropout, dropoutMask } = await import('@mmfuse/fusion');
    const m = dropoutMask(100_000, 0.1, 42);
    const zeros = m.filter((v) => v === 0).length;
    expect(zeros / m.length).toBeGreaterThan(0.095);
    expect(zeros / m.length).toBeLessThan(0.105);
    expect(new Set(m)).toEqual(new Set([0, Math.fround(1 / 0.9)]));
    expect(dropoutMask(1000, 0.1, 42)).toEqual(m.slice(0, 1000));
    expect(dropoutMask(1000, 0.1, 43)).not.toEqual(m.slice(0, 1000));
    const x = tf.ones([4, 5]);
    expect(dropout(x, 0.5, false, undefined)).toBe(x);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => dropout(x, 0.5, true, createRng(1)));
    expect(Math.abs(tf.tidy(() => y.mean().dataSync()[0] as number) - 1)).toBeLessThan(0.6);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
