// `build(rng, { weightsFollow: true })` (what loading a saved model asks): the same weights, shapes and order, and the
// same draws from the seeded stream, without the random values that the load overwrites at once. (The audio encoders build
// without fit: their statistics are not weights.)
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createRng, encoders } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';

const TEXTS = ['my card has not arrived', 'where is my new card', 'top up with apple pay', ''];

async function fittedEncoder(kind: string): Promise<ModalityEncoder> {
  const enc = encoders.create(kind, kind === 'text/ngram' ? { dim: 6, buckets: 64 } : kind === 'text/rnn' ? { embeddingDim: 8, hiddenSize: 8, charNgrams: { buckets: 32 } } : kind === 'audio/cnn' ? { channels: [4, 8] } : { hiddenSize: 8, layers: 1, convChannels: [8] });
  if (kind.startsWith('text/') && enc.fit !== undefined) await enc.fit(await Promise.all(TEXTS.map((t, i) => enc.prepare(t, { sample: i, field: 'text' }))));
  return enc;
}

describe.each(['text/ngram', 'text/rnn', 'audio/cnn', 'audio/phonetic'])('%s build with weightsFollow', (kind) => {
  it('creates the same weights (shapes, order) with no random values, and draws the same seeds', async () => {
    const before = tf.memory().numTensors;
    const drawn = await fittedEncoder(kind);
    const skipped = await fittedEncoder(kind);
    const [a, b] = [createRng(11), createRng(11)];
    drawn.build(a);
    skipped.build(b, { weightsFollow: true });
    expect(skipped.weights.map((w) => w.shape)).toEqual(drawn.weights.map((w) => w.shape));
    // every weight drawn at random elsewhere is zeros here (biases and the like are zeros either way)
    const randomInDrawn = drawn.weights.map((w) => tf.tidy(() => w.abs().max().dataSync()[0] as number) > 0);
    expect(randomInDrawn.some(Boolean)).toBe(true);
    for (const w of skipped.weights) expect(tf.tidy(() => w.abs().max().dataSync()[0])).toBe(0);
    // the stream is where it would be: whatever is built after this encoder gets the same values
    expect(b.nextSeed()).toBe(a.nextSeed());
    drawn.dispose?.();
    skipped.dispose?.();
    expect(tf.memory().numTensors).toBe(before); // only the weights were made, and they are gone
  });
});
