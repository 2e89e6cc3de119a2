// The library through `require` (CommonJS): the plugins register where the ESM copy of the registry looks
// too (one process-wide registry), and the model trains, saves, loads and predicts.
import assert = require('node:assert/strict');
import core = require('@mmfuse/core');
require('@mmfuse/text-rnn');
require('@mmfuse/audio');
import fusion = require('@mmfuse/fusion');

async function main(): Promise<void> {
  assert.ok(core.encoders.has('text/rnn') && core.encoders.has('audio/cnn'));
  // The ESM build of core sees the registrations made through the CJS build.
  const esm = (await import('@mmfuse/core')) as unknown as typeof core;
  assert.ok(esm.encoders.has('audio/cnn'), 'the ESM registry must see plugins registered through require');
  const engine = await core.initEngine();
  assert.equal(engine.engine, 'wasm', `expected the wasm engine, got ${engine.summary}`);
  const { model, history, skipped } = await fusion.trainFromConfigFile('config.json', { out: 'model-cjs', progress: 'none', log: () => {} });
  assert.deepEqual(skipped, []);
  assert.equal(history.trainSamples, 16);
  model.dispose();
  const loaded = await fusion.FusionModel.load('model-cjs');
  const p = await loaded.predict({ text: 'a low tone please', audio: 'data/clips/low-2.wav' }, { baseDir: process.cwd() });
  assert.ok(['low', 'high'].includes(p.label as string));
  loaded.dispose();
  console.log(`library (cjs): trained on ${history.trainSamples} samples, predicted ${String(p.label)}`);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
