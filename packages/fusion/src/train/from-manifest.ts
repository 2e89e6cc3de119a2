/** Convenience for the CLI: train from manifest files, optionally save the model folder. */
import * as path from 'node:path';
import { readManifest } from '@mmfuse/core';
import type { EncoderRegistry, SkippedSample } from '@mmfuse/core';
import type { FusionModelConfig } from '../config.js';
import { FusionModel } from '../model.js';
import type { FitOptions, TrainingHistory } from './loop.js';

export interface TrainFromManifestOptions extends Omit<FitOptions, 'validation' | 'baseDir' | 'validationBaseDir'> {
  config: FusionModelConfig;
  /** Training manifest (JSONL or CSV); relative paths in it resolve against its folder. */
  train: string;
  /** Validation manifest. Default: `training.validationSplit` of the training data. */
  validation?: string;
  /** Save the trained model folder here (atomically). */
  out?: string;
  registry?: EncoderRegistry;
}

export async function trainFromManifest(options: TrainFromManifestOptions): Promise<{ model: FusionModel; history: TrainingHistory; skipped: SkippedSample[] }> {
  const { config, train, validation, out, registry, ...fit } = options;
  const model = FusionModel.create(config, registry === undefined ? {} : { registry });
  const skipped: SkippedSample[] = [];
  const onSkip = (s: SkippedSample): void => { skipped.push(s); fit.onSkip?.(s); };
  const manifest = (file: string) => readManifest(file, { onError: 'skip', onSkip, fields: { [model.config.output.field]: 'label' } });
  const fitOptions: FitOptions = { ...fit, onSkip, baseDir: path.dirname(path.resolve(train)) };
  if (validation !== undefined) {
    fitOptions.validation = manifest(validation);
    fitOptions.validationBaseDir = path.dirname(path.resolve(validation));
  }
  try {
    const history = await model.fit(manifest(train), fitOptions);
    if (out !== undefined) await model.save(out);
    return { model, history, skipped };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
