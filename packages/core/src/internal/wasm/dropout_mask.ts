/**
 * mmfuse's seeded dropout masks: xorshift32 with two 16-bit draws per state update, each value 0 with
 * probability `rate` (to 1/65536) and 1 / (1 - rate) otherwise. One definition for the layers (which build a
 * whole mask) and the fused kernels (which draw the same values row by row, so a fused op and its unfused
 * composition drop exactly the same entries for the same seed).
 */

/** Draws the mask of `dropoutMask(size, rate, seed)` in order, any number of values at a time. */
export class DropoutStream {
  private s: number;
  /** The high half of the last state, when the low half has been used. */
  private pending = -1;
  private readonly keep: number;
  private readonly threshold: number;

  constructor(rate: number, seed: number) {
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
    this.keep = 1 / (1 - rate);
    this.threshold = Math.round(rate * 65536); // drop when a 16-bit draw is below it
    // The state is kept as an int32 (the same 32 bits as the unsigned xorshift32 state): values of 2^31 and
    // above would otherwise be doubles in V8, several times slower per draw.
    this.s = ((seed ^ 0x9e3779b9) | 0) || 1;
  }

  /** Write the next `count` mask values into `out` from `offset` (the mask times ones: exactly the mask). */
  fill(out: Float32Array, offset: number, count: number): void {
    const view = out.subarray(offset, offset + count);
    view.fill(1);
    this.multiply(view, view);
  }

  /**
   * out[i] = x[i] · mask[i] for the next `x.length` mask values, in one pass (`out` may be `x`). Equal bit for
   * bit to `fill` followed by a float32 multiply, -0 and NaN included (a dropped value is 0 · x, not 0): the
   * mask value is a float32 (`fround(keep)`), and the product of two float32 values is exact in a double, so
   * its one rounding to float32 is the multiply's.
   */
  multiply(x: Float32Array, out: Float32Array): void {
    if (out.length !== x.length) throw new RangeError(`dropout: output of ${out.length} values for ${x.length} inputs`);
    const keep = Math.fround(this.keep);
    const { threshold } = this;
    const end = x.length;
    let s = this.s;
    let i = 0;
    if (i < end && this.pending >= 0) {
      out[i] = (this.pending < threshold ? 0 : keep) * x[i]!;
      i++;
      this.pending = -1;
    }
    const pairsEnd = i + ((end - i) & ~1);
    while (i < pairsEnd) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      out[i] = ((s & 0xffff) < threshold ? 0 : keep) * x[i]!;
      out[i + 1] = ((s >>> 16) < threshold ? 0 : keep) * x[i + 1]!;
      i += 2;
    }
    if (i < end) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      out[i] = ((s & 0xffff) < threshold ? 0 : keep) * x[i]!;
      this.pending = s >>> 16;
    }
    this.s = s;
  }
}

/** A keep mask of `size` values: 0 with probability `rate` (to 1/65536), else 1 / (1 - rate). */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  new DropoutStream(rate, seed).fill(out, 0, size);
  return out;
}
