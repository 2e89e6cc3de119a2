/**
 * The search space of `mmfuse hyperopt` (a YAML or JSON file): config key paths with the values to try,
 * the seed of every random choice, the metric, and the method.
 *
 * ```yaml
 * seed: 1
 * metric: valLoss            # valLoss (minimized, default), valAccuracy or valMacroF1 (maximized)
 * method: asha               # asha (random search + asynchronous successive halving, default) or random
 * asha: { minEpochs: 3, reductionFactor: 3 }   # maxEpochs: the config's training.epochs by default
 * includeConfig: true        # trial 1 is the config as written (a baseline to beat)
 * params:
 *   training.learningRate: { type: log-uniform, min: 0.0005, max: 0.01 }
 *   training.batchSize: { type: choice, values: [16, 32, 64] }
 *   fusion.dropout: { type: uniform, min: 0, max: 0.3 }
 *   inputs.text.encoder.hiddenSize: { type: int, min: 32, max: 96, step: 16 }
 * ```
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, IoError, parseOptions, z } from '@mmfuse/core/base';

const KEY_PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)+$/;

const number = z.number().refine(Number.isFinite, 'must be a finite number');
const jsonValue: z.ZodType<unknown> = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.any()), z.record(z.string(), z.any())]);

const choice = z.strictObject({
  type: z.literal('choice'),
  values: z.array(jsonValue).min(1).describe('The values to choose from, each equally likely.'),
});
const uniform = z.strictObject({
  type: z.literal('uniform'),
  min: number,
  max: number,
}).refine((p) => p.min < p.max, { message: 'min must be below max', path: ['max'] });
const logUniform = z.strictObject({
  type: z.literal('log-uniform'),
  min: number.refine((v) => v > 0, 'must be above 0'),
  max: number,
}).refine((p) => p.min < p.max, { message: 'min must be below max', path: ['max'] });
const int = z.strictObject({
  type: z.literal('int'),
  min: z.int(),
  max: z.int(),
  step: z.int().min(1).default(1).describe('Only values min + k * step. Default 1.'),
  log: z.boolean().default(false).describe('Sample on a log scale (min must be >= 1). Default false.'),
}).refine((p) => p.min <= p.max, { message: 'min must not be above max', path: ['max'] })
  .refine((p) => !p.log || p.min >= 1, { message: 'a log-scale int needs min >= 1', path: ['min'] });

const param = z.discriminatedUnion('type', [choice, uniform, logUniform, int]);

export const searchSpaceSchema = z.strictObject({
  seed: z.int().min(0).default(0).describe('Seed of every random choice of the search. Default 0.'),
  metric: z.enum(['valLoss', 'valAccuracy', 'valMacroF1']).default('valLoss').describe('What to optimize: valLoss (minimized) or valAccuracy / valMacroF1 (maximized). Default valLoss.'),
  method: z.enum(['asha', 'random']).default('asha').describe('asha: random configurations, weak ones stopped at rungs (asynchronous successive halving); random: every trial runs its full budget. Default asha.'),
  asha: z.strictObject({
    minEpochs: z.int().min(1).default(1).describe('Epochs of the first rung. Default 1.'),
    reductionFactor: z.int().min(2).default(3).describe('Keep the best 1/reductionFactor at each rung; rungs at minEpochs x factor^k. Default 3.'),
    maxEpochs: z.int().min(1).optional().describe('Epochs of a trial that is never stopped. Default: the config\'s training.epochs.'),
  }).prefault({}),
  includeConfig: z.boolean().default(false).describe('Trial 1 runs the config as written (a baseline). Default false.'),
  params: z.record(z.string(), param).refine((p) => Object.keys(p).length > 0, 'must name at least one config key path'),
});

export type SearchSpace = z.output<typeof searchSpaceSchema>;
export type SearchSpaceInput = z.input<typeof searchSpaceSchema>;
export type ParamSpec = SearchSpace['params'][string];

/** True when larger values of the metric are better. */
export function maximizes(metric: SearchSpace['metric']): boolean {
  return metric !== 'valLoss';
}

/** Check a parsed search space. Throws `ConfigError` naming the key path (and `file`). */
export function parseSearchSpace(raw: unknown, file?: string): SearchSpace {
  const loc = file === undefined ? {} : { file };
  const space = parseOptions(searchSpaceSchema, raw, loc);
  for (const key of Object.keys(space.params)) {
    if (!KEY_PATH.test(key)) throw new ConfigError(`is not a config key path like training.learningRate or inputs.text.encoder.hiddenSize`, { ...loc, path: `params.${key}` });
  }
  return space;
}

/** Read a search space file (YAML or JSON). */
export async function readSearchSpace(file: string): Promise<SearchSpace> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new ConfigError('search space file does not exist', { file: abs, cause: err });
    throw new IoError(`cannot read the search space: ${e.message}`, { file: abs, cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError(`search space is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, { file: abs, cause: err });
  }
  return parseSearchSpace(raw, abs);
}
