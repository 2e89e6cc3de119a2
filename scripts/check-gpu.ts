/**
 * `npm run check:gpu`: a one-command check of the WebGPU engine on a machine with a GPU (NVIDIA: the driver's
 * Vulkan ICD and `libvulkan1`; nothing else, `webgpu` ships Dawn). Prints the adapter, matMul GFLOP/s,
 * BENCHMARK-SPEC reference-model training samples/s (the model in TensorFlow.js ops, and the same model through
 * mmfuse's `FusionModel.fit`, the path `mmfuse train` takes, with its epoch losses compared to the wasm engine's
 * from the same seed), then one JSON line with the same figures.
 *
 * On a software adapter (Mesa llvmpipe) it runs tiny sizes and says so: those figures say nothing about a GPU.
 * Options (environment): CHECK_GPU_MATMUL=4096 (matrix size), CHECK_GPU_STEPS=10 (timed training steps).
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import { B, disposeBatches, makeBatches, ReferenceModel } from '../bench/engine_reference_model.js';

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function matMulGflops(n: number, reps: number): Promise<{ n: number; ms: number; gflops: number }> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  await tf.matMul(a, b).data(); // compile the shader, warm up
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const y = tf.matMul(a, b);
    await y.data(); // completion on the host
    times.push(performance.now() - t0);
    y.dispose();
  }
  tf.dispose([a, b]);
  const ms = median(times);
  return { n, ms, gflops: (2 * n ** 3) / (ms / 1000) / 1e9 };
}

/** Training steps of the reference model (AdamW with decoupled decay), the loss read back asynchronously. */
async function referenceTraining(warmup: number, steps: number): Promise<{ stepMs: number; samplesPerSecond: number; loss: number }> {
  const model = new ReferenceModel();
  const batches = makeBatches(4);
  const vars = Object.values(model.params);
  const adam = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const times: number[] = [];
  let loss = Number.NaN;
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => model.loss(batches[i % batches.length]!, true), vars);
    tf.tidy(() => { for (const v of vars) v.assign(v.mul(1 - 1e-3 * 0.01)); });
    adam.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
    loss = (await value.data())[0]!;
    tf.dispose([value, ...Object.values(grads)]);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  adam.dispose();
  disposeBatches(batches);
  model.dispose();
  const stepMs = median(times);
  return { stepMs, samplesPerSecond: (1000 * B) / stepMs, loss };
}

/**
 * The reference model through `FusionModel.fit` (bench/fusion.bench.ts's config and seeded data), two epochs on
 * WebGPU then on wasm from the same seed: the second epoch's samples/s on each, and the largest relative
 * difference between the two engines' epoch losses (a GPU's arithmetic differs from wasm's only in rounding).
 * On a software adapter, 2 batches instead of 20.
 */
async function fusionFit(software: boolean): Promise<{ samples: number; webgpu: { samplesPerSecond: number; losses: number[] }; wasm: { samplesPerSecond: number; losses: number[] }; maxRelativeLossDifference: number }> {
  if (software) process.env['FUSION_BENCH_SMOKE'] = '1'; // read when the module loads
  const { config, makeSamples } = await import('../bench/fusion.bench.js');
  const samples = await makeSamples();
  const run = async (engine: 'webgpu' | 'wasm'): Promise<{ samplesPerSecond: number; losses: number[] }> => {
    await initEngine({ engine });
    const model = FusionModel.create({ ...config, training: { ...config.training, epochs: 2 } });
    const seconds: number[] = [];
    const history = await model.fit(samples, { shuffle: false, progress: 'none', log: () => undefined, onEpoch: (m) => seconds.push(m.seconds) });
    model.dispose();
    return { samplesPerSecond: samples.length / (seconds.at(-1) as number), losses: history.epochs.map((e) => e.trainLoss) };
  };
  const webgpu = await run('webgpu');
  const wasm = await run('wasm');
  const maxRelativeLossDifference = Math.max(...webgpu.losses.map((l, i) => Math.abs(l - (wasm.losses[i] as number)) / Math.max(1e-12, Math.abs(wasm.losses[i] as number))));
  return { samples: samples.length, webgpu, wasm, maxRelativeLossDifference };
}

async function main(): Promise<void> {
  const info = await initEngine({ engine: 'webgpu' });
  const software = info.adapter?.includes('(software)') ?? false;
  console.log(info.summary);
  if (software) console.log('This is a software adapter: the figures below (tiny sizes) check that the engine works and say nothing about a GPU.');
  const n = Number(process.env['CHECK_GPU_MATMUL'] ?? (software ? 256 : 4096));
  const steps = Number(process.env['CHECK_GPU_STEPS'] ?? (software ? 2 : 10));
  const mm = await matMulGflops(n, software ? 2 : 10);
  console.log(`matMul ${n}×${n}: ${mm.ms.toFixed(2)} ms, ${mm.gflops.toFixed(1)} GFLOP/s`);
  const train = await referenceTraining(software ? 1 : 3, steps);
  console.log(`reference model training (batch ${B}): ${train.stepMs.toFixed(1)} ms/step, ${train.samplesPerSecond.toFixed(1)} samples/s (loss ${train.loss.toFixed(3)})`);
  const fit = await fusionFit(software);
  console.log(`reference model through FusionModel.fit (${fit.samples} samples, epoch 2): webgpu ${fit.webgpu.samplesPerSecond.toFixed(1)} samples/s, wasm ${fit.wasm.samplesPerSecond.toFixed(1)} samples/s; epoch losses webgpu ${fit.webgpu.losses.map((l) => l.toFixed(5)).join(' ')}, wasm ${fit.wasm.losses.map((l) => l.toFixed(5)).join(' ')} (largest relative difference ${fit.maxRelativeLossDifference.toExponential(1)})`);
  console.log(JSON.stringify({ engine: info.engine, adapter: info.adapter, software, host: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`, matMul: mm, training: train, fit }));
}

await main();
