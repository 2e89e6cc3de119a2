import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, StateError, createRng, dropout, dropoutMask } from '@mmfuse/core';

describe('seeded dropout (core)', () => {
  it('is the identity when not training or at rate 0, and refuses to train without a random stream', () => {
    const x = tf.ones([4, 8]);
    expect(dropout(x, 0.5, false, undefined)).toBe(x);
    expect(dropout(x, 0, true, undefined)).toBe(x);
    expect(() => dropout(x, 0.5, true, undefined)).toThrow(StateError);
    x.dispose();
  });

  it('draws reproducible masks from the stream, new ones per call, scaled by 1 / (1 - rate), without leaks', () => {
    const x = tf.ones([64, 64]);
    const before = tf.memory().numTensors;
    const run = (rng: ReturnType<typeof createRng>) => tf.tidy(() => Array.from(dropout(x, 0.25, true, rng).dataSync()));
    const a = createRng(1);
    const b = createRng(1);
    const first = run(a);
    expect(run(b)).toEqual(first);
    expect(run(a)).not.toEqual(first);
    expect(new Set(first)).toEqual(new Set([0, Math.fround(1 / 0.75)]));
    const kept = first.filter((v) => v > 0).length / first.length;
    expect(kept).toBeGreaterThan(0.7);
    expect(kept).toBeLessThan(0.8);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('checks the mask arguments', () => {
    expect(dropoutMask(5, 0.5, 1)).toHaveLength(5);
    expect(() => dropoutMask(5, 1, 1)).toThrow(ConfigError);
    expect(() => dropoutMask(-1, 0.5, 1)).toThrow(ConfigError);
  });
});
