/**
 * The little of `@tensorflow/tfjs-backend-wasm` that mmfuse's kernels use, typed structurally so that core
 * does not import the (optional) wasm package. Tensors live on the wasm heap; a kernel reads and writes them
 * through typed-array views and calls the backend's own kernels for the heavy arithmetic.
 */
import * as tf from '@tensorflow/tfjs';

/** A tensor as kernels see it: a handle to backend data, a shape and a dtype. */
export type Info = tf.TensorInfo;

/** The members of `BackendWasm` that mmfuse's kernels rely on. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): Info;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(info: Info): Float32Array | Int32Array | Uint8Array;
  numDataIds(): number;
}

/** The arguments every kernel function receives. */
export interface KernelArgs<A = Record<string, unknown>> {
  inputs: Record<string, Info>;
  backend: WasmBackend;
  attrs: A;
}

/**
 * A fresh float32 view of a tensor on the heap. Any allocation may grow (and so move) the heap, so take
 * views after the last `makeOutput` of a kernel, never across one.
 */
export function f32(backend: WasmBackend, info: Info): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) throw new Error(`mmfuse wasm kernel: expected a float32 tensor, got ${info.dtype} [${info.shape.join(', ')}]`);
  return view;
}

/** A fresh int32 view of a tensor on the heap (same caveat as `f32`). */
export function i32(backend: WasmBackend, info: Info): Int32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Int32Array)) throw new Error(`mmfuse wasm kernel: expected an int32 tensor, got ${info.dtype} [${info.shape.join(', ')}]`);
  return view;
}

/** The same data seen with another shape (no copy, no reference taken: use only as a kernel input). */
export function withShape(info: Info, shape: number[]): Info {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

type AnyKernelFunc = (args: { inputs: Record<string, Info>; backend: unknown; attrs: Record<string, unknown> }) => Info | Info[];

/**
 * The wasm kernel function registered as `name`, looked up at call time: for a kernel mmfuse wraps
 * (BatchMatMul, Transpose, Conv2D, ...) that is mmfuse's wrapper, which ends in the stock kernel.
 */
export function stockKernel(name: string): AnyKernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`mmfuse wasm kernel: the wasm backend has no ${name} kernel`);
  return config.kernelFunc as unknown as AnyKernelFunc;
}

/** Run a stock wasm kernel that returns one tensor. */
export function callKernel(name: string, backend: WasmBackend, inputs: Record<string, Info>, attrs: Record<string, unknown> = {}): Info {
  const out = stockKernel(name)({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`mmfuse wasm kernel: ${name} returned ${out.length} tensors, expected one`);
  return out;
}

/** Transpose with the stock wasm kernel. */
export function transpose(backend: WasmBackend, x: Info, perm: number[]): Info {
  return callKernel('Transpose', backend, { x }, { perm });
}

/** The permutation that swaps the last two axes of a rank-`rank` tensor. */
export function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A stock kernel function as a wrapper receives it. */
export type StockFunc = (args: KernelArgs) => Info | Info[];

type View = Float32Array | Int32Array | Uint8Array;

/**
 * A tensor's heap view, a whole-heap view of the same element type, and the tensor's offset in it (in
 * elements). Same caveat as `f32`: take it after the kernel's last allocation.
 */
export function heapView(backend: WasmBackend, x: Info): { view: View; heap: View; base: number } {
  const view = backend.typedArrayFromHeap(x);
  const Ctor = view.constructor as new (buffer: ArrayBufferLike) => View;
  return { view, heap: new Ctor(view.buffer), base: view.byteOffset / view.BYTES_PER_ELEMENT };
}

/** heap[to .. to + n) = heap[from .. from + n): one memmove for a long run, element by element for a short one. */
export function copyRun(heap: View, to: number, from: number, n: number): void {
  if (n >= 16) heap.copyWithin(to, from, from + n);
  else for (let i = 0; i < n; i++) heap[to + i] = heap[from + i]!;
}

/** `x`'s buffer under one more reference, seen with `shape` (tensors are immutable, so sharing is safe). */
export function shareBuffer(backend: WasmBackend, x: Info, shape: number[]): Info {
  (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}
