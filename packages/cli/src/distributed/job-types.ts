/**
 * The jobs mmfuse hands to workers, as JSON. Sample fields travel as `WireFields` (bytes as base64);
 * paths are absolute, so every worker must see the data at the same path (shared storage).
 */
import type { ManifestSample, SkippedSample } from '@mmfuse/core';
import type { JsonValue } from '@mmfuse/core';
import type { WireFields } from '@mmfuse/distributed';

/** A manifest entry on the wire: a sample (`s`) or a line the reader refused (`bad`). */
export type WireEntry = { s: { id: string; line: number } & WireFields } | { bad: SkippedSample };

/** `predict-chunk`: predict one chunk of a manifest with a model folder. */
export interface PredictChunkJob {
  model: string;
  /** sha256 of the coordinator's model.json: a worker that sees another model refuses the job. */
  modelSha256: string;
  manifest: string;
  /** `--plugin` modules the coordinator loaded; the worker must have been started with them. */
  plugins: string[];
  entries: WireEntry[];
}

export interface PredictChunkResult {
  /** The JSON lines, exactly as a local run writes them. */
  text: string;
  /** Log lines (skipped samples), without the command prefix. */
  logs: string[];
  n: number;
  failed: number;
}

/** `prepare-chunk`: prepare one chunk of a config's manifest into the shared cache. */
export interface PrepareChunkJob {
  config: string;
  /** Plugins named on the coordinator's command line (the config's own are read from it). */
  plugins: string[];
  manifest: string;
  cacheDir: string;
  entries: WireEntry[];
}

export interface PrepareChunkResult {
  samples: number;
  prepared: number;
  /** Refused lines and samples, in manifest order. */
  skipped: SkippedSample[];
  cache: { diskHits: number; misses: number; writes: number };
}

/** `trial`: train one configuration of a hyperparameter search. */
export interface TrialJob {
  config: string;
  plugins: string[];
  /** 1-based trial number. */
  trial: number;
  /** Config key path → value (empty: the config as written). */
  params: Record<string, JsonValue>;
  search: string;
  /** Folder of this trial (its model is written to `<dir>/model`). */
  dir: string;
  cacheDir?: string;
  maxEpochs: number;
  metric: 'valLoss' | 'valAccuracy' | 'valMacroF1';
  /** Successive halving; absent for plain random search. */
  asha?: { minEpochs: number; reductionFactor: number };
}

export interface TrialResult {
  trial: number;
  params: Record<string, JsonValue>;
  status: 'completed' | 'stopped';
  /** The best value of the metric over the epochs (the weights of that epoch are the trial's model). */
  metric: number;
  valLoss?: number;
  valAccuracy?: number;
  valMacroF1?: number;
  bestEpoch?: number;
  epochs: number;
  stopReason?: string;
  /** Per epoch: validation loss (null where none). */
  valLossHistory: (number | null)[];
  seconds: number;
  worker: string;
  model: string;
  trainSamples: number;
  validationSamples: number;
}

export function entryToWire(entry: { sample: ManifestSample } | { bad: SkippedSample }, toWire: (f: Record<string, unknown>) => WireFields): WireEntry {
  if ('bad' in entry) return { bad: entry.bad };
  return { s: { id: entry.sample.id, line: entry.sample.line, ...toWire(entry.sample.fields) } };
}

export function entryFromWire(entry: WireEntry, fromWire: (w: WireFields) => Record<string, unknown>): { sample: ManifestSample } | { bad: SkippedSample } {
  if ('bad' in entry) return { bad: entry.bad };
  return { sample: { id: entry.s.id, line: entry.s.line, fields: fromWire(entry.s) } };
}
