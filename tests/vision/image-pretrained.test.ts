import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, ModelFormatError, createRng, encoders } from '@mmfuse/core';
import { ImagePretrainedEncoder } from '@mmfuse/vision-cnn';
import type { PreparedImageFeatures } from '@mmfuse/vision-cnn';
import { encode, noise } from './helpers.js';

// Made by scripts/make-vision-fixtures.py: a tiny random ViT (patch 8, 32×32, width 32) and torch's output.
const folder = path.resolve(__dirname, '../fixtures/vision/tiny-vit');
const ref = JSON.parse(readFileSync(path.join(folder, 'reference.json'), 'utf8')) as Record<string, { shape: number[]; data: number[] }>;
const sample = readFileSync(path.join(folder, 'sample.png'));
const scratch = mkdtempSync(path.join(tmpdir(), 'mmfuse-vit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function expectClose(actual: Float32Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  expected.forEach((e, i) => { worst = Math.max(worst, Math.abs((actual[i] as number) - e)); });
  expect(worst).toBeLessThan(1e-4);
}

describe('image/pretrained encoder (tiny ViT, ONNX via @xenova/transformers, offline)', () => {
  const ctx = { sample: 's1', field: 'photo' };

  it("patch tokens equal torch's last_hidden_state within 1e-4", async () => {
    const enc = encoders.create('image/pretrained', { model: folder }) as ImagePretrainedEncoder;
    expect([enc.kind, enc.modality, enc.outputDim, enc.tokens]).toEqual(['image/pretrained', 'image', 32, 17]);
    const v = await enc.prepare(sample, ctx);
    expect([v.tokens, v.dim]).toEqual([17, 32]);
    expectClose(v.features, ref.last_hidden_state!.data);
    expect(structuredClone(v)).toEqual(v);
    enc.dispose();
  });

  it('cls and pooled outputs equal the reference too', async () => {
    const cls = new ImagePretrainedEncoder({ model: folder, output: 'cls' });
    const c = await cls.prepare(sample, ctx);
    expect(c.tokens).toBe(1);
    expectClose(c.features, ref.last_hidden_state!.data.slice(0, 32));
    const pooled = new ImagePretrainedEncoder({ model: folder, output: 'pooled' });
    const p = await pooled.prepare(sample, ctx);
    expectClose(p.features, ref.pooler_output!.data);
    cls.dispose();
    pooled.dispose();
  });

  it('resizes other images to the model size, collates, encodes with a mask, leaks nothing, has no weights', async () => {
    const enc = new ImagePretrainedEncoder({ model: folder });
    const png = await encode(noise(50 * 40 * 3, 5), 50, 40, 3, 'png');
    const values: PreparedImageFeatures[] = [await enc.prepare(png, ctx), await enc.prepare(sample, ctx)];
    expect(values[0]!.features).not.toEqual(values[1]!.features);
    enc.build(createRng(1));
    expect(enc.trainableWeights).toEqual([]);
    expect(enc.weights).toEqual([]);
    const batch = enc.collate(values);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = tf.tidy(() => enc.encode(batch, { training: true }));
      expect(out.features.shape).toEqual([2, 17, 32]);
      expect(Array.from(out.mask.dataSync())).toEqual(new Array(34).fill(1));
      tf.dispose([out.features, out.mask]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expectClose(batch.features!.dataSync().subarray(17 * 32) as Float32Array, ref.last_hidden_state!.data);
    // padding: a 1-token value next to a 17-token one gets mask 0 after its token
    const cls = { features: values[1]!.features.slice(0, 32), tokens: 1, dim: 32 };
    const mixed = enc.collate([cls, values[0]!]);
    expect(Array.from(mixed.mask!.dataSync()).slice(0, 17)).toEqual([1, ...new Array(16).fill(0)]);
    tf.dispose([...Object.values(batch), ...Object.values(mixed)]);
    // config round trip through the registry
    const copy = encoders.create('image/pretrained', enc.getConfig());
    expect(copy.getConfig()).toEqual(enc.getConfig());
    expect(await copy.prepare(png, ctx)).toEqual(values[0]);
    copy.dispose();
    expect(enc.getState()).toEqual({});
    enc.dispose();
  });

  it('bad input and bad model folders: typed errors', async () => {
    const enc = new ImagePretrainedEncoder({ model: folder });
    await expect(enc.prepare(new Uint8Array(0), ctx)).rejects.toThrow(/sample "s1", field "photo": image bytes are empty/);
    await expect(enc.prepare(Buffer.from('not an image'), ctx)).rejects.toThrow(InvalidInputError);
    expect(() => enc.collate([{ features: new Float32Array(5), tokens: 1, dim: 5 }])).toThrow(/expected tokens × 32/);
    expect(() => new ImagePretrainedEncoder({ model: '' })).toThrow(ConfigError);
    expect(() => new ImagePretrainedEncoder({ model: path.join(scratch, 'none') })).toThrow(ModelFormatError);
    // a folder with configs but no ONNX file fails when the model is first needed
    const broken = path.join(scratch, 'no-onnx');
    cpSync(folder, broken, { recursive: true, filter: (src) => !src.endsWith('.onnx') });
    const b = new ImagePretrainedEncoder({ model: broken });
    await expect(b.prepare(sample, ctx)).rejects.toThrow(ModelFormatError);
    // a preprocessor that does not resize refuses images of another size
    const fixed = path.join(scratch, 'no-resize');
    cpSync(folder, fixed, { recursive: true });
    const pre = JSON.parse(readFileSync(path.join(fixed, 'preprocessor_config.json'), 'utf8'));
    writeFileSync(path.join(fixed, 'preprocessor_config.json'), JSON.stringify({ ...pre, do_resize: false }));
    const f = new ImagePretrainedEncoder({ model: fixed });
    expectClose((await f.prepare(sample, ctx)).features, ref.last_hidden_state!.data);
    await expect(f.prepare(await encode(noise(20 * 20 * 3), 20, 20, 3, 'png'), ctx)).rejects.toThrow(/sample "s1", field "photo": image is 20×20 but the model takes 32×32/);
    enc.dispose();
    f.dispose();
  });
});
