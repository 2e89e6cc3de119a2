/**
 * `audio/phonetic`: the CONVENTIONS encoder checklist (shape, masking, training step, every weight gets a
 * gradient through features and the CTC head, config round trip, no tensor leaks, batch invariance),
 * training-time augmentation, pretrained folders (save/load, freeze, typed errors), transcription.
 */
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ModelFormatError, StateError, createRng, ctcLoss, encoders } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import type { AudioPhoneticEncoderConfig, PreparedPhoneticAudio } from '@mmfuse/audio';

const small: AudioPhoneticEncoderConfig = { convChannels: [8, 8], hiddenSize: 6, layers: 2, dropout: 0.2, nMels: 16, ctcSymbols: ['a', 'b', 'c'] };
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'mmfuse-phonetic-'));

function noise(seconds: number, seed: number, rate = 16000): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => 0.1 * rng.normal() + 0.3 * Math.sin(i * (0.05 + seed * 0.01)));
}

async function prepareAll(enc: AudioPhoneticEncoder, clips: Float32Array[]): Promise<PreparedPhoneticAudio[]> {
  return Promise.all(clips.map((samples, i) => enc.prepareAudio({ samples, sampleRateHz: 16000 }, { sample: i, field: 'audio' })));
}

function run(enc: AudioPhoneticEncoder, values: PreparedPhoneticAudio[], training = false, seed = 0) {
  return tf.tidy(() => {
    const out = enc.encode(enc.collate(values), { training, rng: createRng(seed) });
    return { features: out.features.arraySync(), mask: out.mask.arraySync(), logits: out.aux?.ctcLogits?.arraySync() as number[][][], lengths: Array.from(out.aux?.ctcLengths?.dataSync() ?? []) };
  });
}

describe('audio/phonetic encoder', () => {
  it('is registered, declares a file input, and validates its config with typed errors', () => {
    const enc = encoders.create('audio/phonetic', {});
    expect(enc).toBeInstanceOf(AudioPhoneticEncoder);
    expect(enc.input?.kind).toBe('file');
    expect(enc.outputDim).toBe(256);
    expect(() => new AudioPhoneticEncoder({ convChannels: [] })).toThrow(ConfigError);
    expect(() => new AudioPhoneticEncoder({ hiddenSize: 0 })).toThrow(/hiddenSize/);
    expect(() => new AudioPhoneticEncoder({ ctcSymbols: ['a', 'a'] })).toThrow(/distinct/);
    expect(() => new AudioPhoneticEncoder({ features: 'mfcc' as never })).toThrow(/features/);
    expect(() => new AudioPhoneticEncoder({ pretrained: tmp() })).toThrow(ModelFormatError);
  });

  it('outputs [B, T/4, 2H] with a mask, zeros at padded steps, CTC logits and lengths in aux', async () => {
    const enc = new AudioPhoneticEncoder(small);
    enc.build(createRng(1));
    const values = await prepareAll(enc, [noise(0.5, 1), noise(0.25, 2), noise(0.1, 3)]);
    expect(values.map((v) => v.frames)).toEqual([51, 26, 11]);
    const out = run(enc, values);
    const lengths = [13, 7, 3]; // 51 -> 26 -> 13; 26 -> 13 -> 7; 11 -> 6 -> 3
    expect(lengths).toEqual([51, 26, 11].map((f) => enc.outputFrames(f)));
    expect([out.features.length, out.features[0]?.length, out.features[0]?.[0]?.length]).toEqual([3, 13, 12]);
    expect(out.lengths).toEqual(lengths);
    expect(out.logits[0]?.[0]?.length).toBe(4);
    out.mask.forEach((row, b) => expect(row).toEqual(Array.from({ length: 13 }, (_, t) => (t < (lengths[b] as number) ? 1 : 0))));
    out.features.forEach((seq, b) => seq.forEach((step, t) => { if (t >= (lengths[b] as number)) expect(step.every((v) => v === 0)).toBe(true); }));
    enc.dispose();
  });

  it('gives a clip the same outputs alone as batched with longer clips', async () => {
    const enc = new AudioPhoneticEncoder(small);
    enc.build(createRng(2));
    const [a, b, c] = await prepareAll(enc, [noise(0.23, 4), noise(0.61, 5), noise(0.4, 6)]);
    const alone = run(enc, [a as PreparedPhoneticAudio]);
    const batched = run(enc, [b as PreparedPhoneticAudio, a as PreparedPhoneticAudio, c as PreparedPhoneticAudio]);
    const len = alone.lengths[0] as number;
    let maxDiff = 0;
    for (let t = 0; t < len; t++) {
      (alone.features[0]?.[t] as number[]).forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - (batched.features[1]?.[t]?.[i] as number))); });
      (alone.logits[0]?.[t] as number[]).forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - (batched.logits[1]?.[t]?.[i] as number))); });
    }
    expect(maxDiff).toBeLessThan(1e-5);
    enc.dispose();
  });

  it('one training step changes every weight; every trainable weight gets a non-zero gradient (features + CTC)', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const enc = new AudioPhoneticEncoder(small);
    enc.build(createRng(3));
    const values = await prepareAll(enc, [noise(0.3, 7), noise(0.2, 8)]);
    const batch = enc.collate(values);
    const rng = createRng(4);
    const loss = (): tf.Scalar => {
      const out = enc.encode(batch, { training: true, rng });
      const logProbs = tf.logSoftmax(out.aux?.ctcLogits as tf.Tensor3D) as tf.Tensor3D;
      const ctc = ctcLoss(logProbs, [[1, 2], [3]], Array.from(out.aux?.ctcLengths?.dataSync() ?? []));
      return out.features.square().mean().add(ctc) as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(loss, enc.trainableWeights);
    expect(enc.trainableWeights.length).toBe(4 + 16 + 2);
    expect(enc.weightNames()).toHaveLength(enc.weights.length);
    for (const w of enc.trainableWeights) {
      const g = grads[w.name] as tf.Tensor;
      expect(g.shape).toEqual(w.shape);
      expect(g.abs().sum().dataSync()[0], w.name).toBeGreaterThan(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
    const before = enc.trainableWeights.map((w) => w.dataSync().slice());
    const opt = tf.train.sgd(0.1);
    tf.dispose(opt.minimize(loss, true, enc.trainableWeights) ?? []);
    enc.trainableWeights.forEach((w, i) => expect(w.dataSync().some((v, j) => v !== before[i]?.[j])).toBe(true));
    opt.dispose();
    tf.dispose(Object.values(batch));
    enc.dispose();
  });

  it('dropout and SpecAugment only in training, reproducible from the rng; no tensors leak', async () => {
    const enc = new AudioPhoneticEncoder({ ...small, specAugment: { timeMasks: 1, timeMaskMax: 5, freqMasks: 1, freqMaskMax: 4 } });
    enc.build(createRng(5));
    const values = await prepareAll(enc, [noise(0.3, 9), noise(0.15, 10)]);
    expect(run(enc, values).features).toEqual(run(enc, values).features);
    expect(run(enc, values, true, 11).features).toEqual(run(enc, values, true, 11).features);
    expect(run(enc, values, true, 12).features).not.toEqual(run(enc, values, true, 11).features);
    const batch = enc.collate(values);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(() => { enc.encode(batch, { training: i % 2 === 0, rng: createRng(i) }); });
    expect(tf.memory().numTensors).toBe(count);
    tf.dispose(Object.values(batch));
    enc.dispose();
  });

  it('augments the waveform in prepare only when training, reproducibly from ctx.rng', async () => {
    const enc = new AudioPhoneticEncoder({ ...small, augment: { speed: { probability: 1 }, noise: { probability: 1, snrDb: [5, 5] } } });
    const clip = { samples: noise(0.4, 14), sampleRateHz: 16000 };
    const plain = await enc.prepareAudio(clip, { sample: 0, field: 'audio' });
    const a = await enc.prepareAudio(clip, { sample: 0, field: 'audio', training: true, rng: createRng(1) });
    const b = await enc.prepareAudio(clip, { sample: 0, field: 'audio', training: true, rng: createRng(1) });
    const c = await enc.prepareAudio(clip, { sample: 0, field: 'audio', training: true, rng: createRng(2) });
    expect(Array.from(a.features)).toEqual(Array.from(b.features));
    expect(Array.from(a.features)).not.toEqual(Array.from(plain.features));
    expect(Array.from(c.features)).not.toEqual(Array.from(a.features));
    await expect(enc.prepare(clip, { sample: 'x', field: 'audio', training: true })).rejects.toThrow(/ctx.rng/);
  });

  it('cuts silent edges before the features by default (a recording that starts with a second of silence); a silent clip is a typed error', async () => {
    const speech = noise(0.5, 21);
    const padded = new Float32Array(16000 + speech.length + 12000);
    padded.set(speech, 16000);
    const trimmed = new AudioPhoneticEncoder(small);
    const kept = new AudioPhoneticEncoder({ ...small, trimSilence: false });
    expect(trimmed.getConfig().trimSilence).toBe(true);
    const [a, b] = await prepareAll(trimmed, [speech, padded]);
    const [c, d] = await prepareAll(kept, [speech, padded]);
    expect(c?.frames).toBe(a?.frames); // nothing to cut in a clip without silent edges
    expect(Math.abs((b?.frames ?? 0) - (a?.frames ?? 0))).toBeLessThanOrEqual(4); // the edges are gone...
    expect(d?.frames).toBeGreaterThan((c?.frames ?? 0) + 160); // ...and without the cut, 1.75 s of zeros stay in
    // Per-utterance normalization: silent frames pull every speech frame's values away; cut, they stay close.
    // (Best alignment of 20 speech frames, over the few frames the cut may leave or take at the start.)
    const distance = (x: PreparedPhoneticAudio, y: PreparedPhoneticAudio, offsets: number[]): number => Math.min(...offsets.map((o) => {
      let sum = 0;
      for (let i = 0; i < 16 * 20; i++) sum += Math.abs((x.features[16 * 10 + i] as number) - (y.features[16 * (10 + o) + i] as number));
      return sum / (16 * 20);
    }));
    const near = [0, 1, 2, 3, 4];
    expect(distance(a as PreparedPhoneticAudio, b as PreparedPhoneticAudio, near)).toBeLessThan(0.5 * distance(c as PreparedPhoneticAudio, d as PreparedPhoneticAudio, near.map((o) => o + 98)));
    await expect(trimmed.prepareAudio({ samples: new Float32Array(16000), sampleRateHz: 16000 }, { sample: 'quiet', field: 'audio' })).rejects.toThrow(/sample "quiet", field "audio".*silent/);
    const dir = tmp();
    trimmed.build(createRng(3));
    await trimmed.save(dir);
    expect((JSON.parse(readFileSync(path.join(dir, 'phonetic-encoder.json'), 'utf8')) as { config: { trimSilence: boolean } }).config.trimSilence).toBe(true);
    expect(new AudioPhoneticEncoder({ pretrained: dir, trimSilence: false }).getConfig().trimSilence).toBe(false);
    trimmed.dispose();
  });

  it('getConfig rebuilds an equivalent encoder; save/load a pretrained folder; freeze; typed errors for bad folders', async () => {
    const enc = new AudioPhoneticEncoder(small);
    enc.build(createRng(6));
    const values = await prepareAll(enc, [noise(0.3, 15), noise(0.2, 16)]);
    const twin = encoders.create('audio/phonetic', enc.getConfig()) as AudioPhoneticEncoder;
    twin.build(createRng(99));
    twin.weights.forEach((w, i) => w.assign(enc.weights[i] as tf.Variable));
    expect(run(twin, values)).toEqual(run(enc, values));
    expect(twin.getConfig()).toEqual(enc.getConfig());

    const dir = tmp();
    await enc.save(dir, { per: 0.5 });
    const loaded = new AudioPhoneticEncoder({ pretrained: dir, freeze: true, dropout: 0 });
    loaded.build(createRng(7));
    expect(loaded.pretrainedMetrics).toEqual({ per: 0.5 });
    expect(loaded.trainableWeights).toEqual([]);
    expect(loaded.weights.length).toBe(enc.weights.length);
    const a = run(enc, values);
    const b = run(loaded, values);
    expect(b.features).toEqual(a.features);
    expect(loaded.transcribe(tf.tidy(() => loaded.encode(loaded.collate(values), { training: false })))).toHaveLength(2);
    expect(() => new AudioPhoneticEncoder({ pretrained: dir, hiddenSize: 64 })).toThrow(/comes from the pretrained folder/);
    const bad = tmp();
    writeFileSync(path.join(bad, 'phonetic-encoder.json'), readFileSync(path.join(dir, 'phonetic-encoder.json')));
    writeFileSync(path.join(bad, 'weights.bin'), new Uint8Array(12));
    const broken = new AudioPhoneticEncoder({ pretrained: bad });
    expect(() => broken.build(createRng(1))).toThrow(ModelFormatError);
    writeFileSync(path.join(bad, 'phonetic-encoder.json'), JSON.stringify({ format: 'other' }));
    expect(() => new AudioPhoneticEncoder({ pretrained: bad })).toThrow(/expected "mmfuse-phonetic-encoder"/);
    const headless = new AudioPhoneticEncoder({ ...small, ctcSymbols: null });
    headless.build(createRng(1));
    expect(tf.tidy(() => headless.transcribe(headless.encode(headless.collate(values), { training: false })))).toBeUndefined();
    for (const e of [enc, twin, loaded, broken, headless]) e.dispose();
  });
});
