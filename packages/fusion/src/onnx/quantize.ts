/**
 * Symmetric int8 quantization of weights, the scheme shared with `mmfuse compress`: per output column of a
 * [in, out] kernel (per row of an embedding table), scale = max|w| / 127 and q = round(w / scale) in
 * -127..127 (zero point 0). Re-quantizing weights that were dequantized from this scheme gives back the
 * same integers (the column's largest |q| is 127, so the scale is recovered).
 */
import { int8Scales, quantizeInt8 } from '../io/weight-codec.js';

/** Quantized values and one float32 scale per group. */
export interface Quantized {
  values: Int8Array;
  scales: Float32Array;
}

/**
 * One implementation of the scheme for both writers: `int8Scales` / `quantizeInt8` of the saved-model
 * codec (round half to even, as PyTorch). An all-zero group gets scale 1 here instead of 0 (its values are 0
 * either way), so a graph never multiplies by a zero scale.
 */
function quantize(w: Float32Array, shape: [number, number], axis: 0 | 1): Quantized {
  const scales = int8Scales(w, shape, axis).map((s) => (s > 0 ? s : 1));
  return { values: quantizeInt8(w, shape, axis, scales), scales };
}

/** A [rows, cols] row-major kernel quantized per column (an output channel of `x W`). */
export function quantizeColumns(w: Float32Array, rows: number, cols: number): Quantized {
  return quantize(w, [rows, cols], 1);
}

/** A [rows, cols] row-major table quantized per row (an embedding vector). */
export function quantizeRows(w: Float32Array, rows: number, cols: number): Quantized {
  return quantize(w, [rows, cols], 0);
}
