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
import { ConfigError, createRng, encoders } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import { PHONEMES, pretrainSpeechEncoder, synthesizeCorpus } from '@mmfuse/speech';
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
    const rows = readFileSync(corpus.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { audio: string; phonemes: string; voice: string });
    const held = rows.filter((r) => r.voice === 'flite:awb');
    const prepared = await Promise.all(held.map((r, i) => enc.prepare(r.audio, { sample: i, field: 'audio', baseDir: path.dirname(corpus.manifest) })));
    const heard = tf.tidy(() => enc.transcribe(enc.encode(enc.collate(prepared), { training: false })));
    const exact = heard.filter((h, i) => h.join(' ') === held[i]?.phonemes).length;
    expect(exact, JSON.stringify(heard)).toBeGreaterThanOrEqual(2);
    enc.dispose();
  });

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
});
