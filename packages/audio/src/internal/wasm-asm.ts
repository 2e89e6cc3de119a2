/**
 * A minimal WebAssembly binary writer: one exported function over an exported memory, built from
 * expression byte strings. Enough for straight-line SIMD kernels generated at run time. The container format
 * (LEB128, sections, names) is core's, shared with its AdamW kernel.
 */
import { WASM_HEADER, sleb128 as sleb, uleb128 as uleb, wasmName as name, wasmSection as section } from '@mmfuse/core/base';

const f32buf = new Float32Array(1);
const f32bytes = new Uint8Array(f32buf.buffer);

function f32le(v: number): number[] {
  f32buf[0] = v;
  // wasm immediates are little-endian; so is every platform Node runs on that has wasm SIMD
  return [f32bytes[0] as number, f32bytes[1] as number, f32bytes[2] as number, f32bytes[3] as number];
}

function simd(op: number): number[] {
  return [0xfd, ...uleb(op)];
}

/** Byte strings that each leave one value on the stack (v128 unless noted). */
export const op = {
  get: (local: number): number[] => [0x20, ...uleb(local)],
  set: (local: number, value: number[]): number[] => [...value, 0x21, ...uleb(local)],
  /** v128 at a constant address. */
  load: (addr: number): number[] => [0x41, 0, ...simd(0x00), 4, ...uleb(addr)],
  store: (addr: number, value: number[]): number[] => [0x41, 0, ...value, ...simd(0x0b), 4, ...uleb(addr)],
  /** f32 at local(base) + offset, splatted or into a lane. */
  loadF32: (baseLocal: number, offset: number): number[] => [0x20, ...uleb(baseLocal), 0x2a, 2, ...uleb(offset)],
  splat: (f32: number[]): number[] => [...f32, ...simd(0x13)],
  /** v128 at local(base) + offset, no alignment assumed. */
  loadAt: (baseLocal: number, offset: number): number[] => [0x20, ...uleb(baseLocal), ...simd(0x00), 0, ...uleb(offset)],
  /** i8x16.shuffle: byte lanes 0-15 from a, 16-31 from b. */
  shuffle: (a: number[], b: number[], lanes: number[]): number[] => [...a, ...b, ...simd(0x0d), ...lanes],
  replaceLane: (vec: number[], lane: number, f32: number[]): number[] => [...vec, ...f32, ...simd(0x20), lane],
  constSplat: (v: number): number[] => [0x43, ...f32le(v), ...simd(0x13)],
  zero: (): number[] => [...simd(0x0c), ...new Array<number>(16).fill(0)],
  add: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(228)],
  sub: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(229)],
  mul: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(230)],
  neg: (a: number[]): number[] => [...a, ...simd(225)],
  div: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(231)],
  and: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(78)],
  or: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(80)],
  /** i32x4 lanes shifted right (logical) by a constant. */
  shrU: (a: number[], bits: number): number[] => [...a, 0x41, ...sleb(bits), ...simd(173)],
  i32x4Sub: (a: number[], b: number[]): number[] => [...a, ...b, ...simd(177)],
  i32x4Splat: (v: number): number[] => [0x41, ...sleb(v), ...simd(17)],
  /** f32x4 from signed i32x4 lanes */
  convertI32: (a: number[]): number[] => [...a, ...simd(250)],
  /** i32 locals */
  i32Set: (local: number, value: number[]): number[] => [...value, 0x21, ...uleb(local)],
  i32Add: (a: number[], b: number[]): number[] => [...a, ...b, 0x6a],
  i32Mul: (a: number[], b: number[]): number[] => [...a, ...b, 0x6c],
  i32Const: (v: number): number[] => [0x41, ...sleb(v)],
};

/**
 * A module exporting `run(i32 x nParams) -> ()` and its memory `mem` (`pages` x 64 KiB, growable).
 * Locals: `i32Locals` i32 then `v128Locals` v128, numbered after the parameters.
 */
export function buildModule(params: number, i32Locals: number, v128Locals: number, body: number[], pages: number): Uint8Array {
  const type = section(1, [1, 0x60, ...uleb(params), ...new Array<number>(params).fill(0x7f), 0]);
  const func = section(3, [1, 0]);
  const memory = section(5, [1, 0, ...uleb(pages)]);
  const exports = section(7, [2, ...name('run'), 0, 0, ...name('mem'), 2, 0]);
  const locals = [2, ...uleb(i32Locals), 0x7f, ...uleb(v128Locals), 0x7b];
  const fn = [...locals, ...body, 0x0b];
  const code = section(10, [1, ...uleb(fn.length), ...fn]);
  return Uint8Array.from([...WASM_HEADER, ...type, ...func, ...memory, ...exports, ...code]);
}
