/** Decibel conversion shared by amplitudeToDb and mfcc. */

/** Writes dB values of `src` into `dst` (may be the same array). */
export function dbInPlace(src: ArrayLike<number>, dst: Float32Array | Float64Array, multiplier: number, amin: number, ref: number, topDb: number | null): void {
  const offset = multiplier * Math.log10(Math.max(ref, amin));
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < src.length; i++) {
    const v = multiplier * Math.log10(Math.max(src[i] as number, amin)) - offset;
    dst[i] = v;
    if (v > max) max = v;
  }
  if (topDb !== null) {
    const floor = max - topDb;
    for (let i = 0; i < dst.length; i++) if ((dst[i] as number) < floor) dst[i] = floor;
  }
}
