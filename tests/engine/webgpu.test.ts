// The WebGPU engine (@tensorflow/tfjs-backend-webgpu on Dawn's Node bindings, npm `webgpu`). CI runs it on
// Mesa's software Vulkan driver (lavapipe, `mesa-vulkan-drivers` from bookworm-backports): that checks
// correctness only; its speed says nothing about a GPU. Skipped, with the reason printed, only where Dawn
// finds no Vulkan adapter at all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng, EngineError, initEngine, lstmCell } from '@mmfuse/core';
import { AdamW, FusionModel, LayerNorm, Linear, TransformerBlock, capTokens, clipByGlobalNorm } from '@mmfuse/fusion';
import type { FusionModelConfig, Prediction } from '@mmfuse/fusion';
import { SpeechRecognizer } from '@mmfuse/speech';
import { TextUseEncoder } from '@mmfuse/text-rnn';
import { describeAdapter, hasGpuDevice, prepareWebGpu, WebGpuUnavailable } from '../../packages/core/src/internal/webgpu/start.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The adapter Dawn offers here (null: no Vulkan driver). Probed in this process before any engine test. */
async function probe(): Promise<{ label: string; software: boolean } | null> {
  try {
    const dawn = await import('webgpu') as unknown as { create(o: string[]): { requestAdapter(o?: object): Promise<unknown> } };
    const adapter = await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' });
    return adapter === null ? null : describeAdapter(adapter as never);
  } catch (err) {
    console.log(`WebGPU probe failed: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

const adapter = await probe();
if (adapter === null) {
  console.log('Skipping the WebGPU engine tests: Dawn found no Vulkan adapter (install libvulkan1 and a Vulkan driver; CI uses mesa-vulkan-drivers from bookworm-backports, see .ci/apt-packages.txt).');
}

afterAll(async () => {
  await initEngine({ engine: 'wasm' });
});

describe('WebGPU engine: selection', () => {
  it('names the packages to install when forced and they are absent', async () => {
    const missing = (name: string) => async (s: string): Promise<unknown> => {
      if (s === name) throw Object.assign(new Error(`Cannot find package '${s}' imported from /app/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });
      return import(s);
    };
    await initEngine({ engine: 'cpu' }); // leave a cached WebGPU engine (MMFUSE_ENGINE=webgpu)
    const err = await initEngine({ engine: 'webgpu', importModule: missing('@tensorflow/tfjs-backend-webgpu') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toMatch(/forced engine "webgpu" could not start/);
    expect((err as Error).message).toContain(`npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@${tf.version_core}`);
  });
});

describe('WebGPU engine: no GPU device', () => {
  it('finds a GPU device node on Linux (DRM render node or card, /dev/nvidia0, /dev/dxg), and assumes one elsewhere', () => {
    const fake = (files: string[], dri?: string[]) => ({ exists: (p: string) => files.includes(p), list: (p: string) => { if (p !== '/dev/dri' || dri === undefined) throw new Error('ENOENT'); return dri; } });
    expect(hasGpuDevice('linux', fake([]))).toBe(false);
    expect(hasGpuDevice('linux', fake([], ['by-path']))).toBe(false);
    expect(hasGpuDevice('linux', fake([], ['card0', 'renderD128']))).toBe(true);
    expect(hasGpuDevice('linux', fake([], ['renderD128']))).toBe(true);
    expect(hasGpuDevice('linux', fake(['/dev/nvidia0']))).toBe(true);
    expect(hasGpuDevice('linux', fake(['/dev/dxg']))).toBe(true);
    expect(hasGpuDevice('darwin', fake([]))).toBe(true);
    expect(hasGpuDevice('win32', fake([]))).toBe(true);
  });

  it('automatic selection does not start Dawn without a GPU device; a forced engine still does', async () => {
    const asked: string[] = [];
    const importModule = async (s: string): Promise<unknown> => { asked.push(s); throw Object.assign(new Error(`Cannot find package '${s}'`), { code: 'ERR_MODULE_NOT_FOUND' }); };
    const auto = await prepareWebGpu(importModule, false, () => false).catch((e: unknown) => e);
    expect(auto).toBeInstanceOf(WebGpuUnavailable);
    expect((auto as Error).message).toMatch(/no GPU device on this machine .*only a software adapter .*force it with MMFUSE_ENGINE=webgpu/);
    expect(asked).toEqual([]);
    const forced = await prepareWebGpu(importModule, true, () => false).catch((e: unknown) => e);
    expect((forced as WebGpuUnavailable).reason).toBe('not-installed');
    expect(asked).toEqual(['webgpu']);
  });
});

describe.skipIf(adapter === null)('WebGPU engine on this machine\'s adapter', () => {
  it('is skipped by automatic selection on a software adapter (with the reason), taken on hardware', async () => {
    await initEngine({ engine: 'cpu' }); // leave any cached automatic choice
    const info = await initEngine({ env: {} });
    if (adapter!.software) {
      expect(info.engine).toBe('wasm');
      const skip = info.skipped.find((s) => s.engine === 'webgpu');
      expect(skip?.message).toMatch(/only a software adapter .*force it with MMFUSE_ENGINE=webgpu/);
    } else {
      expect(info.engine).toBe('webgpu');
    }
  });

  it('starts when forced and names the adapter in the summary', async () => {
    const info = await initEngine({ engine: 'webgpu' });
    expect(info).toMatchObject({ engine: 'webgpu', backend: 'webgpu', adapter: adapter!.label });
    expect(info.summary).toContain(`engine: webgpu on ${adapter!.label}`);
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('explains that synchronous reads of GPU data cannot work in Node', async () => {
    await initEngine({ engine: 'webgpu' });
    // Large enough to run on the GPU (tfjs computes tensors under 1000 values on the CPU).
    const x = tf.range(0, 4096).mul(2);
    expect(() => x.dataSync()).toThrow(/not possible on the WebGPU engine in Node: use `await tensor.data\(\)`/);
    expect((await x.data())[4095]).toBe(8190);
    x.dispose();
  });

  it('caps each sample at maxTokens from a mask computed on the GPU (no synchronous read), as wasm does', async () => {
    // 32 clips of 1..64 frames: the mask [32, 64] has over 1000 values, so it is computed on the GPU.
    const run = async (gpu: boolean): Promise<{ f: Float32Array; m: Float32Array }> => {
      const [f, m] = tf.tidy(() => {
        const lengths = tf.range(1, 33).mul(2); // 2, 4, ..., 64
        const steps = tf.range(0, 32 * 64).reshape([32, 64]).mod(64); // 2048 values in: computed on the GPU
        const mask = steps.less(lengths.reshape([32, 1])).cast('float32') as tf.Tensor2D;
        if (gpu) expect(() => mask.dataSync()).toThrow(/not possible on the WebGPU engine in Node/);
        const x = tf.range(0, 32 * 64 * 3).reshape([32, 64, 3]).mul(0.01) as tf.Tensor3D;
        const r = capTokens(x, mask, 5);
        return [r.features, r.mask];
      });
      const out = { f: await (f as tf.Tensor).data() as Float32Array, m: await (m as tf.Tensor).data() as Float32Array };
      tf.dispose([f as tf.Tensor, m as tf.Tensor]);
      return out;
    };
    await initEngine({ engine: 'webgpu' });
    const gpu = await run(true);
    await initEngine({ engine: 'wasm' });
    const wasm = await run(false);
    expect(Array.from(gpu.m)).toEqual(Array.from(wasm.m));
    gpu.f.forEach((v, i) => expect(Math.abs(v - (wasm.f[i] as number))).toBeLessThan(1e-4));
  });

  it('still reads small tensors synchronously after they were uploaded to the GPU (lengths, a graph model\'s constants)', async () => {
    await initEngine({ engine: 'webgpu' });
    // 1024 values: over the size tfjs computes on the CPU, so `mul` uploads `x` (and the backend drops its CPU copy).
    const x = tf.tensor1d(Float32Array.from({ length: 1024 }, (_, i) => i));
    const y = x.mul(2);
    expect(x.dataSync()[1023]).toBe(1023);
    expect(() => y.dataSync()).toThrow(/not possible on the WebGPU engine in Node/); // computed on the GPU
    expect((await y.data())[1023]).toBe(2046); // after an asynchronous read the backend keeps the values
    expect(y.dataSync()[1023]).toBe(2046);
    const big = tf.tensor1d(new Float32Array(4096).fill(1));
    const z = big.mul(3);
    await z.data();
    expect(() => big.dataSync()).toThrow(/not possible on the WebGPU engine in Node/); // too large to keep a copy of
    tf.dispose([x, y, big, z]);
  });

  it('embeds text with the Universal Sentence Encoder (a graph model that reads its shape parameters with dataSync) as wasm does', async () => {
    const texts = ['i lost my card', 'where is my parcel', 'REFUND please 🙂', '我的卡丢了'];
    const embed = async (engine: 'webgpu' | 'wasm'): Promise<Float32Array[]> => {
      await initEngine({ engine });
      const enc = new TextUseEncoder();
      return Promise.all(texts.map(async (t, i) => (await enc.prepare(t, { sample: i, field: 'text' })).embeddings));
    };
    const gpu = await embed('webgpu');
    const wasm = await embed('wasm');
    gpu.forEach((g, i) => { let worst = 0; g.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - wasm[i]![j]!)); }); expect(worst, texts[i]).toBeLessThan(1e-4); });
  }, 120_000);

  it('hears the bot\'s held-out-voice clip with the shipped speech recognizer as wasm does (posteriors read asynchronously)', async () => {
    const speech = path.join(ROOT, 'examples/customer-service/speech');
    const clip = [{ sample: 'unseen-wording', audio: path.join(ROOT, 'examples/customer-service/data/unseen-wording.wav') }];
    const hear = async (engine: 'webgpu' | 'wasm'): Promise<unknown[]> => {
      await initEngine({ engine });
      const heard: unknown[] = [];
      for (const search of ['beam', 'greedy'] as const) {
        const rec = await SpeechRecognizer.load({ encoder: path.join(speech, 'encoder'), lexicon: path.join(speech, 'lexicon.json'), search });
        const [t] = await rec.transcribe(clip);
        expect(t).not.toBeInstanceOf(Error);
        heard.push(t);
        rec.dispose();
      }
      return heard;
    };
    const gpu = await hear('webgpu');
    expect(gpu).toEqual(await hear('wasm'));
    expect((gpu[0] as { words: string[] }).words.join(' ')).toMatch(/my order be delivered/);
  }, 120_000);

  it('runs mmfuse\'s LSTM step as WebGPU shaders, values and gradients equal to cpu', async () => {
    const gv = Float32Array.from({ length: 5 * 28 }, (_, i) => Math.sin(i * 1.3) * 3);
    const cv = Float32Array.from({ length: 5 * 7 }, (_, i) => Math.cos(i * 0.7));
    const run = async (): Promise<Float32Array[]> => {
      const gates = tf.tensor2d(gv, [5, 28]);
      const c = tf.tensor2d(cv, [5, 7]);
      const { h, c: cNew } = lstmCell(gates, c);
      const grads = tf.grads((g: tf.Tensor, cc: tf.Tensor) => {
        const r = lstmCell(g as tf.Tensor2D, cc as tf.Tensor2D);
        return r.h.mul(2).sum().add(r.c.mul(tf.linspace(-1, 1, 35).reshape([5, 7])).sum());
      })([gates, c]);
      const out = await Promise.all([h, cNew, ...grads].map(async (t) => (await t.data()) as Float32Array));
      tf.dispose([gates, c, h, cNew, ...grads]);
      return out;
    };
    await initEngine({ engine: 'webgpu' });
    expect(tf.getKernel('MmfuseLstmCell', 'webgpu')).toBeDefined();
    const gpu = await run();
    await tf.setBackend('cpu');
    const cpu = await run();
    gpu.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - cpu[i]![j]!), `output ${i}[${j}]`).toBeLessThan(1e-5)));
  });

  it('trains a small fused model with the loss curve of the wasm engine', async () => {
    const gpu = await trainCurve('webgpu');
    const wasm = await trainCurve('wasm');
    expect(gpu).toHaveLength(8);
    gpu.forEach((l, i) => expect(Math.abs(l - wasm[i]!), `step ${i + 1}: webgpu ${l}, wasm ${wasm[i]}`).toBeLessThanOrEqual(2e-4 * Math.max(1, Math.abs(wasm[i]!))));
    expect(gpu[7]!).toBeLessThan(gpu[0]!); // it learned
  }, 600_000);
  it('clips by the global norm of many gradients (an addN of more inputs than a shader may bind)', async () => {
    // 33 gradients, as a small fused model has: one addN of all their norms binds 34 storage buffers, over
    // WebGPU's default limit of 8; Dawn then drops the pipeline and the norm comes back wrong, with only a
    // validation warning. Each is computed on the GPU (over 1000 values), as a real gradient is.
    const run = async (): Promise<number> => {
      const grads = tf.tidy(() => Array.from({ length: 33 }, (_, k) => tf.range(0, 1024).mul((k % 5) + 1).sin()));
      const { norm, scale } = clipByGlobalNorm(grads, 1);
      const value = (await norm.data())[0]!;
      tf.dispose([...grads, norm, scale]);
      return value;
    };
    await initEngine({ engine: 'webgpu' });
    const gpu = await run();
    await initEngine({ engine: 'wasm' });
    const wasm = await run();
    expect(Math.abs(gpu - wasm)).toBeLessThan(1e-4 * wasm);
  });

  it('adds any number of tensors with tf.addN (the stock shader binds every input), freeing its partial sums', async () => {
    const run = async (n: number): Promise<Float32Array> => {
      const xs = tf.tidy(() => Array.from({ length: n }, (_, k) => tf.range(0, 2048).mul(0.001 * (k + 1)).cos()));
      const sum = tf.addN(xs);
      const out = await sum.data() as Float32Array;
      tf.dispose([...xs, sum]);
      return out;
    };
    await initEngine({ engine: 'webgpu' });
    await initEngine({ engine: 'webgpu' }); // registering twice wraps the stock kernel once
    expect(tf.getKernel('AddN', 'webgpu')).toBeDefined();
    const backend = tf.backend() as unknown as { numDataIds(): number };
    await run(40);
    const ids = backend.numDataIds();
    const gpu = await Promise.all([1, 2, 7, 8, 13, 14, 40].map((n) => run(n)));
    expect(backend.numDataIds()).toBe(ids);
    await initEngine({ engine: 'wasm' });
    const wasm = await Promise.all([1, 2, 7, 8, 13, 14, 40].map((n) => run(n)));
    gpu.forEach((g, i) => { let worst = 0; g.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - wasm[i]![j]!)); }); expect(worst, `addN of ${[1, 2, 7, 8, 13, 14, 40][i]} tensors`).toBeLessThan(1e-4); });
  });

  it('trains a FusionModel with fit() as the wasm engine does, and its saved folder answers the same on wasm', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'mmfuse-webgpu-fit-'));
    try {
      const gpu = await fitAndAsk('webgpu', path.join(work, 'webgpu'));
      const wasm = await fitAndAsk('wasm', path.join(work, 'wasm'));
      expect(gpu.epochs).toHaveLength(3);
      gpu.epochs.forEach((e, i) => {
        const w = wasm.epochs[i]!;
        expect(Math.abs(e.trainLoss - w.trainLoss), `epoch ${i + 1} training loss: webgpu ${e.trainLoss}, wasm ${w.trainLoss}`).toBeLessThan(1e-4 * Math.max(1, w.trainLoss));
        expect(Math.abs(e.valLoss - w.valLoss), `epoch ${i + 1} validation loss: webgpu ${e.valLoss}, wasm ${w.valLoss}`).toBeLessThan(1e-4 * Math.max(1, w.valLoss));
      });
      expect(gpu.log).toEqual(expect.arrayContaining([expect.stringMatching(/^calibration: temperature/)]));
      expect(gpu.accuracy).toBe(wasm.accuracy);
      expectSameAnswers(gpu.answers, wasm.answers);
      expect(gpu.leaked).toBe(0);
      // The folder written on the WebGPU engine, read on wasm.
      await initEngine({ engine: 'wasm' });
      const loaded = await FusionModel.load(path.join(work, 'webgpu'));
      expectSameAnswers(await Promise.all(REQUESTS.map((r) => loaded.predict(r))), gpu.answers);
      loaded.dispose();
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 600_000);
});

const TEXTS: Record<string, string[]> = {
  card_lost: ['lost my card', 'card stolen', 'my card is gone', 'cannot find my card'],
  order_status: ['where is my order', 'my order is late', 'parcel not here yet', 'track my order'],
  refund: ['money back please', 'refund my order', 'i want a refund', 'return my money'],
};
const REQUESTS = [{ text: 'i lost my card' }, { text: 'where is the parcel' }, { text: 'REFUND please' }];

/**
 * A small text model through the public API on one engine: `text/ngram` and `text/rnn` (mmfuse's LSTM kernel)
 * side by side on one field, Transformer fusion with dropout, a validation split (best epoch restored, the closing epochs averaged), a
 * checkpoint every epoch (optimizer moments read back), temperature and out-of-scope calibration; then
 * predictions, an evaluation and the saved folder.
 */
async function fitAndAsk(engine: 'webgpu' | 'wasm', dir: string): Promise<{ epochs: { trainLoss: number; valLoss: number }[]; answers: Prediction[]; accuracy: number; leaked: number; log: string[] }> {
  await initEngine({ engine });
  const samples = Object.entries(TEXTS).flatMap(([label, texts]) => texts.flatMap((t, i) => [t, t.toUpperCase()].map((text, j) => ({ id: `${label}-${i}-${j}`, fields: { text, label } }))));
  const config: FusionModelConfig = {
    inputs: { text: { type: 'text', encoder: { kind: 'ngram', dim: 16 } }, words: { type: 'text', field: 'text', encoder: { kind: 'rnn', embeddingDim: 8, hiddenSize: 8 } } },
    fusion: { strategy: 'transformer', dModel: 16, layers: 1, heads: 2, ffDim: 32, dropout: 0.1 },
    output: { field: 'label', type: 'category', outOfScope: { threshold: 'auto' } },
    training: { epochs: 3, batchSize: 8, learningRate: 5e-3, seed: 3, validationSplit: 0.25, averageEpochs: 2, earlyStoppingPatience: null },
  };
  const model = FusionModel.create(config);
  const log: string[] = [];
  const history = await model.fit(samples, { progress: 'none', checkpointDir: `${dir}-checkpoint`, log: (line: string) => log.push(line) });
  const ask = (): Promise<Prediction[]> => Promise.all(REQUESTS.map((r) => model.predict(r)));
  const answers = await ask();
  const before = tf.memory().numTensors;
  await ask();
  const leaked = tf.memory().numTensors - before;
  const { accuracy } = await model.evaluate(samples);
  await model.save(dir);
  model.dispose();
  return { epochs: history.epochs.map((e) => ({ trainLoss: e.trainLoss, valLoss: e.valLoss as number })), answers, accuracy, leaked, log };
}

function expectSameAnswers(got: readonly Prediction[], want: readonly Prediction[]): void {
  got.forEach((p, i) => {
    const w = want[i]!;
    expect(p.label).toBe(w.label);
    for (const [k, v] of Object.entries(w.probabilities ?? {})) expect(Math.abs((p.probabilities?.[k] ?? NaN) - v), `request ${i}, ${k}`).toBeLessThan(1e-4);
  });
}

/**
 * Eight AdamW steps of a small fused model (a BiLSTM-free LSTM text branch through mmfuse's lstmCell, a
 * projected second modality, one pre-LN Transformer block with dropout, LayerNorm, a 3-class head) on the
 * given engine, from the same seeded weights, data and dropout streams; the loss of every step, read back
 * asynchronously (as WebGPU needs).
 */
async function trainCurve(engine: 'webgpu' | 'wasm'): Promise<number[]> {
  await initEngine({ engine });
  const rng = createRng(7);
  const B = 6; const T = 5; const V = 4; const D = 16; const H = 8;
  const lstmW = new Linear({ inDim: 5, outDim: 4 * H }, rng.fork('lstmW'));
  const lstmU = new Linear({ inDim: H, outDim: 4 * H, bias: false }, rng.fork('lstmU'));
  const textProj = new Linear({ inDim: H, outDim: D }, rng.fork('text'));
  const visProj = new Linear({ inDim: 6, outDim: D }, rng.fork('vis'));
  const block = new TransformerBlock({ dModel: D, heads: 2, ffDim: 32, dropout: 0.1 }, rng.fork('block'));
  const norm = new LayerNorm({ dim: D }, rng.fork('norm'));
  const head = new Linear({ inDim: D, outDim: 3 }, rng.fork('head'));
  const modules = [lstmW, lstmU, textProj, visProj, block, norm, head];
  const weights = modules.flatMap((m) => m.weights);
  const opt = new AdamW(weights, { weightDecay: 0.01 });
  const data = createRng(11);
  const textValues = Float32Array.from({ length: B * T * 5 }, () => data.normal());
  const visValues = Float32Array.from({ length: B * V * 6 }, () => data.normal());
  const maskValues = Float32Array.from({ length: B * (T + V) }, (_, i) => (i % (T + V) < T && (i % (T + V)) >= T - (Math.floor(i / (T + V)) % 3) ? 0 : 1));
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: B }, (_, i) => i % 3), 'int32'), 3).toFloat();
  const text = tf.tensor3d(textValues, [B, T, 5]);
  const vis = tf.tensor3d(visValues, [B, V, 6]);
  const mask = tf.tensor2d(maskValues, [B, T + V]);
  const losses: number[] = [];
  for (let step = 0; step < 8; step++) {
    const dropRng = createRng(100 + step);
    const { value, grads } = tf.variableGrads(() => {
      let h = tf.zeros([B, H]) as tf.Tensor2D;
      let c = tf.zeros([B, H]) as tf.Tensor2D;
      const xs = tf.unstack(lstmW.apply(text), 1); // T × [B, 4H]
      const hs: tf.Tensor2D[] = [];
      for (const x of xs) {
        ({ h, c } = lstmCell(x.add(lstmU.apply(h)) as tf.Tensor2D, c));
        hs.push(h);
      }
      const tokens = tf.concat([textProj.apply(tf.stack(hs, 1)), visProj.apply(vis)], 1) as tf.Tensor3D; // [B, T + V, D]
      const y = norm.apply(block.apply(tokens, mask, { training: true, rng: dropRng })) as tf.Tensor3D;
      const logits = head.apply(y.mean(1)) as tf.Tensor2D;
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, weights);
    losses.push((await value.data())[0]!);
    opt.step(weights.map((w) => grads[w.name]), 1e-2);
    tf.dispose([value, ...Object.values(grads)]);
  }
  opt.dispose();
  for (const m of modules) m.dispose();
  tf.dispose([labels, text, vis, mask]);
  return losses;
}
