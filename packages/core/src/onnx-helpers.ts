/** Small graph idioms shared by the plugins' `exportOnnx` (builder-only: no protobuf, no TensorFlow.js). */
import type { OnnxGraphBuilder, OnnxValue } from './onnx-graph.js';

/** The length of `x`'s axis `axis` as an int64 tensor of shape [1]. */
export function onnxAxisLength(g: OnnxGraphBuilder, x: OnnxValue, axis: number): OnnxValue {
  return g.op('Gather', [g.op('Shape', [x]), g.ints([axis])], { axis: 0 }); // [1]
}

/**
 * The float32 mask [B, T] of `lengths` [B] (int32 or int64): 1 where t < lengths[b]. `steps` is T as an
 * int64 tensor of shape [1] (e.g. from `onnxAxisLength`).
 */
export function onnxLengthMask(g: OnnxGraphBuilder, lengths: OnnxValue, steps: OnnxValue): OnnxValue {
  const t = g.op('Squeeze', [steps, g.ints([0])]); // scalar int64
  const range = g.op('Range', [g.ints(0, []), t, g.ints(1, [])]); // [T] int64
  const len = g.op('Unsqueeze', [g.op('Cast', [lengths], { to: 7 }), g.ints([1])]); // [B, 1] int64
  return g.op('Cast', [g.op('Less', [g.op('Unsqueeze', [range, g.ints([0])]), len])], { to: 1 }); // [B, T] float32
}
