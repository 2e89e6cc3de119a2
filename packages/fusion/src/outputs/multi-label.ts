/**
 * `multi-label`: any number of labels per sample. Head: one logit per label; loss: sigmoid binary
 * cross-entropy per label (label smoothing (1 - eps) y + eps / 2, per-label weights), averaged over
 * samples and labels; prediction: every label with probability >= 0.5.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError, createRecord } from '@mmfuse/core';
import { multiLabelMetrics } from '../metrics.js';
import type { ClassMetrics } from '../metrics.js';
import { checkSavedLabels, labelOf, labelWeights, requireKnown, sortedLabels } from './labels.js';
import type { BatchTargets, FittedOutput, LossOptions, OutputKind, OutputScores, Prediction, SavedOutput, Target, TargetLocation } from './types.js';

/** The multi-label loss (see the file comment). */
export function multiLabelLoss(logits: tf.Tensor2D, targets: BatchTargets, options: LossOptions = {}): tf.Scalar {
  const [b, k] = logits.shape;
  const eps = options.labelSmoothing ?? 0;
  const y = tf.tensor2d(targets.values, [b, k]);
  const t = eps > 0 ? y.mul(1 - eps).add(eps / 2) : y;
  // Stable BCE with logits: max(x, 0) - x t + log(1 + exp(-|x|)).
  let l = logits.relu().sub(logits.mul(t)).add(logits.abs().neg().exp().log1p()); // [B, K]
  if (targets.weights !== undefined) l = l.mul(tf.tensor1d(targets.weights));
  return l.mean() as tf.Scalar;
}

class MultiLabelOutput implements FittedOutput {
  readonly type = 'multi-label' as const;
  readonly outDim: number;
  private readonly index: Map<string, number>;

  constructor(readonly labels: readonly string[], readonly field: string) {
    this.outDim = labels.length;
    this.index = new Map(labels.map((l, i) => [l, i]));
  }

  check(target: Target, loc: TargetLocation): void {
    for (const l of target as string[]) requireKnown(this.index, l, loc);
  }

  classWeights(setting: 'balanced' | Record<string, number> | null, targets: readonly Target[]): number[] | undefined {
    return labelWeights(this.labels, setting, targets as readonly string[][]);
  }

  encode(targets: readonly Target[], classWeights?: readonly number[]): BatchTargets {
    const k = this.outDim;
    const values = new Float32Array(targets.length * k);
    targets.forEach((t, r) => { for (const l of t as string[]) { const i = this.index.get(l); if (i !== undefined) values[r * k + i] = 1; } });
    return classWeights === undefined ? { values } : { values, weights: Float32Array.from(classWeights) };
  }

  loss(logits: tf.Tensor2D, targets: BatchTargets, options?: LossOptions): tf.Scalar {
    return multiLabelLoss(logits, targets, options);
  }

  values(row: Float32Array): number[] {
    return Array.from(row, (v) => 1 / (1 + Math.exp(-v)));
  }

  topIndex(values: readonly number[]): number {
    let best = 0;
    values.forEach((v, i) => { if (v > (values[best] as number)) best = i; });
    return best;
  }

  decode(values: readonly number[], modalitiesUsed: string[]): Prediction {
    const probabilities = createRecord<number>(); // a label may be named __proto__
    this.labels.forEach((l, i) => { probabilities[l] = values[i] as number; });
    return { label: this.labels.filter((_, i) => (values[i] as number) >= 0.5), probabilities, modalitiesUsed };
  }

  score(values: readonly (readonly number[])[], targets: readonly Target[]): OutputScores {
    const truth = targets.map((t) => this.labels.map((l) => ((t as string[]).includes(l) ? 1 : 0)));
    const pred = values.map((v) => v.map((p) => (p >= 0.5 ? 1 : 0)));
    const m = multiLabelMetrics(truth, pred, this.labels.length);
    const perClass = createRecord<ClassMetrics>();
    this.labels.forEach((l, i) => { perClass[l] = m.perLabel[i] as ClassMetrics; });
    return { accuracy: m.exactMatch, macroF1: m.macroF1, perClass, confusion: { labels: [], matrix: [] } };
  }

  toJSON(): SavedOutput {
    return { labels: [...this.labels], outDim: this.outDim };
  }
}

export const multiLabelOutput: OutputKind = {
  type: 'multi-label',
  manifestField: 'label',
  parse(raw: unknown, loc: TargetLocation): Target {
    if (raw === undefined || raw === null) throw new InvalidInputError('the target is missing', loc);
    const out: string[] = [];
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      const label = labelOf(v);
      if (label === undefined) throw new InvalidInputError(`expected a list of labels, found ${JSON.stringify(v)} in it`, loc);
      out.push(label);
    }
    return [...new Set(out)];
  },
  fit(targets: readonly Target[], field: string): FittedOutput {
    const labels = sortedLabels((targets as readonly string[][]).flat());
    if (labels.length === 0) throw new InvalidInputError(`the training data has no labels in "${field}"`, { field });
    return new MultiLabelOutput(labels, field);
  },
  loss: multiLabelLoss,
  restore(saved: SavedOutput, field: string): FittedOutput {
    return new MultiLabelOutput(checkSavedLabels(saved, 'multi-label', 1), field);
  },
};
