/** One call that trains and evaluates the same config, data and budget under each fusion strategy. */
import type { EncoderRegistry } from '@mmfuse/core';
import type { FusionModelConfig, FusionStrategyName } from './config.js';
import type { EvaluationReport } from './evaluate.js';
import { FusionModel } from './model.js';
import { collectSamples } from './pipeline/prepare.js';
import type { SampleSource } from './pipeline/prepare.js';
import type { FitOptions, TrainingHistory } from './train/loop.js';

export interface StrategyResult {
  strategy: FusionStrategyName;
  parameters: number;
  trainSeconds: number;
  history: TrainingHistory;
  report: EvaluationReport;
}

export async function compareStrategies(config: FusionModelConfig, train: SampleSource, test: SampleSource, options: { strategies?: FusionStrategyName[]; fit?: FitOptions; registry?: EncoderRegistry; baseDir?: string } = {}): Promise<StrategyResult[]> {
  const trainSamples = await collectSamples(train);
  const testSamples = await collectSamples(test);
  const out: StrategyResult[] = [];
  for (const strategy of options.strategies ?? ['transformer', 'late', 'cross-attention'] as FusionStrategyName[]) {
    const model = FusionModel.create({ ...config, fusion: { ...config.fusion, strategy } }, options.registry === undefined ? {} : { registry: options.registry });
    try {
      const t0 = performance.now();
      const history = await model.fit(trainSamples, { ...options.fit, ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }) });
      const trainSeconds = (performance.now() - t0) / 1000;
      const report = await model.evaluate(testSamples, options.baseDir === undefined ? {} : { baseDir: options.baseDir });
      out.push({ strategy, parameters: model.summary().parameters, trainSeconds, history, report });
    } finally {
      model.dispose();
    }
  }
  return out;
}
