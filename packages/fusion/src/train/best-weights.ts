/** A copy of every weight at the best validation epoch, put back at the end of training. */
import * as tf from '@tensorflow/tfjs';
import { readCopies } from '../read-tensors.js';
import type { FusionState } from '../state.js';

export class BestWeights {
  private values?: Float32Array[];
  /** The epoch (1-based) of the copy. */
  epoch?: number;

  /** Copy the state's weights as those of `epoch`. */
  async save(state: FusionState, epoch: number): Promise<void> {
    this.values = await copyWeights(state);
    this.epoch = epoch;
  }

  get saved(): boolean {
    return this.values !== undefined;
  }

  /** The copy and its epoch (for a checkpoint), or undefined before any. */
  copy(): { epoch: number; values: readonly Float32Array[] } | undefined {
    return this.values === undefined || this.epoch === undefined ? undefined : { epoch: this.epoch, values: this.values };
  }

  /** Take a copy made earlier (a resumed run's, from its checkpoint). */
  set(copy: { epoch: number; values: readonly Float32Array[] }): void {
    this.values = [...copy.values];
    this.epoch = copy.epoch;
  }

  /** Put the copied values back into the state's weights. */
  restore(state: FusionState): void {
    if (this.values !== undefined) assignWeights(state, this.values);
  }
}

/** Every weight of a state, copied out. */
export function copyWeights(state: FusionState): Promise<Float32Array[]> {
  return readCopies(state.namedWeights().map(([, w]) => w));
}

/** Put copied values (from `copyWeights` of the same state) into the state's weights. */
export function assignWeights(state: FusionState, values: readonly Float32Array[]): void {
  const named = state.namedWeights();
  tf.tidy(() => named.forEach(([, w], i) => w.assign(tf.tensor(values[i] as Float32Array, w.shape))));
}

/**
 * The weights at the end of the last `size` epochs (`training.averageEpochs`), and the window that ended at
 * the best validation epoch: stochastic weight averaging over a run's closing epochs. Not carried over a
 * resumed run (a resumed run averages the epochs it has seen itself), as the best epoch's copy is not.
 */
export class EpochAverage {
  private ring: { epoch: number; values: Float32Array[] }[] = [];
  private best: { epoch: number; values: Float32Array[] }[] = [];

  constructor(readonly size: number) {}

  /** The state's weights at the end of `epoch` (1-based). */
  async push(state: FusionState, epoch: number): Promise<void> {
    this.ring.push({ epoch, values: await copyWeights(state) });
    if (this.ring.length > this.size) this.ring.shift();
  }

  /** The window now held is the one to average if this stays the best epoch. */
  markBest(): void {
    this.best = this.ring.slice();
  }

  /** The epochs to average: the window at the best epoch (`atBest`) or the last one; null when under two epochs. */
  window(atBest: boolean): { from: number; to: number; values: Float32Array[] } | null {
    const w = atBest ? this.best : this.ring;
    if (w.length < 2) return null;
    const first = w[0] as { values: Float32Array[] };
    const values = first.values.map((v, i) => {
      const mean = new Float32Array(v.length);
      for (const s of w) {
        const x = s.values[i] as Float32Array;
        for (let j = 0; j < x.length; j++) mean[j] = (mean[j] as number) + (x[j] as number);
      }
      for (let j = 0; j < mean.length; j++) mean[j] = (mean[j] as number) / w.length;
      return mean;
    });
    return { from: (w[0] as { epoch: number }).epoch, to: (w[w.length - 1] as { epoch: number }).epoch, values };
  }
}
