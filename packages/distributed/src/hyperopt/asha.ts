/**
 * Asynchronous successive halving (ASHA; Li et al., "A System for Massively Parallel Hyperparameter
 * Tuning", MLSys 2020), the stopping variant Ray Tune's ASHAScheduler uses: trials report their metric at
 * rungs (minEpochs x reductionFactor^k epochs); a trial continues past a rung only while it is among the best
 * 1/reductionFactor of the trials that reached that rung so far. It never waits for other trials, so it
 * suits workers that finish at different times. Rung tables live in a `SharedTable`, so trials running on
 * different machines see each other.
 */
import { ConfigError } from '@mmfuse/core/base';
import type { SharedTable } from '../types.js';

export interface AshaOptions {
  minEpochs: number;
  reductionFactor: number;
  maxEpochs: number;
}

/** Rung epochs: minEpochs x factor^k below maxEpochs (a trial that passes them all runs maxEpochs). */
export function ashaRungs(o: AshaOptions): number[] {
  if (!Number.isInteger(o.minEpochs) || o.minEpochs < 1) throw new ConfigError(`must be an integer >= 1, got ${o.minEpochs}`, { path: 'asha.minEpochs' });
  if (!Number.isInteger(o.reductionFactor) || o.reductionFactor < 2) throw new ConfigError(`must be an integer >= 2, got ${o.reductionFactor}`, { path: 'asha.reductionFactor' });
  const rungs: number[] = [];
  for (let r = o.minEpochs; r < o.maxEpochs; r *= o.reductionFactor) rungs.push(r);
  return rungs;
}

/** The q-quantile (0..1) of `values` with linear interpolation (numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (v[lo] as number) + ((v[hi] as number) - (v[lo] as number)) * (pos - lo);
}

/**
 * Whether a trial with `value` at a rung continues, given the values `others` recorded there before:
 * always when there are none; otherwise when it is within the best 1/reductionFactor (at or below the
 * 1/factor quantile when minimizing, at or above the 1 - 1/factor quantile when maximizing).
 */
export function ashaContinues(value: number, others: readonly number[], reductionFactor: number, maximize: boolean): boolean {
  const finite = others.filter(Number.isFinite);
  if (finite.length === 0) return true;
  if (!Number.isFinite(value)) return false;
  return maximize ? value >= quantile(finite, 1 - 1 / reductionFactor) : value <= quantile(finite, 1 / reductionFactor);
}

/** One trial's view of the search: record its metric at each rung and learn whether to go on. */
export class AshaRungs {
  readonly rungs: readonly number[];

  constructor(private readonly options: AshaOptions & { maximize: boolean; table: SharedTable; search: string; trial: string }) {
    this.rungs = ashaRungs(options);
  }

  /**
   * After epoch `epoch` (1-based) with the trial's best metric so far: `undefined` to continue, or the
   * reason to stop. Only rung epochs are decided; other epochs continue.
   */
  async afterEpoch(epoch: number, best: number): Promise<string | undefined> {
    if (!this.rungs.includes(epoch)) return undefined;
    const o = this.options;
    const table = await o.table.record(`${o.search}:rung-${epoch}`, o.trial, best);
    const others = Object.entries(table).filter(([k]) => k !== o.trial).map(([, v]) => v);
    if (ashaContinues(best, others, o.reductionFactor, o.maximize)) return undefined;
    return `asha: not in the best 1/${o.reductionFactor} of ${others.length + 1} trials at rung ${epoch} epochs`;
  }
}
