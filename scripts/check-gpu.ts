/**
 * `npm run check:gpu`: a one-command check of the WebGPU engine on a machine with a GPU (NVIDIA: the driver's
 * Vulkan ICD and `libvulkan1`; nothing else, `webgpu` ships Dawn). Prints the adapter, matMul GFLOP/s and
 * BENCHMARK-SPEC reference-model training samples/s, then one JSON line with the same figures.
 *
 * On a software adapter (Mesa llvmpipe) it runs tiny sizes and says so: those figures say nothing about a GPU.
 * Options (environment): CHECK_GPU_MATMUL=4096 (matrix size), CHECK_GPU_STEPS=10 (timed training steps).
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@mmfuse/core';
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
  console.log(JSON.stringify({ engine: info.engine, adapter: info.adapter, software, host: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`, matMul: mm, training: train }));
}

await main();
