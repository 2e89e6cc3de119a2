/**
 * `regression`: a number or a fixed-length list of numbers per sample. Targets are standardized with the
 * training set's mean and standard deviation per value; head: one output per value; loss: mean squared
 * error on the standardized values; prediction: the values in the original units.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, ModelFormatError } from '@mmfuse/core';
import type { BatchTargets, FittedOutput, LossOptions, OutputKind, OutputScores, Prediction, SavedOutput, Target, TargetLocation } from './types.js';

interface Stats { mean: number[]; std: number[] }

/** The regression loss (see the file comment). */
export function regressionLoss(logits: tf.Tensor2D, targets: BatchTargets, _options: LossOptions = {}): tf.Scalar {
  return logits.sub(tf.tensor2d(targets.values, logits.shape)).square().mean() as tf.Scalar;
}

class RegressionOutput implements FittedOutput {
  readonly type = 'regression' as const;
  readonly labels: readonly string[] = [];
  readonly outDim: number;

  constructor(readonly targetStats: Stats, readonly field: string) {
    this.outDim = targetStats.mean.length;
  }

  check(target: Target, loc: TargetLocation): void {
    const n = (target as number[]).length;
    if (n !== this.outDim) throw new InvalidInputError(`expected ${this.outDim} value(s), got ${n}`, loc);
  }

  classWeights(): undefined {
    return undefined;
  }

  encode(targets: readonly Target[]): BatchTargets {
    const k = this.outDim;
    const { mean, std } = this.targetStats;
    const values = new Float32Array(targets.length * k);
    targets.forEach((t, r) => (t as number[]).forEach((v, i) => { values[r * k + i] = (v - (mean[i] as number)) / (std[i] as number); }));
    return { values };
  }

  loss(logits: tf.Tensor2D, targets: BatchTargets, options?: LossOptions): tf.Scalar {
    return regressionLoss(logits, targets, options);
  }

  values(row: Float32Array): number[] {
    const { mean, std } = this.targetStats;
    return Array.from(row, (v, i) => v * (std[i] as number) + (mean[i] as number));
  }

  topIndex(): number {
    return 0;
  }

  decode(values: readonly number[], modalitiesUsed: string[]): Prediction {
    return { label: values[0] as number, value: [...values], modalitiesUsed };
  }

  score(values: readonly (readonly number[])[], targets: readonly Target[]): OutputScores {
    let ae = 0; let se = 0; let n = 0; let mean = 0;
    targets.forEach((t) => (t as number[]).forEach((y) => { mean += y; n++; }));
    mean /= Math.max(1, n);
    let ss = 0;
    targets.forEach((t, i) => (t as number[]).forEach((y, k) => {
      const p = (values[i] as number[])[k] as number;
      ae += Math.abs(p - y); se += (p - y) ** 2; ss += (y - mean) ** 2;
    }));
    return {
      accuracy: Number.NaN, macroF1: Number.NaN, perClass: {}, confusion: { labels: [], matrix: [] },
      regression: { mae: ae / Math.max(1, n), rmse: Math.sqrt(se / Math.max(1, n)), r2: ss > 0 ? 1 - se / ss : 0 },
    };
  }

  toJSON(): SavedOutput {
    return { labels: [], outDim: this.outDim, targetStats: { mean: [...this.targetStats.mean], std: [...this.targetStats.std] } };
  }
}

export const regressionOutput: OutputKind = {
  type: 'regression',
  manifestField: 'any',
  parse(raw: unknown, loc: TargetLocation): Target {
    if (raw === undefined || raw === null) throw new InvalidInputError('the target is missing', loc);
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) throw new InvalidInputError('expected a number or a non-empty list of numbers, got []', loc);
    return list.map((v, i) => {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidInputError(`value ${i} is ${JSON.stringify(v)}, not a finite number`, loc);
      return n;
    });
  },
  fit(targets: readonly Target[], field: string): FittedOutput {
    // The first sample fixes the number of values; samples with another count are refused by `check`.
    const dim = (targets[0] as number[] | undefined)?.length ?? 1;
    const same = (targets as readonly number[][]).filter((t) => t.length === dim);
    const mean = new Array<number>(dim).fill(0); const std = new Array<number>(dim).fill(0);
    for (const t of same) t.forEach((v, i) => { mean[i]! += v / same.length; });
    for (const t of same) t.forEach((v, i) => { std[i]! += (v - (mean[i] as number)) ** 2 / same.length; });
    return new RegressionOutput({ mean, std: std.map((v) => Math.sqrt(v) || 1) }, field);
  },
  loss: regressionLoss,
  restore(saved: SavedOutput, field: string): FittedOutput {
    const st = saved.targetStats;
    const ok = st !== undefined && Array.isArray(st.mean) && Array.isArray(st.std) && st.mean.length === saved.outDim && st.std.length === saved.outDim && saved.outDim >= 1;
    if (!ok) throw new ModelFormatError(`a regression output needs targetStats with outDim (${JSON.stringify(saved.outDim)}) means and standard deviations`);
    return new RegressionOutput({ mean: [...st.mean], std: [...st.std] }, field);
  },
};
