/**
 * The speech encoder in fusion, with real synthesized speech (Flite and espeak-ng) and small models:
 * a pretrained `audio/phonetic` folder loaded by a fusion config (frozen or trained), the CTC loss kept as
 * an auxiliary term on the samples that have a phoneme transcript, the text branch distilled into the voice
 * branch on paired samples, the text's phonemes as voice training data, missing modalities, and `predict`
 * showing what it heard. The pretrained folder holds random weights (pretraining itself is tested in
 * pretrain.test.ts): these tests check the mechanics, not recognition quality. No timing assertions.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRng, isMmfuseError } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import '@mmfuse/text-rnn';
import { FusionModel, modalityDistillationLoss } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { PHONEMES, ctcAuxLoss, phonemeTextLoss, synthesizeCorpus } from '@mmfuse/speech';
import { main } from 'mmfuse';

const INTENTS: Record<string, string[]> = { yes: ['yes', 'yes please'], no: ['no', 'no thanks'], help: ['help', 'help me'] };
const VOICES = ['flite:slt', 'flite:rms', 'espeak-ng:en-us'];
const ACOUSTIC = { convChannels: [16, 16], hiddenSize: 16, layers: 1, dropout: 0, nMels: 24, ctcSymbols: [...PHONEMES] };

type Sample = { id: string; fields: Record<string, unknown> };
let dir: string;
let encoderDir: string;
/** Paired (text + audio + phonemes), typed-only (text + phonemes) and voice-only (audio + phonemes) samples. */
let paired: Sample[];
let voiceOnly: Sample[];
let typedOnly: Sample[];

function config(audioEncoder: JsonObject, epochs = 4): FusionModelConfig {
  return {
    inputs: {
      text: { type: 'text', encoder: { kind: 'rnn', embeddingDim: 8, hiddenSize: 8, cell: 'gru' } },
      audio: { type: 'audio', encoder: { kind: 'phonetic', ...audioEncoder } },
    },
    fusion: { strategy: 'transformer' as const, dModel: 16, layers: 1, heads: 2, ffDim: 32, dropout: 0, modalityDropout: 0 },
    output: { field: 'label', type: 'category' as const },
    training: { epochs, batchSize: 8, learningRate: 5e-3, warmupSteps: 2, seed: 3, validationSplit: 0, earlyStoppingPatience: null },
  };
}

/** The acoustic weights of a model's audio encoder, as plain arrays. */
function acousticWeights(model: FusionModel): number[][] {
  const enc = model.state.encoders[model.state.fields.indexOf('audio')] as AudioPhoneticEncoder;
  return enc.weights.map((w) => Array.from(w.dataSync()));
}

/** Mean KL(text-only || voice-only) over the paired samples, from `predictBatch` of each view. */
async function disagreement(model: FusionModel, samples: Sample[]): Promise<number> {
  const probs = async (keep: string): Promise<Record<string, number>[]> => (await model.predictBatch(samples.map((s) => ({ [keep]: s.fields[keep] })))).map((o) => {
    if (!o.ok) throw o.error;
    return o.value.probabilities as Record<string, number>;
  });
  const t = await probs('text');
  const v = await probs('audio');
  let sum = 0;
  t.forEach((p, i) => {
    const q = v[i] as Record<string, number>;
    for (const k of Object.keys(p)) sum += (p[k] as number) * Math.log(((p[k] as number) + 1e-9) / ((q[k] as number) + 1e-9));
  });
  return sum / samples.length;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-fusion-voice-'));
  const texts = path.join(dir, 'texts.jsonl');
  const rows = Object.entries(INTENTS).flatMap(([label, list]) => list.map((text, i) => ({ id: `${label}${i}`, text, label })));
  writeFileSync(texts, rows.map((r) => JSON.stringify(r)).join('\n'));
  const corpus = await synthesizeCorpus({ manifest: texts, out: path.join(dir, 'speech'), voices: VOICES, perText: VOICES.length });
  const clips = readFileSync(corpus.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text: string; label: string; audio: string; phonemes: string; voice: string; sourceId: string });
  expect(clips).toHaveLength(18);
  const abs = (a: string): string => path.resolve(path.dirname(corpus.manifest), a);
  paired = clips.filter((c) => c.voice !== 'espeak-ng:en-us').map((c) => ({ id: `p-${c.id}-${c.voice}`, fields: { text: c.text, audio: abs(c.audio), phonemes: c.phonemes, label: c.label } }));
  voiceOnly = clips.filter((c) => c.voice === 'espeak-ng:en-us').map((c) => ({ id: `v-${c.id}`, fields: { audio: abs(c.audio), phonemes: c.phonemes, label: c.label } }));
  typedOnly = rows.map((r) => ({ id: `t-${r.id}`, fields: { text: r.text, phonemes: (clips.find((c) => c.sourceId === r.id) as { phonemes: string }).phonemes, label: r.label } }));
  // A "pretrained" folder as pretrainSpeechEncoder writes it (random weights: mechanics only).
  encoderDir = path.join(dir, 'encoder');
  const enc = new AudioPhoneticEncoder(ACOUSTIC);
  enc.build(createRng(1));
  await enc.save(encoderDir, { note: 'test' });
  enc.dispose();
}, 600_000);

describe('audio/phonetic in fusion', () => {
  it('loads a pretrained folder: frozen weights stay, unfrozen ones train; the saved model loads without the folder', async () => {
    const frozen = FusionModel.create(config({ pretrained: encoderDir, freeze: true }, 2));
    await frozen.fit([...paired, ...voiceOnly], { progress: 'none' });
    const reference = new AudioPhoneticEncoder({ pretrained: encoderDir });
    reference.build(createRng(0));
    const original = reference.weights.map((w) => Array.from(w.dataSync()));
    expect(acousticWeights(frozen)).toEqual(original);
    expect((frozen.state.encoders[1] as AudioPhoneticEncoder).trainableWeights).toHaveLength(0);

    const trained = FusionModel.create(config({ pretrained: encoderDir, freeze: false }, 2));
    await trained.fit([...paired, ...voiceOnly], { progress: 'none' });
    const moved = acousticWeights(trained).filter((w, i) => JSON.stringify(w) !== JSON.stringify(original[i]));
    expect(moved.length).toBeGreaterThanOrEqual(original.length - 2);

    // The model folder records the architecture, not the pretrained path: it loads after the folder is gone.
    const copy = path.join(dir, 'encoder-copy');
    cpSync(encoderDir, copy, { recursive: true });
    const viaCopy = FusionModel.create(config({ pretrained: copy, freeze: true }, 1));
    await viaCopy.fit(paired, { progress: 'none' });
    const saved = path.join(dir, 'model-frozen');
    await viaCopy.save(saved);
    rmSync(copy, { recursive: true });
    const loaded = await FusionModel.load(saved);
    const probe = voiceOnly.slice(0, 3).map((s) => ({ audio: s.fields.audio }));
    const a = await viaCopy.predictBatch(probe);
    const b = await loaded.predictBatch(probe);
    b.forEach((o, i) => {
      expect(o.ok).toBe(true);
      const p = (o as { value: { probabilities: Record<string, number> } }).value.probabilities;
      const q = ((a[i] as typeof o) as { value: { probabilities: Record<string, number> } }).value.probabilities;
      for (const k of Object.keys(q)) expect(p[k]).toBeCloseTo(q[k] as number, 5);
    });
    expect(JSON.stringify(JSON.parse(readFileSync(path.join(saved, 'model.json'), 'utf8')))).not.toContain('encoder-copy');
    for (const m of [frozen, trained, viaCopy, loaded]) m.dispose();
    reference.dispose();
  }, 600_000);

  it('keeps CTC as an auxiliary loss on the samples with a transcript; an unknown phoneme names its sample', async () => {
    const model = FusionModel.create(config({ pretrained: encoderDir }, 6));
    const h = await model.fit([...paired, ...voiceOnly, ...typedOnly], { progress: 'none', keepFields: ['phonemes'], lossTerms: [ctcAuxLoss({ weight: 0.5 })] });
    const ctc = h.epochs.map((e) => e.losses?.ctc as number);
    expect(ctc.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    expect(ctc[ctc.length - 1], ctc.join(' ')).toBeLessThan(0.8 * (ctc[0] as number));
    for (const e of h.epochs) expect(e.trainLoss).toBeCloseTo((e.losses?.head as number) + 0.5 * (e.losses?.ctc as number), 3);
    // Without the transcripts kept, nothing to learn from: the term adds 0 (text-only batches too).
    const none = FusionModel.create(config({ pretrained: encoderDir }, 1));
    const h0 = await none.fit(typedOnly, { progress: 'none', keepFields: ['phonemes'], lossTerms: [ctcAuxLoss()] });
    expect(h0.epochs[0]?.losses?.ctc).toBe(0);
    const bad = [{ id: 'bad-one', fields: { ...(voiceOnly[0] as Sample).fields, phonemes: 'y eh zz' } }, ...voiceOnly.slice(1)];
    const err = await FusionModel.create(config({ pretrained: encoderDir }, 1)).fit(bad, { progress: 'none', keepFields: ['phonemes'], lossTerms: [ctcAuxLoss()] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(String((err as Error).message)).toMatch(/"zz"/);
    expect(isMmfuseError(err) && JSON.stringify(err.toJSON())).toMatch(/bad-one/);
    // An encoder without a CTC head: a ConfigError saying so.
    const noHead = new AudioPhoneticEncoder({ ...ACOUSTIC, ctcSymbols: null });
    noHead.build(createRng(2));
    const noHeadDir = path.join(dir, 'no-head');
    await noHead.save(noHeadDir);
    noHead.dispose();
    await expect(FusionModel.create(config({ pretrained: noHeadDir }, 1)).fit(voiceOnly, { progress: 'none', keepFields: ['phonemes'], lossTerms: [ctcAuxLoss()] })).rejects.toThrow(/no CTC head/);
    model.dispose(); none.dispose();
  }, 600_000);

  it('distils the text branch into the voice branch on paired samples: voice-only predictions move towards text-only ones', async () => {
    const data = [...paired, ...typedOnly];
    const plain = FusionModel.create(config({ pretrained: encoderDir, freeze: true }, 8));
    await plain.fit(data, { progress: 'none', headLossWeight: 1 });
    const distilled = FusionModel.create(config({ pretrained: encoderDir, freeze: true }, 8));
    const h = await distilled.fit(data, { progress: 'none', lossTerms: [modalityDistillationLoss({ teacher: ['text'], student: ['audio'], weight: 2 })] });
    const kl = h.epochs.map((e) => e.losses?.['modality-distill'] as number);
    expect(kl.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    const dPlain = await disagreement(plain, paired);
    const dDistilled = await disagreement(distilled, paired);
    expect(dDistilled, `KL(text || voice): distilled ${dDistilled}, plain ${dPlain}`).toBeLessThan(0.7 * dPlain);
    expect(() => modalityDistillationLoss({ teacher: ['text'], student: ['text'] })).toThrow(ConfigError);
    expect(() => modalityDistillationLoss({ teacher: [], student: ['audio'] })).toThrow(ConfigError);
    await expect(FusionModel.create(config({ pretrained: encoderDir, freeze: true }, 1)).fit(paired, { progress: 'none', lossTerms: [modalityDistillationLoss({ teacher: ['image'], student: ['audio'] })] })).rejects.toThrow(/"image" is not an input/);
    plain.dispose(); distilled.dispose();
  }, 600_000);

  it('trains the voice path from typed text alone (phonemes through the reader); missing modalities and "heard" in predict; no leaks', async () => {
    const cfg = config({ pretrained: encoderDir, freeze: true, output: 'phonemes', reader: { hiddenSize: 8 } }, 3);
    const model = FusionModel.create(cfg);
    const term = phonemeTextLoss({ noise: { substitution: 0.1, deletion: 0.05, insertion: 0.03 } });
    const h = await model.fit([...typedOnly, ...paired], { progress: 'none', keepFields: ['phonemes'], lossTerms: [term] });
    const tl = h.epochs.map((e) => e.losses?.['text-as-speech'] as number);
    expect(tl.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    // The term trains the reader: its weights differ from an identical run without it.
    const without = FusionModel.create(cfg);
    await without.fit([...typedOnly, ...paired], { progress: 'none', keepFields: ['phonemes'] });
    const reader = (m: FusionModel): number[] => Array.from(((m.state.encoders[1] as AudioPhoneticEncoder).trainableWeights[0] as tf.Variable).dataSync());
    expect(reader(model)).not.toEqual(reader(without));

    // Missing modalities: text only, voice only, both; each prediction says what it used; "heard" only with audio.
    const s = paired[0] as Sample;
    const both = await model.predict({ text: s.fields.text, audio: s.fields.audio });
    const textOnly = await model.predict({ text: s.fields.text });
    const voice = await model.predict({ audio: s.fields.audio });
    expect(both.modalitiesUsed.sort()).toEqual(['audio', 'text']);
    expect(textOnly.modalitiesUsed).toEqual(['text']);
    expect(voice.modalitiesUsed).toEqual(['audio']);
    expect(textOnly.heard).toBeUndefined();
    expect(voice.heard?.audio).toMatch(/^[a-z]+( [a-z]+)*$/);
    for (const p of (voice.heard?.audio as string).split(' ')) expect(PHONEMES).toContain(p);
    expect(both.heard).toEqual(voice.heard);
    // A bad clip refuses its own request only.
    const batch = await model.predictBatch([{ audio: path.join(dir, 'texts.jsonl') }, { audio: s.fields.audio }, { text: 'help' }]);
    expect(batch.map((o) => o.ok)).toEqual([false, true, true]);
    // The hidden-output encoder transcribes by greedy CTC decoding too.
    const hidden = FusionModel.create(config({ pretrained: encoderDir, freeze: true }, 1));
    await hidden.fit(paired, { progress: 'none' });
    const greedy = await hidden.predict({ audio: s.fields.audio });
    expect(typeof greedy.heard?.audio).toBe('string');
    // `mmfuse predict` shows it, in JSON and in text.
    const saved = path.join(dir, 'model-heard');
    await model.save(saved);
    let out = '';
    const io = { stdout: (t: string) => { out += t; }, stderr: () => {}, cwd: dir };
    expect(await main(['predict', '--model', saved, '--input', `audio=${s.fields.audio as string}`, '--json'], io)).toBe(0);
    expect((JSON.parse(out) as { heard?: Record<string, string> }).heard).toEqual(voice.heard);
    out = '';
    expect(await main(['predict', '--model', saved, '--input', `audio=${s.fields.audio as string}`], io)).toBe(0);
    expect(out).toContain(`heard (audio): ${voice.heard?.audio as string}`);

    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await model.predict({ audio: s.fields.audio });
      await model.predictBatch([{ text: 'no' }, { audio: s.fields.audio, text: 'yes' }]);
    }
    expect(tf.memory().numTensors).toBe(before);
    await model.fit(typedOnly.slice(0, 4), { progress: 'none', keepFields: ['phonemes'], lossTerms: [term], epochs: 1 });
    const afterFit = tf.memory().numTensors;
    await model.fit(typedOnly.slice(0, 4), { progress: 'none', keepFields: ['phonemes'], lossTerms: [term], epochs: 1 });
    expect(tf.memory().numTensors).toBe(afterFit);
    model.dispose(); without.dispose(); hidden.dispose();
  }, 600_000);
});
