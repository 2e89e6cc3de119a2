// Small multimodal data and models for the ONNX export and runtime tests: seeded texts, WAV clips (bytes)
// and PNG images, and helpers that train a model for one epoch (weights need not be good, only real).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createRng } from '@mmfuse/core';
import { encodeWav } from '@mmfuse/audio';
import '@mmfuse/audio';
import '@mmfuse/text-rnn';
import '@mmfuse/vision-cnn';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { SYSTEM, canRunWith } from '../system.js';

export const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

const WORDS = ['card', 'lost', 'refund', 'where', 'is', 'my', 'order', 'cancel', 'balance', 'pin', 'change', 'address', 'hello', 'please', 'now'];
const LABELS = ['card', 'refund', 'order'];

/** A tone with some noise, `seconds` long at `rate` Hz, as WAV bytes. */
export function toneWav(freq: number, seconds: number, rate: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const n = Math.round(seconds * rate);
  const x = Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * freq * i) / rate) + 0.02 * rng.normal());
  return encodeWav(x, { sampleRateHz: rate });
}

/** A random 24×20 RGB PNG. */
export async function png(seed: number): Promise<Uint8Array> {
  const rng = createRng(seed);
  const pixels = Buffer.from(Uint8Array.from({ length: 24 * 20 * 3 }, () => rng.int(256)));
  return new Uint8Array(await sharp(pixels, { raw: { width: 24, height: 20, channels: 3 } }).png().toBuffer());
}

export interface TinySample { id: string; fields: Record<string, unknown> }

/** `n` labeled samples with every input present (text, audio bytes, image bytes). */
export async function samples(n: number, seed: number, inputs: readonly string[] = ['text', 'audio', 'image']): Promise<TinySample[]> {
  const rng = createRng(seed);
  const out: TinySample[] = [];
  for (let i = 0; i < n; i++) {
    const label = LABELS[i % LABELS.length] as string;
    const len = 1 + rng.int(7);
    const text = [label, ...Array.from({ length: len }, () => WORDS[rng.int(WORDS.length)] as string)].join(' ');
    const fields: Record<string, unknown> = { label };
    if (inputs.includes('text')) fields.text = text;
    if (inputs.includes('audio')) fields.audio = toneWav(200 + 150 * (i % 3) + rng.int(40), 0.15 + 0.2 * rng.uniform(0, 1), 8000, seed * 1000 + i);
    if (inputs.includes('image')) fields.image = await png(seed * 1000 + i);
    out.push({ id: `s${i}`, fields });
  }
  return out;
}

/** The same requests with inputs removed in a fixed pattern: every subset of the inputs occurs, one request has an empty text. */
export function withMissing(requests: readonly TinySample[], inputs: readonly string[]): Record<string, unknown>[] {
  return requests.map((r, i) => {
    const fields: Record<string, unknown> = {};
    // Bit k of (i mod 2^M) says whether input k is kept; an all-missing pattern keeps the first input.
    const pattern = i % (1 << inputs.length) || 1;
    inputs.forEach((f, k) => { if ((pattern >> k) & 1) fields[f] = r.fields[f]; });
    if (i === 3 && 'text' in fields) fields.text = '!!!';
    return fields;
  });
}

/** A model of `config` trained one epoch on `data`. */
export async function trainTiny(config: FusionModelConfig, data: readonly TinySample[]): Promise<FusionModel> {
  const model = FusionModel.create(config);
  await model.fit(data, { progress: 'none', log: () => undefined });
  return model;
}

export const fusion = (strategy: 'transformer' | 'late' | 'cross-attention') => ({ strategy, dModel: 16, layers: 1, heads: 2, ffDim: 24, dropout: 0.1, modalityDropout: 0.2 });
export const training = { epochs: 1, batchSize: 8, learningRate: 3e-3, seed: 3, validationSplit: 0, earlyStoppingPatience: null };
export const output = { field: 'label', type: 'category' as const };

/**
 * Run the ONNX checker (Debian python3-onnx) with full shape inference; returns its stderr on failure. Where
 * python3-onnx is not installed (outside CI, which requires it: tests/system.ts) the check is skipped, said
 * once, and `ok` is true: the tests' other assertions (outputs equal mmfuse's) still run.
 */
export function onnxChecker(bytes: Uint8Array): { ok: boolean; message: string } {
  if (!canRunWith(SYSTEM.onnx, 'the ONNX checker assertions')) return { ok: true, message: 'not checked: python3-onnx is not installed' };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-onnx-check-'));
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, bytes);
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print("ok")', file], { encoding: 'utf8' });
  return { ok: r.status === 0 && r.stdout.includes('ok'), message: `${r.stderr ?? ''}${r.error?.message ?? ''}` };
}

/** Largest absolute difference between two lists of rows. */
export function maxDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let d = 0;
  a.forEach((row, i) => row.forEach((v, j) => { d = Math.max(d, Math.abs(v - ((b[i] as Float32Array)[j] as number))); }));
  return d;
}
