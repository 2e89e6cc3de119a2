/**
 * Symmetric int8 quantization of weights, the scheme shared with `mmfuse compress`: per output column of a
 * [in, out] kernel (per row of an embedding table), scale = max|w| / 127 and q = round(w / scale) in
 * -127..127 (zero point 0). Re-quantizing weights that were dequantized from this scheme gives back the
 * same integers (the column's largest |q| is 127, so the scale is recovered).
 */

/** Quantized values and one float32 scale per group. */
export interface Quantized {
  values: Int8Array;
  scales: Float32Array;
}

function quantize(w: Float32Array, groups: number, size: number, index: (group: number, i: number) => number): Quantized {
  const values = new Int8Array(w.length);
  const scales = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    let max = 0;
    for (let i = 0; i < size; i++) max = Math.max(max, Math.abs(w[index(g, i)] as number));
    const scale = max > 0 ? Math.fround(max / 127) : 1;
    scales[g] = scale;
    for (let i = 0; i < size; i++) {
      const k = index(g, i);
      values[k] = Math.max(-127, Math.min(127, Math.round((w[k] as number) / scale)));
    }
  }
  return { values, scales };
}

/** A [rows, cols] row-major kernel quantized per column (an output channel of `x W`). */
export function quantizeColumns(w: Float32Array, rows: number, cols: number): Quantized {
  return quantize(w, cols, rows, (c, r) => r * cols + c);
}

/** A [rows, cols] row-major table quantized per row (an embedding vector). */
export function quantizeRows(w: Float32Array, rows: number, cols: number): Quantized {
  return quantize(w, rows, cols, (r, c) => r * cols + c);
}
