/**
 * The encoding pieces of a WebAssembly binary module that mmfuse's run-time generated SIMD kernels share
 * (core's AdamW update, @mmfuse/audio's log-mel): LEB128 integers, sections and names. Each kernel writes its
 * own instructions; this is only the container format.
 */

/** An unsigned LEB128 integer (sizes, counts, indices, opcodes after a prefix). */
export function uleb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** A signed LEB128 integer (`i32.const` immediates). */
export function sleb128(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

/** A section: its id, then its body's byte length, then the body. */
export function wasmSection(id: number, body: number[]): number[] {
  return [id, ...uleb128(body.length), ...body];
}

/** A name (an import's module and field, an export): its length, then its characters (ASCII). */
export function wasmName(s: string): number[] {
  return [...uleb128(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

/** The module header: magic number and version 1. */
export const WASM_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
