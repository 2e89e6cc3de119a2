/**
 * `audio/cnn`: the CONVENTIONS encoder checklist (shape, masking, training step, gradients, config round
 * trip, no tensor leaks), batch independence, prepare's inputs and typed errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, LimitExceededError, MmfuseError, StateError, createRng, encoders } from '@mmfuse/core';
import { AudioCnnEncoder, logMel } from '@mmfuse/audio';
import type { AudioCnnEncoderConfig, PreparedAudio } from '@mmfuse/audio';
import { pcm16, rawWav, sine } from './wav-writer.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-audio-enc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const small: AudioCnnEncoderConfig = { channels: [4, 8], dropout: 0.2 };

function noise(seconds: number, seed: number, rate = 16000): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => 0.1 * rng.normal() + 0.3 * Math.sin(i * (0.05 + seed * 0.01)));
}

async function prepareAll(enc: AudioCnnEncoder, clips: Float32Array[]): Promise<PreparedAudio[]> {
  return Promise.all(clips.map((samples, i) => enc.prepare({ samples, sampleRateHz: 16000 }, { sample: i, field: 'audio' })));
}

function run(enc: AudioCnnEncoder, values: PreparedAudio[], training = false, seed = 0): { features: number[][][]; mask: number[][] } {
  return tf.tidy(() => {
    const batch = enc.collate(values);
    const out = enc.encode(batch, { training, rng: createRng(seed) });
    return { features: out.features.arraySync(), mask: out.mask.arraySync() };
  });
}

describe('audio/cnn encoder', () => {
  it('is registered on import and builds from the registry', () => {
    expect(encoders.has('audio/cnn')).toBe(true);
    const enc = encoders.create('audio/cnn', {});
    expect(enc).toBeInstanceOf(AudioCnnEncoder);
    expect(enc.modality).toBe('audio');
    // default: 64 mels, two stride-2 blocks, 32 channels -> 16 mel positions x 32 channels
    expect(enc.outputDim).toBe(512);
  });

  it('prepares paths, WAV bytes and raw samples into plain log-mel frames', async () => {
    const enc = new AudioCnnEncoder({ normalization: 'none' });
    const tone = sine(440, 16000, 0.5, 0.5);
    const bytes = rawWav({ sampleRate: 16000, data: pcm16([tone]) });
    writeFileSync(path.join(tmp, 'tone.wav'), bytes);
    const ctx = { sample: 's1', field: 'audio', baseDir: tmp };
    const fromPath = await enc.prepare('tone.wav', ctx);
    const fromBytes = await enc.prepare(bytes, ctx);
    const fromBuffer = await enc.prepare(Buffer.from(bytes), ctx);
    const decodedTone = Float32Array.from(tone, (v) => Math.round(v * 32768) / 32768);
    const fromSamples = await enc.prepare({ samples: decodedTone, sampleRateHz: 16000 }, ctx);
    expect(fromPath.frames).toBe(1 + Math.floor(8000 / 160));
    expect(fromPath.features.length).toBe(fromPath.frames * 64);
    expect(Array.from(fromBytes.features)).toEqual(Array.from(fromPath.features));
    expect(Array.from(fromBuffer.features)).toEqual(Array.from(fromPath.features));
    expect(Array.from(fromSamples.features)).toEqual(Array.from(fromPath.features));
    expect(Array.from(fromPath.features)).toEqual(Array.from(logMel(decodedTone, { sampleRateHz: 16000 }).data));
    // plain data: survives the pipeline's v8 cache
    expect(v8.deserialize(v8.serialize(fromPath))).toEqual(fromPath);
    // another rate is resampled first: 8 kHz, 0.5 s -> the same 51 frames at 16 kHz
    const at8k = await enc.prepare({ samples: sine(440, 8000, 0.5, 0.5), sampleRateHz: 8000 }, ctx);
    expect(at8k.frames).toBe(51);
  });

  it('refuses bad input with typed errors naming the sample and field', async () => {
    const enc = new AudioCnnEncoder({ maxDurationSeconds: 1 });
    const ctx = { sample: 'row-7', field: 'voice', baseDir: tmp };
    await expect(enc.prepare('missing.wav', ctx)).rejects.toThrow(InvalidInputError);
    await expect(enc.prepare('missing.wav', ctx)).rejects.toThrow(/sample "row-7", field "voice": audio file "missing.wav" does not exist/);
    await expect(enc.prepare('../escape.wav', ctx)).rejects.toThrow(/sample "row-7", field "voice": path "..\/escape.wav" escapes the data folder/);
    await expect(enc.prepare(new Uint8Array(0), ctx)).rejects.toThrow(/sample "row-7", field "voice": the audio data is empty/);
    await expect(enc.prepare(rawWav({ data: new Uint8Array(10), dataSize: 100 }), ctx)).rejects.toThrow(/sample "row-7", field "voice": truncated WAV file/);
    const nan = sine(100, 16000, 0.2);
    nan[5] = Number.NaN;
    await expect(enc.prepare({ samples: nan, sampleRateHz: 16000 }, ctx)).rejects.toThrow(/sample "row-7", field "voice": samples\[5\] is NaN/);
    await expect(enc.prepare({ samples: sine(100, 16000, 2), sampleRateHz: 16000 }, ctx)).rejects.toThrow(LimitExceededError);
    await expect(enc.prepare(rawWav({ sampleRate: 16000, data: new Uint8Array(16000 * 2 * 2) }), ctx)).rejects.toThrow(/sample "row-7", field "voice": the audio lasts 2\.00 s, over the limit of 1 s/);
    await expect(enc.prepare({ samples: new Float32Array(100), sampleRateHz: 16000 }, ctx)).rejects.toThrow(/sample "row-7", field "voice": the audio has 100 samples .* at least 201/);
    await expect(enc.prepare(42 as never, ctx)).rejects.toThrow(/sample "row-7", field "voice": expected an audio file path/);
    const trimming = new AudioCnnEncoder({ trimSilence: true });
    await expect(trimming.prepare({ samples: new Float32Array(16000), sampleRateHz: 16000 }, ctx)).rejects.toThrow(/field "voice": the audio is silent/);
    expect(() => new AudioCnnEncoder({ channels: [4], timeStride: [2, 2] })).toThrow(ConfigError);
    expect(() => new AudioCnnEncoder({ features: 'wav2vec' as never })).toThrow(/features: must be one of/);
  });

  it('outputs [B, T\', D] with a mask of each clip\'s true length, and zeros at padded steps', async () => {
    const enc = new AudioCnnEncoder(small);
    enc.build(createRng(1));
    const values = await prepareAll(enc, [noise(0.5, 1), noise(0.25, 2), noise(0.1, 3)]);
    expect(values.map((v) => v.frames)).toEqual([51, 26, 11]);
    const out = run(enc, values);
    // time: 51 -> 26 -> 13; mel: 64 -> 32 -> 16; D = 16 * 8
    expect([out.features.length, out.features[0]?.length, out.features[0]?.[0]?.length]).toEqual([3, 13, 128]);
    const expectedLengths = [13, 7, 3]; // 26 -> 13 -> 7; 11 -> 6 -> 3
    out.mask.forEach((row, b) => expect(row).toEqual(Array.from({ length: 13 }, (_, t) => (t < (expectedLengths[b] as number) ? 1 : 0))));
    out.features.forEach((seq, b) => seq.forEach((step, t) => {
      if (t >= (expectedLengths[b] as number)) expect(step.every((v) => v === 0)).toBe(true);
    }));
    const energy = (out.features[2]?.[0] ?? []).reduce((a, v) => a + Math.abs(v), 0);
    expect(energy).toBeGreaterThan(0);
    enc.dispose();
  });

  it('gives a clip the same outputs alone as batched with longer clips', async () => {
    for (const cfg of [small, { channels: [4, 6, 8], kernelSize: 5, timeStride: [1, 2, 3], melStride: [2, 1, 2] }]) {
      const enc = new AudioCnnEncoder(cfg);
      enc.build(createRng(2));
      const [a, b, c] = await prepareAll(enc, [noise(0.23, 4), noise(0.61, 5), noise(0.4, 6)]);
      const alone = run(enc, [a as PreparedAudio]);
      const batched = run(enc, [b as PreparedAudio, a as PreparedAudio, c as PreparedAudio]);
      const len = alone.mask[0]?.filter((m) => m === 1).length as number;
      expect(len).toBe(alone.features[0]?.length);
      expect(batched.mask[1]?.slice(0, len).every((m) => m === 1)).toBe(true);
      let maxDiff = 0;
      for (let t = 0; t < len; t++) {
        const x = alone.features[0]?.[t] as number[];
        const y = batched.features[1]?.[t] as number[];
        x.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - (y[i] as number))); });
      }
      expect(maxDiff).toBeLessThan(1e-5);
      enc.dispose();
    }
  });

  it('one training step changes every weight; every trainable weight gets a non-zero gradient (wasm)', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const enc = new AudioCnnEncoder(small);
    enc.build(createRng(3));
    const values = await prepareAll(enc, [noise(0.3, 7), noise(0.2, 8)]);
    const batch = enc.collate(values);
    const rng = createRng(4);
    const loss = (): tf.Scalar => {
      const out = enc.encode(batch, { training: true, rng });
      return out.features.mul(out.mask.expandDims(2)).square().mean() as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(loss, enc.trainableWeights);
    expect(enc.trainableWeights.length).toBe(4);
    for (const w of enc.trainableWeights) {
      const g = grads[w.name] as tf.Tensor;
      expect(g.shape).toEqual(w.shape);
      expect(g.abs().sum().dataSync()[0]).toBeGreaterThan(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
    const before = enc.trainableWeights.map((w) => w.dataSync().slice());
    const opt = tf.train.sgd(0.1);
    tf.dispose(opt.minimize(loss, true, enc.trainableWeights) ?? []);
    enc.trainableWeights.forEach((w, i) => {
      const now = w.dataSync();
      expect(now.some((v, j) => v !== before[i]?.[j])).toBe(true);
    });
    opt.dispose();
    tf.dispose(Object.values(batch));
    enc.dispose();
  });

  it('dropout only in training, reproducible from the rng; no tensors leak', async () => {
    const enc = new AudioCnnEncoder(small);
    enc.build(createRng(5));
    const values = await prepareAll(enc, [noise(0.3, 9), noise(0.15, 10)]);
    const inferA = run(enc, values);
    const inferB = run(enc, values);
    expect(inferB.features).toEqual(inferA.features);
    const trainA = run(enc, values, true, 11);
    const trainB = run(enc, values, true, 11);
    const trainC = run(enc, values, true, 12);
    expect(trainB.features).toEqual(trainA.features);
    expect(trainC.features).not.toEqual(trainA.features);
    expect(trainA.features).not.toEqual(inferA.features);
    // without an rng, training is refused: no unseeded fallback, every run reproducible from one seed
    const before = tf.memory().numTensors;
    expect(() => tf.tidy(() => enc.encode(enc.collate(values), { training: true }))).toThrow(StateError);
    expect(tf.memory().numTensors).toBe(before);
    const batch = enc.collate(values);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => { enc.encode(batch, { training: i % 2 === 0, rng: createRng(i) }); });
    }
    expect(tf.memory().numTensors).toBe(count);
    tf.dispose(Object.values(batch));
    expect(tf.memory().numTensors).toBe(count - 2);
    enc.dispose();
  });

  it('applies SpecAugment in training only, within each clip, reproducibly', async () => {
    const cfg: AudioCnnEncoderConfig = { ...small, dropout: 0, channels: [2], timeStride: [1], melStride: [1], kernelSize: 1, specAugment: { timeMasks: 1, timeMaskMax: 5, freqMasks: 1, freqMaskMax: 6 } };
    const enc = new AudioCnnEncoder(cfg);
    enc.build(createRng(6));
    // kernel 1, stride 1, one channel pair: a zeroed input cell gives relu(bias) = 0 at that cell
    const values = await prepareAll(enc, [noise(0.3, 12), noise(0.3, 13)]);
    const plain = run(enc, values, false);
    const aug = run(enc, values, true, 21);
    expect(run(enc, values, true, 21).features).toEqual(aug.features);
    let zeroed = 0;
    aug.features.forEach((seq, b) => seq.forEach((step, t) => step.forEach((v, i) => {
      if (v !== plain.features[b]?.[t]?.[i]) { expect(v).toBe(0); zeroed++; }
    })));
    expect(zeroed).toBeGreaterThan(0);
    // one rng object across steps (as a training loop passes it): each step draws new masks
    const stepRng = createRng(30);
    const masksOf = () => tf.tidy(() => {
      const batch = enc.collate(values);
      return enc.encode(batch, { training: true, rng: stepRng }).features.arraySync();
    });
    expect(masksOf()).not.toEqual(masksOf());
    enc.dispose();
  });

  it('augments the waveform in prepare only while training, reproducibly from the rng; needs the rng; round-trips in getConfig()', async () => {
    const augment = { noise: { probability: 1, snrDb: [0, 5] as [number, number], types: ['white' as const] } };
    const enc = new AudioCnnEncoder({ ...small, augment });
    const clip = { samples: sine(440, 16000, 0.4), sampleRateHz: 16000 };
    const ctx = { sample: 's0', field: 'audio' };
    const clean = await enc.prepare(clip, ctx);
    expect((await enc.prepare(clip, { ...ctx, training: false, rng: createRng(1) })).features).toEqual(clean.features);
    const a = await enc.prepare(clip, { ...ctx, training: true, rng: createRng(1) });
    const b = await enc.prepare(clip, { ...ctx, training: true, rng: createRng(1) });
    const c = await enc.prepare(clip, { ...ctx, training: true, rng: createRng(2) });
    expect(a.frames).toBe(clean.frames);
    expect(Array.from(a.features)).toEqual(Array.from(b.features));
    expect(Array.from(a.features)).not.toEqual(Array.from(c.features));
    // noise at 0-5 dB SNR raises the quiet mel bins of a pure tone
    const mean = (x: Float32Array): number => x.reduce((s, v) => s + v, 0) / x.length;
    expect(mean(a.features)).toBeGreaterThan(mean(clean.features));
    await expect(enc.prepare(clip, { ...ctx, training: true })).rejects.toThrow(/augmentation needs ctx.rng/);
    expect(enc.getConfig().augment).toEqual(augment);
    expect(new AudioCnnEncoder().getConfig().augment).toBeNull();
    expect(() => new AudioCnnEncoder({ augment: { noise: { snrDb: [0] } } } as unknown as AudioCnnEncoderConfig)).toThrow(ConfigError);
  });

  it('rebuilds from getConfig() + getState() through the registry with identical outputs (global normalization)', async () => {
    const enc = new AudioCnnEncoder({ ...small, normalization: 'global', features: 'mfcc', nMels: 40, nMfcc: 13 });
    const values = await prepareAll(enc, [noise(0.3, 14), noise(0.2, 15), noise(0.5, 16)]);
    expect(() => enc.collate(values)).toThrow(MmfuseError);
    enc.fit(values);
    const state = enc.getState();
    expect((state.mean as number[]).length).toBe(13);
    enc.build(createRng(7));
    const copy = encoders.create('audio/cnn', JSON.parse(JSON.stringify(enc.getConfig())));
    copy.setState(JSON.parse(JSON.stringify(state)));
    copy.build(createRng(7));
    expect(copy.getConfig()).toEqual(enc.getConfig());
    const a = run(enc, values);
    const b = run(copy as AudioCnnEncoder, values);
    expect(b.features).toEqual(a.features);
    // global normalization: features of the training set have per-bin mean ~0 and std ~1
    const batch = enc.collate(values);
    const flat = batch.features?.dataSync() as Float32Array;
    tf.dispose(Object.values(batch));
    const T = Math.max(...values.map((v) => v.frames));
    let sum = 0; let sq = 0; let n = 0;
    values.forEach((v, bi) => { for (let t = 0; t < v.frames; t++) { const x = flat[(bi * T + t) * 13 + 3] as number; sum += x; sq += x * x; n++; } });
    expect(Math.abs(sum / n)).toBeLessThan(1e-4);
    expect(Math.sqrt(sq / n - (sum / n) ** 2)).toBeCloseTo(1, 3);
    enc.dispose();
    copy.dispose();
  });

  it('fbank features and silence trimming', async () => {
    const enc = new AudioCnnEncoder({ ...small, features: 'fbank', nMels: 40, trimSilence: true });
    const clip = new Float32Array(16000);
    clip.set(noise(0.25, 17), 8000); // 0.5 s of silence, then 0.25 s of sound
    const p = await enc.prepare({ samples: clip, sampleRateHz: 16000 }, { sample: 0, field: 'a' });
    // about 0.25 s survives: (4000 - 400) / 160 + 1 = 23 Kaldi frames, plus up to one RMS frame (400 + 160 samples) of edge
    expect(p.frames).toBeGreaterThanOrEqual(22);
    expect(p.frames).toBeLessThanOrEqual(27);
    expect(enc.outputDim).toBe(10 * 8);
  });
});

describe('audio/cnn config', () => {
  it('refuses files and bytes over maxBytes before decoding, and reports the limit in its raw-input declaration', async () => {
    const wav = rawWav({ sampleRate: 16000, data: pcm16([sine(440, 16000, 0.5)]) });
    const enc = encoders.create('audio/cnn', { maxBytes: 1000 });
    expect(enc.input).toMatchObject({ kind: 'file', maxBytes: 1000 });
    expect(enc.getConfig()).toMatchObject({ maxBytes: 1000 });
    await expect(enc.prepare(wav, { sample: 'big', field: 'voice' })).rejects.toThrow(LimitExceededError);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-audio-max-'));
    writeFileSync(path.join(dir, 'a.wav'), wav);
    await expect(enc.prepare('a.wav', { sample: 'big', field: 'voice', baseDir: dir })).rejects.toThrow(/sample "big", field "voice": the file "a\.wav" is \d+ bytes, over the limit of 1000 bytes/);
    const roomy = new AudioCnnEncoder({ maxBytes: wav.byteLength });
    await expect(roomy.prepare('a.wav', { sample: 'ok', field: 'voice', baseDir: dir })).resolves.toHaveProperty('frames');
    rmSync(dir, { recursive: true, force: true });
    expect(() => new AudioCnnEncoder({ maxBytes: 0 })).toThrow(/maxBytes: must be an integer >= 1, got 0/);
    expect(() => encoders.create('audio/cnn', { nMel: 40 })).toThrow(/nMel: unknown key; did you mean "nMels"\?/);
  });


  it('accepts log-mel with fewer mel bins than the MFCC default (the unused nMfcc default follows nMels)', () => {
    const enc = new AudioCnnEncoder({ features: 'log-mel', nMels: 12 });
    expect(enc.getConfig()).toMatchObject({ nMels: 12, nMfcc: 12 });
    expect(() => new AudioCnnEncoder({ features: 'mfcc', nMels: 12, nMfcc: 13 })).toThrow(/nMfcc/);
  });
});
