// The library as an app uses it, ESM: train from a config file, save, load, predict. Every voice sample
// must be used (no silent skipping) and the engine must be wasm.
import assert from 'node:assert/strict';
import { getEngineInfo, initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { FusionModel, defineConfig, trainFromConfigFile } from '@mmfuse/fusion';
import { spectrogram } from '@mmfuse/audio/dsp';

// Type-checked config authoring against the published declarations.
defineConfig({ inputs: { text: { type: 'text', encoder: { kind: 'rnn', hiddenSize: 8 } } }, output: { field: 'label' } });
// @ts-expect-error a misspelt encoder option is a compile error
defineConfig({ inputs: { text: { type: 'text', encoder: { kind: 'rnn', hiddenSise: 8 } } }, output: { field: 'label' } });

const engine = await initEngine();
assert.equal(engine.engine, 'wasm', `expected the wasm engine, got ${engine.summary}`);
assert.equal(spectrogram(new Float32Array(800), { nFft: 64 }).bins, 33);

const out = `model-${process.argv[2] ?? 'esm'}`;
const { model, history, skipped } = await trainFromConfigFile('config.json', { out, progress: 'none', log: () => {} });
assert.deepEqual(skipped, [], 'no sample may be skipped');
assert.equal(history.trainSamples, 16, 'every sample (each with a voice clip) is trained on');
model.dispose();
const loaded = await FusionModel.load(out);
const p = await loaded.predict({ text: 'a high tone please', audio: 'data/clips/high-1.wav' }, { baseDir: process.cwd() });
assert.ok(['low', 'high'].includes(p.label as string), `unexpected label ${String(p.label)}`);
loaded.dispose();
console.log(`library (${process.argv[2] ?? 'esm'}): engine ${getEngineInfo()?.engine}, trained on ${history.trainSamples} samples, predicted ${String(p.label)}`);
