/**
 * End to end through the library: a fusion model trained on WAV clips (audio only, two classes: low and
 * high tones in noise) predicts the same held-out clips sent as MP3 and Ogg Opus (bytes and paths), with
 * the WAV's labels and nearly the WAV's probabilities. The format is found from the bytes, so nothing in
 * core, fusion or the model changes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '@mmfuse/core';
import '@mmfuse/audio';
import { FusionModel } from '@mmfuse/fusion';
import { ffmpeg, writeWav } from './format-files.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-formats-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RATE = 16000;
const rng = createRng(11).fork('clips');

/** 0.5 s: a tone (low: 300-500 Hz, high: 2-3 kHz) with a random phase, plus noise. */
function clip(label: 'low' | 'high'): Float32Array {
  const f = label === 'low' ? 300 + 200 * rng.uniform() : 2000 + 1000 * rng.uniform();
  const phase = 2 * Math.PI * rng.uniform();
  return Float32Array.from({ length: RATE / 2 }, (_, i) => 0.4 * Math.sin((2 * Math.PI * f * i) / RATE + phase) + 0.05 * rng.normal());
}

function wavBytes(name: string, x: Float32Array): Uint8Array {
  const file = path.join(tmp, `${name}.wav`);
  writeWav(file, [x], RATE);
  return readFileSync(file);
}

describe('a model trained on WAV predicts from MP3 and Ogg Opus', () => {
  it('same labels and nearly the same probabilities for the same clips', async () => {
    const labels = ['low', 'high'] as const;
    const train = Array.from({ length: 32 }, (_, i) => {
      const label = labels[i % 2] as 'low' | 'high';
      return { id: `t${i}`, fields: { audio: wavBytes(`t${i}`, clip(label)), label } };
    });
    const model = FusionModel.create({
      inputs: { audio: { type: 'audio', encoder: { kind: 'cnn', nMels: 24, channels: [8, 8], normalization: 'global' }, maxTokens: 8 } },
      fusion: { dModel: 32, layers: 1, heads: 2, ffDim: 64, dropout: 0, modalityDropout: 0 },
      output: { field: 'label', type: 'category' },
      training: { epochs: 25, batchSize: 8, learningRate: 3e-3, seed: 5, validationSplit: 0, earlyStoppingPatience: null },
    });
    await model.fit(train);
    let agree = 0;
    for (let i = 0; i < 6; i++) {
      const label = labels[i % 2] as 'low' | 'high';
      const wav = path.join(tmp, `h${i}.wav`);
      writeWav(wav, [clip(label)], RATE);
      ffmpeg(['-i', wav, '-c:a', 'libmp3lame', '-b:a', '64k', path.join(tmp, `h${i}.mp3`)]);
      ffmpeg(['-i', wav, '-c:a', 'libopus', '-b:a', '32k', path.join(tmp, `h${i}.opus`)]);
      const fromWav = await model.predict({ audio: readFileSync(wav) });
      const fromMp3 = await model.predict({ audio: readFileSync(path.join(tmp, `h${i}.mp3`)) });
      const fromOpus = await model.predict({ audio: path.join(tmp, `h${i}.opus`) });
      if (fromWav.label === label) agree++;
      for (const p of [fromMp3, fromOpus]) {
        expect(p.label).toBe(fromWav.label);
        for (const l of labels) expect(Math.abs((p.probabilities?.[l] as number) - (fromWav.probabilities?.[l] as number))).toBeLessThan(0.1);
      }
    }
    // The model learned the task (so agreeing labels are not two constant guesses).
    expect(agree).toBe(6);
  });
});
