// Run in a fresh process by io.test.ts: load a saved model and print its predictions as JSON.
import { initEngine } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import './helpers.js';

await initEngine();
const [dir, inputs] = process.argv.slice(2) as [string, string];
const model = await FusionModel.load(dir);
const preds = await model.predictBatch(JSON.parse(inputs) as Record<string, unknown>[]);
process.stdout.write(JSON.stringify(preds));
