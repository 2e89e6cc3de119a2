/**
 * `audio/phonetic` with `output: 'phonemes'` and a reader: the collapsed CTC posteriors agree with greedy
 * CTC decoding, phoneme sequences (e.g. of typed text) batch with clips in any order, a frozen acoustic
 * model trains only the reader, and runs in `prepare` (batched, the same values as in `encode`); declared
 * options catch typos; a saved config carries the architecture instead of the pretrained folder.
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRng, encoders } from '@mmfuse/core';
import type { EncoderOutput, JsonObject } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import type { AudioPhoneticEncoderConfig, PreparedPhonemeSequence, PreparedPhoneticAudio, PreparedPhoneticInput } from '@mmfuse/audio';

const SYMBOLS = ['a', 'b', 'c', 'd'];
const small: AudioPhoneticEncoderConfig = { convChannels: [8, 8], hiddenSize: 6, layers: 1, dropout: 0, nMels: 16, ctcSymbols: SYMBOLS };

function clip(seconds: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: Math.round(seconds * 16000) }, (_, i) => 0.2 * rng.normal() + 0.4 * Math.sin(i * (0.02 + 0.013 * seed)) * Math.sin(i / 900));
}

async function audio(enc: AudioPhoneticEncoder, seeds: number[]): Promise<PreparedPhoneticAudio[]> {
  return Promise.all(seeds.map((s, i) => enc.prepareAudio({ samples: clip(0.3 + 0.1 * (s % 4), s), sampleRateHz: 16000 }, { sample: i, field: 'audio' })));
}

/** Same weights in `to` as in `from` (acoustic part first, in order). */
function copyWeights(from: AudioPhoneticEncoder, to: AudioPhoneticEncoder, count = from.weights.length): void {
  for (let i = 0; i < count; i++) (to.weights[i] as tf.Variable).assign(from.weights[i] as tf.Variable);
}

function encodeRows(enc: AudioPhoneticEncoder, values: PreparedPhoneticInput[]): { features: number[][][]; mask: number[][]; heard: string[][] } {
  return tf.tidy(() => {
    const out: EncoderOutput = enc.encode(enc.collate(values), { training: false });
    return { features: out.features.arraySync() as number[][][], mask: out.mask.arraySync() as number[][], heard: enc.transcribe(out) };
  });
}

describe('audio/phonetic output "phonemes"', () => {
  it('collapses CTC posteriors to one distribution per greedily decoded phoneme', async () => {
    const hidden = new AudioPhoneticEncoder(small);
    hidden.build(createRng(1));
    const phonemes = new AudioPhoneticEncoder({ ...small, output: 'phonemes' });
    phonemes.build(createRng(2));
    copyWeights(hidden, phonemes);
    expect(phonemes.outputDim).toBe(SYMBOLS.length);
    const values = await audio(hidden, [1, 2, 3, 4]);
    const greedy = encodeRows(hidden, values).heard;
    const out = encodeRows(phonemes, values);
    expect(greedy.some((h) => h.length > 1)).toBe(true);
    out.mask.forEach((row, b) => {
      const n = row.filter((m) => m === 1).length;
      // As many phonemes as greedy decoding finds (one, the least blank frame, when it finds none).
      expect(n).toBe(Math.max(1, (greedy[b] as string[]).length));
      if ((greedy[b] as string[]).length > 0) expect(out.heard[b]).toEqual(greedy[b]);
      out.features[b]?.forEach((dist, l) => {
        const sum = dist.reduce((x, y) => x + y, 0);
        if (l < n) expect(sum).toBeCloseTo(1, 5);
        else expect(dist.every((v) => v === 0)).toBe(true);
      });
    });
    hidden.dispose(); phonemes.dispose();
  });

  it('batches phoneme sequences with clips in any order; phonemeSequence checks its symbols', async () => {
    const enc = new AudioPhoneticEncoder({ ...small, output: 'phonemes', reader: { hiddenSize: 5 } });
    enc.build(createRng(3));
    expect(enc.outputDim).toBe(10);
    const [a0, a1] = await audio(enc, [5, 6]);
    const seq = enc.phonemeSequence(['b', 'a', 'd'], { smoothing: 0.2 });
    expect(seq.length).toBe(3);
    expect(Array.from(seq.phonemes.slice(0, 4)).map((v) => Number(v.toFixed(3)))).toEqual([0.05, 0.85, 0.05, 0.05]);
    const mixed = encodeRows(enc, [a0 as PreparedPhoneticAudio, seq, a1 as PreparedPhoneticAudio]);
    const clips = encodeRows(enc, [a0 as PreparedPhoneticAudio, a1 as PreparedPhoneticAudio]);
    const alone = encodeRows(enc, [seq]);
    const close = (x: number[][], y: number[][], n: number): void => {
      for (let l = 0; l < n; l++) (x[l] as number[]).forEach((v, i) => expect(v).toBeCloseTo((y[l] as number[])[i] as number, 5));
    };
    const n0 = (clips.mask[0] as number[]).filter((m) => m === 1).length;
    const n1 = (clips.mask[1] as number[]).filter((m) => m === 1).length;
    close(mixed.features[0] as number[][], clips.features[0] as number[][], n0);
    close(mixed.features[2] as number[][], clips.features[1] as number[][], n1);
    close(mixed.features[1] as number[][], alone.features[0] as number[][], 3);
    expect((mixed.mask[1] as number[]).filter((m) => m === 1)).toHaveLength(3);
    expect(mixed.heard[1]).toEqual(['b', 'a', 'd']);
    expect(() => enc.phonemeSequence(['b', 'zz'])).toThrow(InvalidInputError);
    expect(() => enc.phonemeSequence([])).toThrow(/empty/);
    const hiddenOut = new AudioPhoneticEncoder(small);
    hiddenOut.build(createRng(4));
    expect(() => hiddenOut.phonemeSequence(['a'])).toThrow(ConfigError);
    expect(() => hiddenOut.collate([seq])).toThrow(InvalidInputError);
    enc.dispose(); hiddenOut.dispose();
  });

  it('with freeze, only the reader trains (every reader weight gets a gradient); no tensors leak', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-phonemes-'));
    const base = new AudioPhoneticEncoder(small);
    base.build(createRng(5));
    await base.save(dir);
    const enc = new AudioPhoneticEncoder({ pretrained: dir, freeze: true, output: 'phonemes', reader: { hiddenSize: 4, layers: 2 } });
    enc.build(createRng(6));
    expect(enc.trainableWeights).toHaveLength(2 * 2 * 4);
    expect(enc.weightNames().filter((n) => n.startsWith('reader.'))).toHaveLength(16);
    const values: PreparedPhoneticInput[] = [...await audio(base, [7]), enc.phonemeSequence(['c', 'c', 'a'])];
    const acousticBefore = enc.weights.slice(0, 8).map((w) => w.dataSync().slice());
    const batch = enc.collate(values);
    const { value, grads } = tf.variableGrads(() => enc.encode(batch, { training: true, rng: createRng(1) }).features.square().mean() as tf.Scalar, enc.trainableWeights);
    for (const w of enc.trainableWeights) expect((grads[w.name] as tf.Tensor).abs().sum().dataSync()[0], w.name).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    const opt = tf.train.sgd(0.1);
    tf.dispose(opt.minimize(() => enc.encode(batch, { training: true, rng: createRng(2) }).features.square().mean() as tf.Scalar, true, enc.trainableWeights) ?? []);
    enc.weights.slice(0, 8).forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(acousticBefore[i] as Float32Array)));
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(() => { enc.transcribe(enc.encode(batch, { training: i === 1, rng: createRng(i) })); });
    expect(tf.memory().numTensors).toBe(count);
    opt.dispose(); tf.dispose(Object.values(batch)); base.dispose(); enc.dispose();
  });

  it('a frozen acoustic model runs in prepare, batched: the same sequences as encode computes from the clips', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-phonemes-'));
    const base = new AudioPhoneticEncoder(small);
    base.build(createRng(8));
    await base.save(dir);
    const frozen = new AudioPhoneticEncoder({ pretrained: dir, freeze: true, output: 'phonemes' });
    expect(frozen.acousticAtPrepare).toBe(true);
    const key = frozen.preparedKey();
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    const seeds = [9, 10, 11, 12, 13];
    const raws = seeds.map((s) => ({ samples: clip(0.3 + 0.1 * (s % 4), s), sampleRateHz: 16000 }));
    // Concurrent prepares share one acoustic pass; one at a time gives the same values.
    const together = await Promise.all(raws.map((r, i) => frozen.prepare(r, { sample: i, field: 'audio' }))) as PreparedPhonemeSequence[];
    const oneByOne: PreparedPhonemeSequence[] = [];
    for (const [i, r] of raws.entries()) oneByOne.push(await frozen.prepare(r, { sample: i, field: 'audio' }) as PreparedPhonemeSequence);
    const live = new AudioPhoneticEncoder({ ...small, output: 'phonemes' });
    live.build(createRng(0));
    copyWeights(base, live);
    const fromEncode = encodeRows(live, await audio(live, seeds));
    together.forEach((p, b) => {
      expect(p.length).toBe((fromEncode.mask[b] as number[]).filter((m) => m === 1).length);
      Array.from(p.phonemes).forEach((v, i) => {
        expect(v).toBeCloseTo((oneByOne[b] as PreparedPhonemeSequence).phonemes[i] as number, 5);
        expect(v).toBeCloseTo(((fromEncode.features[b] as number[][])[Math.floor(i / SYMBOLS.length)] as number[])[i % SYMBOLS.length] as number, 5);
      });
    });
    frozen.build(createRng(1));
    expect(encodeRows(frozen, together).heard).toEqual(fromEncode.heard);
    // Other weights, another key (the prepared-value cache never mixes them up).
    const other = new AudioPhoneticEncoder(small);
    other.build(createRng(99));
    const dir2 = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-phonemes-'));
    await other.save(dir2);
    expect(new AudioPhoneticEncoder({ pretrained: dir2, freeze: true, output: 'phonemes' }).preparedKey()).not.toBe(key);
    expect(new AudioPhoneticEncoder(small).preparedKey()).toBeUndefined();
    for (const e of [base, frozen, live, other]) e.dispose();
  });

  it('declares its options (typos refused with a suggestion); savedConfig replaces the pretrained folder by the architecture', async () => {
    expect(() => encoders.create('audio/phonetic', { hiddenSise: 8 })).toThrow(/hiddenSise.*did you mean "hiddenSize"/);
    expect(() => encoders.create('audio/phonetic', { output: 'words' })).toThrow(ConfigError);
    expect(() => new AudioPhoneticEncoder({ ...small, ctcSymbols: null, output: 'phonemes' })).toThrow(/needs a CTC head/);
    expect(() => encoders.create('audio/phonetic', { reader: { hiddenSize: 0 } })).toThrow(ConfigError);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-phonemes-'));
    const base = new AudioPhoneticEncoder({ ...small, reader: { hiddenSize: 3 }, augment: { gain: null } });
    base.build(createRng(1));
    expect(base.savedConfig()).toBeUndefined();
    await base.save(dir);
    // The folder holds the acoustic model only: no reader, no training settings.
    const loaded = encoders.create('audio/phonetic', { pretrained: dir, freeze: true, output: 'phonemes', reader: { hiddenSize: 7 } }) as AudioPhoneticEncoder;
    const saved = loaded.savedConfig() as JsonObject;
    expect(saved.pretrained).toBeUndefined();
    expect(saved).toMatchObject({ convChannels: [8, 8], hiddenSize: 6, ctcSymbols: SYMBOLS, output: 'phonemes', reader: { hiddenSize: 7, layers: 1 }, freeze: true, augment: null });
    const twin = encoders.create('audio/phonetic', saved) as AudioPhoneticEncoder;
    expect(twin.getConfig()).toEqual(loaded.getConfig());
    for (const e of [base, loaded, twin]) e.dispose();
  });
});
