/**
 * CTC loss against torch.nn.functional.ctc_loss (tests/fixtures/vectors/ctc_loss.json, made by
 * scripts/make-ctc-vectors.py): values and gradients with respect to the log-probabilities within 1e-4,
 * for every reduction and zero_infinity; greedy decoding and the edit-distance error rate.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, ctcGreedyDecode, ctcLoss, editDistance, errorRate } from '@mmfuse/core';
import type { CtcReduction } from '@mmfuse/core';

type Num = number | 'inf' | '-inf' | 'nan';
interface Stored { shape: number[]; data: Num[] }
interface Result { reduction: CtcReduction; zero_infinity: boolean; loss: Num[]; grad: Stored | null }
interface Case { id: string; note: string; blank: number; log_probs: Stored; targets: number[][]; input_lengths: number[]; results: Result[] }

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vectors/ctc_loss.json');
const vectors = JSON.parse(readFileSync(file, 'utf8')) as { cases: Case[] };
const num = (v: Num): number => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : v);

function closeTo(actual: ArrayLike<number>, expected: ArrayLike<Num>, tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = num(expected[i] as Num);
    const a = actual[i] as number;
    if (!Number.isFinite(e)) expect(a, `${label}[${i}]`).toBe(e);
    else expect(Math.abs(a - e), `${label}[${i}]: ${a} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  }
}

describe('ctcLoss matches torch.nn.functional.ctc_loss', () => {
  for (const c of vectors.cases) {
    it(`${c.id}: ${c.note}`, () => {
      const lp = tf.tensor3d(c.log_probs.data.map(num), c.log_probs.shape as [number, number, number]);
      for (const r of c.results) {
        const opts = { blank: c.blank, reduction: r.reduction, zeroInfinity: r.zero_infinity };
        const label = `${c.id} ${r.reduction} zeroInfinity=${r.zero_infinity}`;
        const loss = ctcLoss(lp, c.targets, c.input_lengths, opts);
        closeTo(loss.dataSync(), r.loss, 1e-4, `${label} loss`);
        loss.dispose();
        if (r.grad !== null) {
          const g = tf.grad((x: tf.Tensor) => ctcLoss(x as tf.Tensor3D, c.targets, c.input_lengths, opts).sum())(lp);
          closeTo(g.dataSync(), r.grad.data, 1e-4, `${label} grad`);
          g.dispose();
        }
      }
      lp.dispose();
    });
  }

  it('an infinite loss without zeroInfinity has a NaN gradient at the impossible sample only, like torch', () => {
    const c = vectors.cases.find((x) => x.id === 'too_long') as Case;
    const lp = tf.tensor3d(c.log_probs.data.map(num), c.log_probs.shape as [number, number, number]);
    const g = tf.grad((x: tf.Tensor) => ctcLoss(x as tf.Tensor3D, c.targets, c.input_lengths, { reduction: 'none' }).gather([2]).sum())(lp);
    const d = g.dataSync();
    const per = d.length / 3;
    expect(Array.from(d.subarray(2 * per)).every(Number.isFinite)).toBe(true);
    expect(Array.from(d.subarray(0, per)).every(Number.isNaN)).toBe(true); // no silent zero without zeroInfinity
    tf.dispose([lp, g]);
  });

  it('trains: gradient descent on free logits raises the target probability; no tensor leaks', () => {
    const logits = tf.variable(tf.randomNormal([2, 12, 5], 0, 1, 'float32', 3));
    const targets = [[1, 2, 2, 3], [4]];
    const opt = tf.train.adam(0.1);
    const lossOf = (): tf.Scalar => ctcLoss(tf.logSoftmax(logits) as tf.Tensor3D, targets, [12, 7]) as tf.Scalar;
    const first = tf.tidy(() => lossOf().dataSync()[0] as number);
    for (let i = 0; i < 60; i++) tf.dispose(opt.minimize(lossOf, true) ?? []);
    const last = tf.tidy(() => lossOf().dataSync()[0] as number);
    expect(last).toBeLessThan(first * 0.1);
    const again = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.dispose(opt.minimize(lossOf, true) ?? []);
    expect(tf.memory().numTensors).toBe(again);
    expect(ctcGreedyDecode(tf.tidy(() => logits.clone()) as tf.Tensor3D, { lengths: [12, 7] })).toEqual(targets);
    opt.dispose();
    logits.dispose();
  });

  it('refuses bad arguments with typed errors', () => {
    const lp = tf.zeros([1, 4, 3]) as tf.Tensor3D;
    expect(() => ctcLoss(lp, [[0]], [4])).toThrow(InvalidInputError); // the blank as a label
    expect(() => ctcLoss(lp, [[3]], [4])).toThrow(/0\.\.2/);
    expect(() => ctcLoss(lp, [[1]], [5])).toThrow(ConfigError);
    expect(() => ctcLoss(lp, [[1], [2]], [4])).toThrow(ConfigError);
    expect(() => ctcLoss(lp, [[1]], [4], { reduction: 'avg' as CtcReduction })).toThrow(ConfigError);
    expect(() => ctcLoss(lp, [[1]], [4], { blank: 3 })).toThrow(ConfigError);
    lp.dispose();
  });
});

describe('ctcGreedyDecode', () => {
  it('collapses repeats, drops blanks, keeps a repeat separated by a blank, honours lengths', () => {
    // arg max per frame: sample 0: 1 1 0 1 2 2 0; sample 1: 3 0 3 3 (length 3 -> 3 0 3)
    const frames = [[1, 1, 0, 1, 2, 2, 0], [3, 0, 3, 3, 0, 0, 0]];
    const C = 4;
    const data = new Float32Array(2 * 7 * C);
    frames.forEach((f, b) => f.forEach((c, t) => { data[(b * 7 + t) * C + c] = 5; }));
    expect(ctcGreedyDecode({ data, shape: [2, 7, C] }, { lengths: [7, 3] })).toEqual([[1, 1, 2], [3, 3]]);
    expect(ctcGreedyDecode({ data, shape: [2, 7, C] }, { blank: 3 })).toEqual([[1, 0, 1, 2, 0], [0, 0]]);
    expect(() => ctcGreedyDecode({ data, shape: [2, 7, C] }, { lengths: [8, 1] })).toThrow(ConfigError);
  });
});

describe('editDistance and errorRate', () => {
  it('counts substitutions, insertions and deletions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance([], [1, 2])).toBe(2);
    expect(editDistance(['a', 'b'], [])).toBe(2);
    expect(editDistance(['hh', 'ah', 'l', 'ow'], ['hh', 'ah', 'l', 'ow'])).toBe(0);
    const r = errorRate([['a', 'b', 'c'], ['d']], [['a', 'c'], ['d', 'e']]);
    expect(r).toEqual({ rate: 2 / 4, edits: 2, referenceLength: 4 });
    expect(() => errorRate([[]], [['x']])).toThrow(ConfigError);
    expect(() => errorRate([['x']], [])).toThrow(ConfigError);
  });
});
