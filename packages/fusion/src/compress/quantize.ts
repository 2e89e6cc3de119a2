/**
 * Low-precision storage of a trained state's weights (post-training quantization):
 *
 * - `int8`: symmetric per-output-channel scales (max |w| / 127 per channel along the weight's output axis,
 *   see `weights.ts` for each kind of weight), about 4× smaller than float32.
 * - `float16`: half precision, 2× smaller.
 *
 * Biases, LayerNorm and batch-norm parameters, tokens, and every weight with fewer than `minSize` values stay
 * float32. An ensemble's members are quantized alike, each weight with its own scales; calibration measures
 * the ensemble's answers. The state's weights are replaced by their decoded low-precision values, so predictions in this
 * process equal those of the saved and reloaded folder (the tfjs runtime dequantizes at load and computes in
 * float32: int8 storage makes the model smaller, not faster; integer kernels are the ONNX runtime's part).
 *
 * Optional calibration on samples (`calibrate`): weights whose quantization moves the outputs most are kept
 * float32, most sensitive first, until the accuracy (or, without labels, the agreement with the float32
 * model's answers) is within `tolerance` of the float32 model's.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@mmfuse/core';
import type { StoredAs, WeightStorage } from '../io/format.js';
import { decodeFloat16, dequantizeInt8, encodeFloat16, int8Scales, quantizeInt8 } from '../io/weight-codec.js';
import type { WeightDtype } from '../io/weight-codec.js';
import { outputRows } from '../infer.js';
import type { Target } from '../outputs/index.js';
import type { FusionState } from '../state.js';
import type { PreparedSet } from './data.js';
import { describeStateWeights } from './weights.js';
import type { WeightInfo } from './weights.js';

export type LowPrecision = 'int8' | 'float16';

/** Default of `minSize`: smaller weights stay float32 (their bytes hardly matter, their precision may). */
export const DEFAULT_MIN_QUANTIZED_SIZE = 1024;

export interface QuantizeOptions {
  dtype: LowPrecision;
  /** Weights with fewer values stay float32. Default 1024. */
  minSize?: number;
  /** Weights kept in float32, by saved name (`fusion.head.linear.kernel`) or readable label. Default none. */
  keepFloat32?: readonly string[];
  /** Calibrate on these samples: keep the most sensitive weights float32 until within `tolerance`. */
  calibrate?: { data: PreparedSet; tolerance?: number };
}

export interface QuantizedWeight {
  name: string;
  label: string;
  shape: number[];
  dtype: WeightDtype;
  /** int8: the axis of the per-channel scales. */
  axis?: number;
  /** Largest |w - stored w| over the weight's values (0 for float32). */
  maxAbsError: number;
}

export interface CalibrationReport {
  samples: number;
  labeled: number;
  /** `accuracy` when labels are there, else `agreement` with the float32 model's answers. */
  metric: 'accuracy' | 'agreement';
  float32: number;
  /** With every candidate weight quantized. */
  allQuantized: number;
  /** With the chosen weights quantized. */
  chosen: number;
  tolerance: number;
  /** Weights kept float32 by calibration, most sensitive first. */
  keptFloat32: string[];
  /** Per candidate weight: mean over samples of the largest output change when only it is quantized. */
  sensitivity: { name: string; label: string; meanMaxChange: number }[];
}

export interface QuantizationReport {
  dtype: LowPrecision;
  weights: QuantizedWeight[];
  /** Bytes of every weight as float32, and as stored (int8 values + scales, float16, float32). */
  float32Bytes: number;
  storedBytes: number;
  calibration?: CalibrationReport;
}

function storedBytes(info: WeightInfo, as: StoredAs | undefined): number {
  if (as === undefined) return info.size * 4;
  if (as.dtype === 'float16') return info.size * 2;
  return Math.ceil(info.size / 4) * 4 + 4 * (info.shape[as.axis] as number);
}

/** Which weights go to low precision: rank >= 2 with an output axis, at least `minSize` values, not kept. */
export function planQuantization(state: FusionState, options: Omit<QuantizeOptions, 'calibrate'>): WeightStorage {
  if (options.dtype !== 'int8' && options.dtype !== 'float16') throw new ConfigError(`must be "int8" or "float16", got ${JSON.stringify(options.dtype)}`, { path: 'dtype' });
  const minSize = options.minSize ?? DEFAULT_MIN_QUANTIZED_SIZE;
  if (!Number.isInteger(minSize) || minSize < 1) throw new ConfigError(`must be a positive integer, got ${minSize}`, { path: 'minSize' });
  const infos = describeStateWeights(state);
  const keep = new Set(options.keepFloat32 ?? []);
  for (const k of keep) {
    if (!infos.some((i) => i.name === k || i.label === k)) throw new ConfigError(`names no weight of this model: ${JSON.stringify(k)}`, { path: 'keepFloat32' });
  }
  const storage: Record<string, StoredAs> = {};
  for (const info of infos) {
    if (info.outputAxis === null || info.shape.length < 2 || info.size < minSize || keep.has(info.name) || keep.has(info.label)) continue;
    storage[info.name] = options.dtype === 'int8' ? { dtype: 'int8', axis: info.outputAxis } : { dtype: 'float16' };
  }
  return storage;
}

/** Values of a weight after storage in `as` and decoding (what a reloaded folder holds). */
function roundTrip(values: Float32Array, shape: number[], as: StoredAs, name: string): Float32Array {
  if (as.dtype === 'float16') return decodeFloat16(encodeFloat16(values, name));
  const scales = int8Scales(values, shape, as.axis, name);
  return dequantizeInt8(quantizeInt8(values, shape, as.axis, scales, name), shape, as.axis, scales);
}

/** Float32 copies of every weight by saved name (to measure errors against and to restore). */
function snapshot(state: FusionState): Map<string, Float32Array> {
  return new Map(state.namedWeights().map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
}

/** Set each weight to its original value (`originals`) stored as `storage` says. Returns the largest error per weight. */
function assignStored(state: FusionState, originals: ReadonlyMap<string, Float32Array>, storage: WeightStorage): Map<string, number> {
  const errors = new Map<string, number>();
  tf.tidy(() => {
    for (const [name, v] of state.namedWeights()) {
      const orig = originals.get(name) as Float32Array;
      const as = storage[name];
      const values = as === undefined ? orig : roundTrip(orig, [...v.shape], as, name);
      let err = 0;
      if (as !== undefined) for (let i = 0; i < values.length; i++) err = Math.max(err, Math.abs((values[i] as number) - (orig[i] as number)));
      errors.set(name, err);
      v.assign(tf.tensor(values, v.shape, 'float32'));
    }
  });
  return errors;
}

/** Decoded output values of every sample (probabilities for category / multi-label). */
async function outputValues(state: FusionState, data: PreparedSet): Promise<number[][]> {
  const output = state.requireOutput();
  return (await outputRows(state, data.values)).map((r) => output.values(r));
}

function labelOf(state: FusionState, values: readonly number[]): string {
  return JSON.stringify(state.requireOutput().decode(values, []).label);
}

/** Accuracy on the labeled samples, or agreement with the reference answers when none is labeled. */
function quality(state: FusionState, data: PreparedSet, values: number[][], reference: number[][], labeled: number[]): number {
  if (labeled.length > 0) {
    return state.requireOutput().score(labeled.map((i) => values[i] as number[]), labeled.map((i) => data.targets[i] as Target)).accuracy;
  }
  let same = 0;
  values.forEach((v, i) => { if (labelOf(state, v) === labelOf(state, reference[i] as number[])) same++; });
  return same / Math.max(1, values.length);
}

function meanMaxChange(values: number[][], reference: number[][]): number {
  let sum = 0;
  values.forEach((v, i) => {
    const r = reference[i] as number[];
    let m = 0;
    v.forEach((x, k) => { m = Math.max(m, Math.abs(x - (r[k] as number))); });
    sum += m;
  });
  return sum / Math.max(1, values.length);
}

async function calibrate(state: FusionState, originals: ReadonlyMap<string, Float32Array>, candidates: WeightStorage, data: PreparedSet, tolerance: number, infos: readonly WeightInfo[]): Promise<{ storage: WeightStorage; report: CalibrationReport }> {
  const type = state.config.output.type;
  if (type === 'regression') throw new ConfigError('calibration compares answers, so it needs a category or multi-label output; quantize a regression model without it', { path: 'calibrate' });
  if (data.values.length === 0) throw new ConfigError('calibration needs at least one usable sample', { path: 'calibrate' });
  if (!(tolerance >= 0 && tolerance < 1)) throw new ConfigError(`must be a number in [0, 1), got ${tolerance}`, { path: 'calibrate.tolerance' });
  const labeled = data.targets.flatMap((t, i) => (t === undefined ? [] : [i]));
  const label = new Map(infos.map((i) => [i.name, i.label]));
  assignStored(state, originals, {});
  const reference = await outputValues(state, data);
  const float32 = quality(state, data, reference, reference, labeled);
  const names = Object.keys(candidates);
  const sensitivity: { name: string; label: string; meanMaxChange: number }[] = [];
  for (const name of names) {
    assignStored(state, originals, { [name]: candidates[name] as StoredAs });
    sensitivity.push({ name, label: label.get(name) ?? name, meanMaxChange: meanMaxChange(await outputValues(state, data), reference) });
  }
  sensitivity.sort((a, b) => b.meanMaxChange - a.meanMaxChange);
  const chosen: Record<string, StoredAs> = { ...candidates };
  const keptFloat32: string[] = [];
  const measure = async (): Promise<number> => { assignStored(state, originals, chosen); return quality(state, data, await outputValues(state, data), reference, labeled); };
  const allQuantized = await measure();
  let current = allQuantized;
  for (const s of sensitivity) {
    if (float32 - current <= tolerance) break;
    delete chosen[s.name];
    keptFloat32.push(s.name);
    current = await measure();
  }
  return {
    storage: chosen,
    report: { samples: data.values.length, labeled: labeled.length, metric: labeled.length > 0 ? 'accuracy' : 'agreement', float32, allQuantized, chosen: current, tolerance, keptFloat32, sensitivity },
  };
}

/**
 * Quantize a trained state in place: its weights become their stored low-precision values and
 * `state.weightStorage` records how `saveState` writes them.
 */
export async function quantizeState(state: FusionState, options: QuantizeOptions): Promise<QuantizationReport> {
  const infos = describeStateWeights(state);
  let storage = planQuantization(state, options);
  const originals = snapshot(state);
  let calibration: CalibrationReport | undefined;
  try {
    if (options.calibrate !== undefined) {
      ({ storage, report: calibration } = await calibrate(state, originals, storage, options.calibrate.data, options.calibrate.tolerance ?? 0.005, infos));
    }
  } catch (err) {
    assignStored(state, originals, {});
    throw err;
  }
  const errors = assignStored(state, originals, storage);
  state.weightStorage = storage;
  const weights = infos.map((info): QuantizedWeight => {
    const as = storage[info.name];
    const w: QuantizedWeight = { name: info.name, label: info.label, shape: info.shape, dtype: as?.dtype ?? 'float32', maxAbsError: errors.get(info.name) ?? 0 };
    if (as?.dtype === 'int8') w.axis = as.axis;
    return w;
  });
  const report: QuantizationReport = {
    dtype: options.dtype, weights,
    float32Bytes: infos.reduce((a, i) => a + i.size * 4, 0),
    storedBytes: infos.reduce((a, i) => a + storedBytes(i, storage[i.name]), 0),
  };
  if (calibration !== undefined) report.calibration = calibration;
  return report;
}
