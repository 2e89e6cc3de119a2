/**
 * The AdamW update loop of `adamw.ts` as a WebAssembly SIMD function over the wasm engine's own memory (the
 * module imports the backend's memory, so the tensors are read and written where they are). It computes in
 * float64 lanes, two weights at a time, with the same operations in the same order as the JavaScript loop:
 *   g = g·scale;  m = b1·m + a1·g;  v = b2·v + (a2·g)·g;  p = p·decay − (lr·(m / c1)) / (√(v / c2) + ε)
 * Every one of them is correctly rounded in both languages (no fused multiply-add in either), and the float32
 * stores round the same way, so the results are bit for bit those of the JavaScript loop (tested); it is faster
 * because the divisions and the square root run two lanes at a time and the loads carry no bounds checks.
 * An odd last weight is left to the caller. Unavailable (undefined) where WebAssembly SIMD is not.
 */

import { WASM_HEADER, uleb128 as uleb, wasmName as name, wasmSection as section } from '../../wasm-binary.js';

// The TypeScript lib here has no WebAssembly declarations: the little that is used, typed locally.
interface WasmMemory { readonly buffer: ArrayBufferLike }
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * `(p, g, m, v, pOut, mOut, vOut, n, scale, b1, a1, b2, a2, lr, c1, c2, eps, decay)`: byte addresses of seven
 * float32 arrays, the count of weights to update (even), then the constants.
 */
export type AdamwSimd = (p: number, g: number, m: number, v: number, po: number, mo: number, vo: number, n: number,
  scale: number, b1: number, a1: number, b2: number, a2: number, lr: number, c1: number, c2: number, eps: number, decay: number) => void;

// Opcodes.
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
const F64X2_SPLAT = 0x14;
const LOAD64_ZERO = 0x5d;
const STORE64_LANE = 0x5b;
const DEMOTE = 0x5e; // f32x4.demote_f64x2_zero
const PROMOTE = 0x5f; // f64x2.promote_low_f32x4
const SQRT = 0xef;
const ADD = 0xf0;
const SUB = 0xf1;
const MUL = 0xf2;
const DIV = 0xf3;

// Locals: params 0–7 i32 (p, g, m, v, po, mo, vo, n), 8–17 f64 (scale, b1, a1, b2, a2, lr, c1, c2, eps, decay);
// 18 the byte offset o, 19 its end; 20–29 the constants splatted; 30–32 g, m, v.
const O = 18;
const END = 19;
const K = 20;
const [SCALE, B1, A1, B2, A2, LR, C1, C2, EPS, DECAY] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => K + k) as [number, number, number, number, number, number, number, number, number, number];
const G = 30;
const M = 31;
const V = 32;

/** Two float32 at array (param `base`) + o, as float64 lanes. */
const load2 = (base: number): number[] => [...get(base), ...get(O), 0x6a, ...simd(LOAD64_ZERO, 0, 0), ...simd(PROMOTE)];
/** Store the float64 lanes left by `value` as two float32 at array (param `base`) + o. */
const store2 = (base: number, value: number[]): number[] => [...get(base), ...get(O), 0x6a, ...value, ...simd(DEMOTE), ...simd(STORE64_LANE, 0, 0, 0)];

function moduleBytes(shared: boolean): Uint8Array {
  const type = section(1, [1, 0x60, 18, ...new Array<number>(8).fill(I32), ...new Array<number>(10).fill(F64), 0]);
  // The memory is imported; a shared one must declare a maximum (4 GiB, the most wasm32 has).
  const limits = shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  const imports = section(2, [1, ...name('env'), ...name('memory'), 0x02, ...limits]);
  const func = section(3, [1, 0]);
  const exports = section(7, [1, ...name('adamw'), 0x00, 0]);
  const body = [
    ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((k) => [...get(8 + k), ...simd(F64X2_SPLAT), ...set(K + k)]),
    // end = (n & ~1) · 4
    ...get(7), 0x41, 0x7e, 0x71, 0x41, 2, 0x74, ...set(END),
    0x02, 0x40, // block
    0x03, 0x40, // loop
    ...get(O), ...get(END), 0x4f, 0x0d, 1, // o >= end (unsigned): break
    ...load2(1), ...get(SCALE), ...simd(MUL), ...set(G),
    ...get(B1), ...load2(2), ...simd(MUL), ...get(A1), ...get(G), ...simd(MUL), ...simd(ADD), ...set(M),
    ...get(B2), ...load2(3), ...simd(MUL), ...get(A2), ...get(G), ...simd(MUL), ...get(G), ...simd(MUL), ...simd(ADD), ...set(V),
    ...store2(5, get(M)),
    ...store2(6, get(V)),
    ...store2(4, [
      ...load2(0), ...get(DECAY), ...simd(MUL),
      ...get(LR), ...get(M), ...get(C1), ...simd(DIV), ...simd(MUL),
      ...get(V), ...get(C2), ...simd(DIV), ...simd(SQRT), ...get(EPS), ...simd(ADD),
      ...simd(DIV),
      ...simd(SUB),
    ]),
    ...get(O), 0x41, 8, 0x6a, ...set(O),
    0x0c, 0, // continue
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];
  const locals = [3, 2, I32, 10, V128, 3, V128];
  const fn = [...locals, ...body];
  const code = section(10, [1, ...uleb(fn.length), ...fn]);
  return Uint8Array.from([...WASM_HEADER, ...type, ...imports, ...func, ...exports, ...code]);
}

const instances = new WeakMap<object, AdamwSimd | null>();

/** The SIMD loop bound to `memory` (the wasm engine's), or undefined where it cannot be built. */
export function adamwSimdFor(memory: WasmMemory | undefined): AdamwSimd | undefined {
  if (memory === undefined || wasm === undefined) return undefined;
  let fn = instances.get(memory);
  if (fn === undefined) {
    try {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const bytes = moduleBytes(shared);
      const instance = new wasm.Instance(new wasm.Module(bytes), { env: { memory } });
      fn = instance.exports['adamw'] as AdamwSimd;
    } catch {
      fn = null; // no SIMD here (or a memory it cannot import): the JavaScript loop runs
    }
    instances.set(memory, fn);
  }
  return fn ?? undefined;
}
