// Low-precision weights: the int8 / float16 codecs against PyTorch, and quantize -> save -> load round trips
// of a real text + voice model (format version 2, sizes, predictions, refusals of bad folders, calibration).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ModelFormatError } from '@mmfuse/core';
import {
  FusionModel, decodeFloat16, dequantizeInt8, encodeFloat16, int8Scales, loadState, prepareSet, quantizeInt8, quantizeState, saveState,
} from '@mmfuse/fusion';
import type { FusionState } from '@mmfuse/fusion';
import { botConfig, folderBytes, logitsOf, maxAbsDiff, trainBot, writeBotData } from './compress-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const vectors = JSON.parse(readFileSync(path.join(here, '../fixtures/compress/quantization.json'), 'utf8')) as {
  int8: { name: string; shape: number[]; axis: number; values: number[]; scales: number[]; codes: number[]; dequantized: number[] }[];
  float16: { values: number[]; bits: number[]; decoded: number[] };
};

describe('weight codecs against PyTorch', () => {
  for (const c of vectors.int8) {
    it(`int8 per-channel: ${c.name}`, () => {
      const values = Float32Array.from(c.values);
      const scales = int8Scales(values, c.shape, c.axis);
      expect(Array.from(scales)).toEqual(c.scales.map(Math.fround));
      const q = quantizeInt8(values, c.shape, c.axis, scales);
      expect(Array.from(q)).toEqual(c.codes);
      const back = dequantizeInt8(q, c.shape, c.axis, scales);
      expect(maxAbsDiff(Array.from(back), c.dequantized)).toBeLessThanOrEqual(1e-6);
      // Every value within half a step of its channel's scale.
      const inner = c.shape.slice(c.axis + 1).reduce((a, b) => a * b, 1);
      values.forEach((v, i) => expect(Math.abs(v - (back[i] as number))).toBeLessThanOrEqual((scales[Math.floor(i / inner) % (c.shape[c.axis] as number)] as number) / 2 + 1e-7));
    });
  }

  it('float16: the bits and values of Tensor.half(), ties to even and subnormals included', () => {
    const bits = encodeFloat16(Float32Array.from(vectors.float16.values));
    expect(Array.from(bits)).toEqual(vectors.float16.bits);
    expect(Array.from(decodeFloat16(bits))).toEqual(vectors.float16.decoded.map(Math.fround));
  });

  it('refuses what low precision cannot hold: non-finite weights, values beyond float16, a bad axis', () => {
    expect(() => int8Scales(Float32Array.from([1, Number.NaN]), [2, 1], 1, 'w')).toThrow(/weight w: value 1 is NaN/);
    expect(() => encodeFloat16(Float32Array.from([70000]), 'w')).toThrow(/beyond float16's range/);
    expect(() => int8Scales(Float32Array.from([1, 2]), [2, 1], 2, 'w')).toThrow(/axis 2 is outside its shape/);
  });
});

describe('quantize -> save -> load', () => {
  let work: string;
  let fp32: FusionModel;
  let test: ReturnType<typeof writeBotData>;
  let testValues: unknown[][];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mmfuse-quant-'));
    const train = writeBotData(work, 'tr', 72, 1);
    test = writeBotData(work, 'te', 36, 2);
    // The customer-service bot's n-gram table (20,000 buckets), so weights dominate the folder as in real models.
    fp32 = await trainBot(botConfig({ epochs: 4, ngramBuckets: 20000 }), train);
    await fp32.save(path.join(work, 'fp32'));
    testValues = (await prepareSet(fp32.state, test)).values;
  });

  afterAll(() => {
    fp32?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  async function quantized(dtype: 'int8' | 'float16', dir: string): Promise<{ state: FusionState; report: Awaited<ReturnType<typeof quantizeState>> }> {
    const state = await loadState(path.join(work, 'fp32'));
    const report = await quantizeState(state, { dtype });
    await saveState(state, path.join(work, dir));
    return { state, report };
  }

  it('int8: version 2 with per-channel scales on each weight\'s output axis; <= 30% of the float32 folder; same answers after load', async () => {
    const { state, report } = await quantized('int8', 'int8');
    const json = JSON.parse(readFileSync(path.join(work, 'int8', 'model.json'), 'utf8'));
    expect(json.version).toBe(2);
    const entry = (name: string) => json.weights.find((w: { name: string }) => w.name === name);
    const label = (l: string) => report.weights.find((w) => w.label === l) as { name: string };
    // Embedding rows and recurrent gate rows: axis 0; conv filters: axis 3; fusion kernels: the last axis.
    expect(entry(label('encoders.text:embedding').name)).toMatchObject({ dtype: 'int8', scales: { axis: 0 } });
    expect(entry(label('encoders.text:ngramEmbedding').name)).toMatchObject({ dtype: 'int8', scales: { axis: 0, count: 20001 } });
    expect(entry(label('encoders.text:rnn.weight_ih_l0').name)).toMatchObject({ dtype: 'int8', scales: { axis: 0, count: 72 } }); // [3 x 24, 48]
    expect(entry('fusion.strategy.block0.attn.inKernel')).toMatchObject({ dtype: 'int8', scales: { axis: 1, count: 96 } });
    // Biases, LayerNorm, tokens and small tensors stay float32.
    expect(entry('fusion.strategy.block0.attn.inBias').dtype).toBe('float32');
    expect(entry('fusion.strategy.block0.ln1.gamma').dtype).toBe('float32');
    expect(entry(label('encoders.audio:conv0.kernel').name).dtype).toBe('float32'); // 3*3*1*6 = 54 values < 1024
    expect(json.weights.every((w: { offset: number }) => w.offset % 4 === 0)).toBe(true);

    const ratio = folderBytes(path.join(work, 'int8')) / folderBytes(path.join(work, 'fp32'));
    expect(ratio).toBeLessThanOrEqual(0.3);
    expect(report.storedBytes / report.float32Bytes).toBeLessThan(0.3);

    const loaded = await loadState(path.join(work, 'int8'));
    // In-process quantized weights are exactly what the folder holds.
    expect(await logitsOf(loaded, testValues)).toEqual(await logitsOf(state, testValues));
    const agree = async (a: FusionState, b: FusionState) => {
      const pa = (a.output!).labels; const ra = await logitsOf(a, testValues); const rb = await logitsOf(b, testValues);
      let same = 0;
      for (let i = 0; i < testValues.length; i++) {
        const k = pa.length;
        const top = (r: number[]) => r.slice(i * k, (i + 1) * k).reduce((bi, v, j, xs) => (v > (xs[bi] as number) ? j : bi), 0);
        if (top(ra) === top(rb)) same++;
      }
      return same / testValues.length;
    };
    expect(await agree(loaded, fp32.state)).toBeGreaterThanOrEqual(0.95);
    expect(maxAbsDiff(await logitsOf(loaded, testValues), await logitsOf(fp32.state, testValues))).toBeLessThan(0.5);
    expect(loaded.weightStorage).toEqual(state.weightStorage);

    // Saving the loaded model again keeps int8 and writes the same weights.
    await saveState(loaded, path.join(work, 'int8-again'));
    expect(readFileSync(path.join(work, 'int8-again', 'weights.bin'))).toEqual(readFileSync(path.join(work, 'int8', 'weights.bin')));
    state.dispose();
    loaded.dispose();
    // Loading and disposing a quantized folder leaves no tensor behind.
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) (await loadState(path.join(work, 'int8'))).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('float16: about half the weight bytes, answers within 1e-2 of float32', async () => {
    const { state, report } = await quantized('float16', 'fp16');
    expect(report.storedBytes / report.float32Bytes).toBeLessThan(0.55);
    const json = JSON.parse(readFileSync(path.join(work, 'fp16', 'model.json'), 'utf8'));
    expect(json.version).toBe(2);
    expect(json.weights.filter((w: { dtype: string }) => w.dtype === 'float16').length).toBeGreaterThan(5);
    const loaded = await loadState(path.join(work, 'fp16'));
    expect(await logitsOf(loaded, testValues)).toEqual(await logitsOf(state, testValues));
    expect(maxAbsDiff(await logitsOf(loaded, testValues), await logitsOf(fp32.state, testValues))).toBeLessThan(1e-2);
    loaded.dispose();
    state.dispose();
  });

  it('a float32 model is still written as version 1', () => {
    expect(JSON.parse(readFileSync(path.join(work, 'fp32', 'model.json'), 'utf8')).version).toBe(1);
  });

  /** Rewrite model.json with `edit` applied and its integrity recomputed (a writer bug, not corruption). */
  function rewrite(dir: string, edit: (json: Record<string, any>) => void): void {
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    edit(json);
    const { integrity: _i, ...rest } = json;
    json.integrity = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    writeFileSync(file, JSON.stringify(json));
  }

  it('refuses folders whose low-precision entries do not add up, before building anything', async () => {
    const make = (name: string): string => {
      const dst = path.join(work, name);
      rmSync(dst, { recursive: true, force: true });
      mkdirSync(dst);
      for (const f of ['model.json', 'weights.bin']) writeFileSync(path.join(dst, f), readFileSync(path.join(work, 'int8', f)));
      return dst;
    };
    const firstInt8 = (json: Record<string, any>) => json.weights.find((w: { dtype: string }) => w.dtype === 'int8');

    const count = make('bad-count');
    rewrite(count, (j) => { firstInt8(j).scales.count += 1; });
    await expect(loadState(count)).rejects.toThrow(/scales along axis 0 must number/);

    const dtype = make('bad-dtype');
    rewrite(dtype, (j) => { firstInt8(j).dtype = 'int4'; });
    await expect(loadState(dtype)).rejects.toThrow(/dtype "int4" is not one of float32, int8, float16/);

    const v1 = make('bad-version');
    rewrite(v1, (j) => { j.version = 1; });
    await expect(loadState(v1)).rejects.toThrow(/dtype "int8" is not one of float32 \(format version 1\)/);

    const bytes = make('bad-bytes');
    rewrite(bytes, (j) => { const w = j.weights.find((x: { dtype: string }) => x.dtype === 'float16' || x.dtype === 'int8'); w.byteLength -= 4; });
    await expect(loadState(bytes)).rejects.toBeInstanceOf(ModelFormatError);

    // A negative scale with every checksum recomputed: refused by value.
    const scale = make('bad-scale');
    const json = JSON.parse(readFileSync(path.join(scale, 'model.json'), 'utf8'));
    const w = firstInt8(json);
    const buf = readFileSync(path.join(scale, 'weights.bin'));
    buf.writeFloatLE(-1, w.scales.offset);
    writeFileSync(path.join(scale, 'weights.bin'), buf);
    rewrite(scale, (j) => {
      const e = firstInt8(j);
      e.sha256 = createHash('sha256').update(buf.subarray(e.offset, e.offset + e.byteLength)).digest('hex');
      j.weightsSha256 = createHash('sha256').update(buf).digest('hex');
    });
    await expect(loadState(scale)).rejects.toThrow(/scale 0 is -1; scales must be finite and >= 0/);

    // A flipped byte in int8 values: the checksum names the weight.
    const flipped = make('flipped');
    const fb = readFileSync(path.join(flipped, 'weights.bin'));
    fb[w.offset] = (fb[w.offset] as number) ^ 0x10;
    writeFileSync(path.join(flipped, 'weights.bin'), fb);
    await expect(loadState(flipped)).rejects.toThrow(new RegExp(`first bad weight: ${w.name.replace(/\./g, '\\.')}`));
  });

  it('calibration keeps the most sensitive weights float32 until the accuracy is within the tolerance', async () => {
    const state = await loadState(path.join(work, 'fp32'));
    const data = await prepareSet(state, test);
    const report = await quantizeState(state, { dtype: 'int8', minSize: 16, calibrate: { data, tolerance: 0 } });
    const cal = report.calibration!;
    expect(cal.metric).toBe('accuracy');
    expect(cal.labeled).toBe(test.length);
    expect(cal.sensitivity.length).toBeGreaterThan(10);
    expect(cal.sensitivity[0]!.meanMaxChange).toBeGreaterThanOrEqual(cal.sensitivity.at(-1)!.meanMaxChange);
    expect(cal.chosen).toBeGreaterThanOrEqual(cal.float32 - 1e-9);
    for (const name of cal.keptFloat32) expect(report.weights.find((w) => w.name === name)!.dtype).toBe('float32');
    // Without labels: agreement with the float32 answers.
    const unlabeled = await prepareSet(state, test.map((s) => ({ ...s, fields: { text: s.fields.text, audio: s.fields.audio } })));
    const state2 = await loadState(path.join(work, 'fp32'));
    const r2 = await quantizeState(state2, { dtype: 'int8', calibrate: { data: unlabeled, tolerance: 0 } });
    expect(r2.calibration!.metric).toBe('agreement');
    expect(r2.calibration!.float32).toBe(1);
    expect(r2.calibration!.chosen).toBe(1);
    state.dispose();
    state2.dispose();
  });

  it('refuses unknown names to keep in float32 and other dtypes', async () => {
    const state = await loadState(path.join(work, 'fp32'));
    await expect(quantizeState(state, { dtype: 'int8', keepFloat32: ['fusion.nope'] })).rejects.toThrow(ConfigError);
    await expect(quantizeState(state, { dtype: 'int4' as 'int8' })).rejects.toThrow(/must be "int8" or "float16"/);
    const kept = await quantizeState(state, { dtype: 'int8', keepFloat32: ['fusion.head.linear.kernel'] });
    expect(kept.weights.find((w) => w.name === 'fusion.head.linear.kernel')!.dtype).toBe('float32');
    state.dispose();
  });
});
