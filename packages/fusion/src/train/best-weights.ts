/** A copy of every weight at the best validation epoch, put back at the end of training. */
import * as tf from '@tensorflow/tfjs';
import type { FusionState } from '../state.js';

export class BestWeights {
  private values?: Float32Array[];
  /** The epoch (1-based) of the copy. */
  epoch?: number;

  /** Copy the state's weights as those of `epoch`. */
  save(state: FusionState, epoch: number): void {
    this.values = state.namedWeights().map(([, w]) => w.dataSync().slice() as Float32Array);
    this.epoch = epoch;
  }

  get saved(): boolean {
    return this.values !== undefined;
  }

  /** Put the copied values back into the state's weights. */
  restore(state: FusionState): void {
    const values = this.values;
    if (values === undefined) return;
    const named = state.namedWeights();
    tf.tidy(() => named.forEach(([, w], i) => w.assign(tf.tensor(values[i] as Float32Array, w.shape))));
  }
}
