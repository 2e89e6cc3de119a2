/**
 * CTC phoneme pretraining at small scale, with the real engines: a few dozen clips of a handful of words in
 * six voices; two speakers held out. The CTC loss must fall clearly and greedy decoding on the held-out
 * speakers must beat chance by far; the folder loads as `encoder: { kind: 'phonetic', pretrained }`.
 * Sized to a minute or two on one core; no timing assertions.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, createRng, encoders } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import { PHONEMES, SpeechRecognizer, buildLexicon, decodeWords, evaluateSpeechEncoder, pretrainSpeechEncoder, searchCtcWords, synthesizeCorpus } from '@mmfuse/speech';
import type { Transcript } from '@mmfuse/speech';
import { main } from 'mmfuse';

const WORDS = ['yes', 'no', 'card', 'money', 'help', 'stop'];
const VOICES = ['flite:slt', 'flite:rms', 'flite:awb', 'espeak-ng:en-us', 'espeak-ng:en-gb+f3', 'espeak-ng:en-029+m2'];

describe('pretrainSpeechEncoder', () => {
  it('learns phonemes from a tiny synthesized corpus: loss falls, held-out speakers decoded far above chance', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-pretrain-'));
    const texts = path.join(dir, 'words.jsonl');
    writeFileSync(texts, WORDS.map((w) => JSON.stringify({ id: w, text: w })).join('\n'));
    const corpus = await synthesizeCorpus({ manifest: texts, out: path.join(dir, 'speech'), voices: VOICES, perText: VOICES.length });
    expect(corpus.clips).toBe(36);
    const out = path.join(dir, 'encoder');
    const epochs: number[] = [];
    const result = await pretrainSpeechEncoder({
      manifest: corpus.manifest, out, heldOutSpeakers: ['flite:awb', 'espeak-ng:en-gb+f3'], epochs: 100, batchSize: 4, learningRate: 5e-3, augment: false,
      encoder: { convChannels: [32, 32], hiddenSize: 32, layers: 1, dropout: 0.1 }, seed: 1, onEpoch: (e) => epochs.push(e.trainLoss),
    });
    expect(result).toMatchObject({ trainClips: 24, heldOutClips: 12, heldOutSpeakers: ['flite:awb', 'espeak-ng:en-gb+f3'] });
    const first = epochs[0] as number;
    const last = epochs[epochs.length - 1] as number;
    expect(last, `train CTC ${first} -> ${last}`).toBeLessThan(first * 0.3);
    // Chance: emitting nothing (or random phonemes) scores PER >= 1; 6 words in 39 phonemes.
    expect(result.heldOutPer, JSON.stringify(result.examples)).toBeLessThan(0.6);
    expect(result.examples.length).toBeGreaterThan(0);

    // The saved folder: the best epoch, loadable through the registry, frozen, transcribing held-out speech.
    const report = JSON.parse(readFileSync(path.join(out, 'pretrain-report.json'), 'utf8')) as { heldOutPer: number; epochs: unknown[] };
    expect(report.heldOutPer).toBe(result.heldOutPer);
    expect(report.epochs).toHaveLength(100);
    const enc = encoders.create('audio/phonetic', { pretrained: out, freeze: true }) as AudioPhoneticEncoder;
    enc.build(createRng(0));
    expect(enc.ctcSymbols).toEqual(PHONEMES);
    expect(enc.trainableWeights).toHaveLength(0);
    expect(enc.pretrainedMetrics).toMatchObject({ heldOutPer: result.heldOutPer, inventory: 'cmu-arpabet-39' });
    const rows = readFileSync(corpus.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { audio: string; phonemes: string; voice: string; text: string });
    const held = rows.filter((r) => r.voice === 'flite:awb');
    const prepared = await Promise.all(held.map((r, i) => enc.prepare(r.audio, { sample: i, field: 'audio', baseDir: path.dirname(corpus.manifest) })));
    const heard = tf.tidy(() => enc.transcribe(enc.encode(enc.collate(prepared), { training: false })))!;
    const exact = heard.filter((h, i) => h.join(' ') === held[i]?.phonemes).length;
    expect(exact, JSON.stringify(heard)).toBeGreaterThanOrEqual(2);

    // SpeechRecognizer: the same phonemes as the encoder's own transcription, words from a lexicon of the
    // corpus's words; a clip that cannot be read is its typed error in its place, the others transcribed.
    const lexicon = await buildLexicon(WORDS);
    const rec = await SpeechRecognizer.load({ encoder: out, lexicon, batchSize: 2, search: 'greedy' });
    const before = tf.memory().numTensors;
    const inputs = [...held.map((r, i) => ({ sample: `held-${i}`, audio: r.audio })), { sample: 'gone', audio: 'clips/missing.wav' }];
    const got = await rec.transcribe(inputs, { baseDir: path.dirname(corpus.manifest) });
    expect(tf.memory().numTensors).toBe(before);
    expect(got).toHaveLength(held.length + 1);
    for (const [i, t] of got.slice(0, held.length).entries()) {
      expect(t).not.toBeInstanceOf(Error);
      const tr = t as Transcript;
      expect(tr.phonemes).toEqual(heard[i]);
      expect(tr.words).toEqual(decodeWords(tr.phonemes, lexicon));
    }
    const words = got.slice(0, held.length).filter((t, i) => (t as Transcript).words?.join(' ') === held[i]?.text).length;
    expect(words, JSON.stringify(got)).toBeGreaterThanOrEqual(2);
    expect(got[held.length]).toBeInstanceOf(InvalidInputError);
    expect(String(got[held.length])).toMatch(/gone/);
    await expect(rec.transcribe('clip.wav' as unknown as [])).rejects.toThrow(InvalidInputError);
    // Malformed entries are typed errors in their place; the well-formed clip beside them is still heard.
    const mixed = await rec.transcribe([null, { sample: 'no-audio' }, inputs[0]] as unknown as typeof inputs, { baseDir: path.dirname(corpus.manifest) });
    expect(mixed[0]).toBeInstanceOf(InvalidInputError);
    expect(String(mixed[0])).toMatch(/sample 0, field "audio".*got null/);
    expect(String(mixed[1])).toMatch(/sample 1, field "audio".*no audio/);
    expect((mixed[2] as Transcript).phonemes).toEqual(heard[0]);
    rec.dispose();
    // The default search reads the frame posteriors through the lexicon: the same words as searchCtcWords on
    // the encoder's own log-softmax CTC logits, no tensor left behind.
    const beam = await SpeechRecognizer.load({ encoder: out, lexicon, batchSize: 2 });
    const beforeBeam = tf.memory().numTensors;
    const viaBeam = await beam.transcribe(inputs, { baseDir: path.dirname(corpus.manifest) });
    expect(tf.memory().numTensors).toBe(beforeBeam);
    beam.dispose();
    const posteriors = tf.tidy(() => {
      const o = enc.encode(enc.collate(prepared), { training: false });
      const lp = tf.logSoftmax(o.aux!.ctcLogits as tf.Tensor3D);
      const [, T, C] = lp.shape;
      const lengths = o.aux!.ctcLengths!.dataSync();
      const v = lp.dataSync();
      return held.map((_, i) => ({ logProbs: v.slice(i * T * C, (i * T + Math.min(T, lengths[i] as number)) * C) as Float32Array, frames: Math.min(T, lengths[i] as number), classes: C }));
    });
    enc.dispose();
    for (const [i, t] of viaBeam.slice(0, held.length).entries()) {
      expect((t as Transcript).phonemes).toEqual(heard[i]);
      expect((t as Transcript).words).toEqual(searchCtcWords(posteriors[i]!, lexicon));
    }
    expect(viaBeam.slice(0, held.length).filter((t, i) => (t as Transcript).words?.join(' ') === held[i]?.text).length, JSON.stringify(viaBeam)).toBeGreaterThanOrEqual(2);
    expect(viaBeam[held.length]).toBeInstanceOf(InvalidInputError);
    // nBest: the best distinct readings with their scores, best first, beside the same words.
    const nBest = await SpeechRecognizer.load({ encoder: out, lexicon, batchSize: 2, nBest: 3 });
    const withAlternatives = await nBest.transcribe(inputs.slice(0, held.length), { baseDir: path.dirname(corpus.manifest) });
    nBest.dispose();
    for (const [i, t] of withAlternatives.entries()) {
      const tr = t as Transcript;
      expect(tr.phonemes).toEqual(heard[i]);
      expect(tr.alternatives!.length).toBeGreaterThanOrEqual(1);
      expect(tr.words).toEqual(tr.alternatives![0]!.words);
      expect(tr.alternatives!.length).toBeLessThanOrEqual(3);
      expect(new Set(tr.alternatives!.map((a) => a.words.join(' '))).size).toBe(tr.alternatives!.length);
      tr.alternatives!.forEach((a, k) => { if (k > 0) expect(a.score).toBeLessThanOrEqual(tr.alternatives![k - 1]!.score); });
    }
    expect((viaBeam[0] as Transcript).alternatives).toBeUndefined();
    await expect(SpeechRecognizer.load({ encoder: out, lexicon, search: 'greedy', nBest: 2 })).rejects.toThrow(/nBest.*beam/);
    await expect(SpeechRecognizer.load({ encoder: out, lexicon, nBest: 0 })).rejects.toThrow(/nBest/);
    await expect(SpeechRecognizer.load({ encoder: out, lexicon, search: 'exhaustive' as 'beam' })).rejects.toThrow(/search/);
    await expect(SpeechRecognizer.load({ encoder: out, lexicon, beam: { lmWeight: -1 } })).rejects.toThrow(/lmWeight/);
    await expect(SpeechRecognizer.load({ encoder: out, lexicon: { ...lexicon, version: 2 as 1 } })).rejects.toThrow(ConfigError);
    await expect(SpeechRecognizer.load({ encoder: out, lexicon, decode: { wordPenalty: -1 } })).rejects.toThrow(/wordPenalty/);
  }, 600_000);

  it('refuses a folder it did not write and a corpus without voice ids; the CLI reports usage errors', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-pretrain-'));
    const m = path.join(dir, 'm.jsonl');
    writeFileSync(m, `${JSON.stringify({ audio: 'a.wav', phonemes: 'hh ah' })}\n`);
    const foreign = path.join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    await expect(pretrainSpeechEncoder({ manifest: m, out: foreign })).rejects.toThrow(/did not write/);
    expect(readFileSync(path.join(foreign, 'notes.txt'), 'utf8')).toBe('mine');
    await expect(pretrainSpeechEncoder({ manifest: m, out: path.join(dir, 'enc') })).rejects.toThrow(ConfigError);
    await expect(pretrainSpeechEncoder({ manifest: m, out: path.join(dir, 'enc2'), epochs: 0 })).rejects.toThrow(/epochs/);
    let stderr = '';
    const io = { stdout: () => {}, stderr: (t: string) => { stderr += t; }, cwd: dir };
    expect(await main(['pretrain-speech', '--out', 'x'], io)).toBe(2);
    expect(stderr).toMatch(/--data/);
    expect(await main(['pretrain-speech', '--data', 'm.jsonl', '--out', 'foreign'], io)).toBe(1);
    expect(existsSync(path.join(foreign, 'phonetic-encoder.json'))).toBe(false);
  });
  it('resumes an interrupted run from its checkpoint exactly; evaluateSpeechEncoder scores a folder per speaker', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-pretrain-'));
    const texts = path.join(dir, 'words.jsonl');
    writeFileSync(texts, ['yes', 'no', 'stop'].map((w) => JSON.stringify({ id: w, text: w })).join('\n'));
    const voices = ['flite:slt', 'flite:rms', 'espeak-ng:en-us'];
    const corpus = await synthesizeCorpus({ manifest: texts, out: path.join(dir, 'speech'), voices, perText: voices.length });
    const opts = {
      manifest: corpus.manifest, heldOutSpeakers: ['espeak-ng:en-us'], epochs: 4, batchSize: 2, learningRate: 5e-3, augment: true,
      encoder: { convChannels: [8, 8], hiddenSize: 8, layers: 1, dropout: 0.2 }, seed: 2,
    };
    const whole = await pretrainSpeechEncoder({ ...opts, out: path.join(dir, 'whole') });
    expect(whole).toMatchObject({ resumedFrom: 0, interrupted: false });
    // Stopped after epoch 2 (its checkpoint written), then resumed: the same epochs and the same weights.
    const ctl = new AbortController();
    const part = await pretrainSpeechEncoder({ ...opts, out: path.join(dir, 'split'), signal: ctl.signal, onEpoch: (e) => { if (e.epoch === 2) ctl.abort(); } });
    expect(part).toMatchObject({ interrupted: true, resumedFrom: 0 });
    expect(part.epochs).toHaveLength(2);
    const rest = await pretrainSpeechEncoder({ ...opts, out: path.join(dir, 'split'), resume: true });
    expect(rest).toMatchObject({ interrupted: false, resumedFrom: 2 });
    expect(rest.epochs.map((e) => e.trainLoss)).toEqual(whole.epochs.map((e) => e.trainLoss));
    const bytes = (sub: string): number[] => Array.from(readFileSync(path.join(dir, sub, 'checkpoint', 'weights.bin')));
    expect(bytes('split')).toEqual(bytes('whole'));
    // Other settings: a CheckpointError, nothing overwritten.
    await expect(pretrainSpeechEncoder({ ...opts, epochs: 5, out: path.join(dir, 'split'), resume: true })).rejects.toThrow(/other settings/);

    // evaluateSpeechEncoder: PER overall and per speaker; a bad line is listed, the others scored.
    const manifest = path.join(dir, 'speech', 'eval.jsonl');
    writeFileSync(manifest, `${readFileSync(corpus.manifest, 'utf8').trim()}\n${JSON.stringify({ audio: 'clips/missing.wav', phonemes: 'y eh s', voice: 'flite:slt' })}\n`);
    const ev = await evaluateSpeechEncoder({ encoder: path.join(dir, 'whole'), manifest });
    expect(ev.clips).toBe(9);
    expect(ev.skipped).toHaveLength(1);
    expect(Object.keys(ev.bySpeaker).sort()).toEqual(['espeak-ng:en-us', 'flite:rms', 'flite:slt']);
    expect(Object.values(ev.bySpeaker).every((s) => s.clips === 3 && s.per >= 0)).toBe(true);
    expect(ev.per).toBeGreaterThanOrEqual(0);
    expect(ev.examples[0]?.reference).toMatch(/^[a-z ]+$/);
    await expect(evaluateSpeechEncoder({ encoder: dir, manifest })).rejects.toThrow();
  }, 600_000);
});
