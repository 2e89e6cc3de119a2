/** A filterbank [nFreqs, nFilters] stored per filter as its non-zero run of bins, for fast projection. */
export class SparseFilterbank {
  readonly nFreqs: number;
  readonly nFilters: number;
  /** First non-zero bin of each filter. */
  readonly start: Int32Array;
  /** Offset of each filter's weights in `weights`, plus a final end offset. */
  readonly offset: Int32Array;
  readonly weights: Float64Array;

  /** `dense[f * nFilters + m]` is the weight of bin f in filter m. */
  constructor(dense: Float64Array, nFreqs: number, nFilters: number) {
    this.nFreqs = nFreqs;
    this.nFilters = nFilters;
    this.start = new Int32Array(nFilters);
    this.offset = new Int32Array(nFilters + 1);
    const runs: number[][] = [];
    let total = 0;
    for (let m = 0; m < nFilters; m++) {
      let lo = -1;
      let hi = -1;
      for (let f = 0; f < nFreqs; f++) {
        if ((dense[f * nFilters + m] as number) !== 0) {
          if (lo < 0) lo = f;
          hi = f;
        }
      }
      const run: number[] = [];
      if (lo >= 0) for (let f = lo; f <= hi; f++) run.push(dense[f * nFilters + m] as number);
      this.start[m] = Math.max(lo, 0);
      this.offset[m] = total;
      total += run.length;
      runs.push(run);
    }
    this.offset[nFilters] = total;
    this.weights = new Float64Array(total);
    runs.forEach((run, m) => this.weights.set(run, this.offset[m] as number));
  }

  /** The same weights bin by bin (CSR over bins): bin f feeds filters binFilter[binStart[f]..binStart[f+1]). */
  binMajor(): { binStart: Int32Array; binFilter: Int32Array; binWeight: Float64Array } {
    const counts = new Int32Array(this.nFreqs + 1);
    for (let m = 0; m < this.nFilters; m++) {
      const len = (this.offset[m + 1] as number) - (this.offset[m] as number);
      for (let i = 0; i < len; i++) {
        const f = (this.start[m] as number) + i + 1;
        counts[f] = (counts[f] as number) + 1;
      }
    }
    for (let f = 0; f < this.nFreqs; f++) counts[f + 1] = (counts[f + 1] as number) + (counts[f] as number);
    const binFilter = new Int32Array(this.weights.length);
    const binWeight = new Float64Array(this.weights.length);
    const fill = counts.slice(0, this.nFreqs);
    for (let m = 0; m < this.nFilters; m++) {
      const o0 = this.offset[m] as number;
      const len = (this.offset[m + 1] as number) - o0;
      for (let i = 0; i < len; i++) {
        const f = (this.start[m] as number) + i;
        const at = fill[f] as number;
        binFilter[at] = m;
        binWeight[at] = this.weights[o0 + i] as number;
        fill[f] = at + 1;
      }
    }
    return { binStart: counts, binFilter, binWeight };
  }

  /** out[m] = sum_f spec[specOffset + f] * fb[f, m]. */
  apply(spec: Float64Array, specOffset: number, out: Float64Array | Float32Array, outOffset: number): void {
    const { start, offset, weights, nFilters } = this;
    for (let m = 0; m < nFilters; m++) {
      const o0 = offset[m] as number;
      const o1 = offset[m + 1] as number;
      let s = 0;
      let f = specOffset + (start[m] as number) - o0;
      for (let o = o0; o < o1; o++) s += (weights[o] as number) * (spec[f + o] as number);
      out[outOffset + m] = s;
    }
  }
}
