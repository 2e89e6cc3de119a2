// Byte-string mutations for the fuzz tests: bit flips, truncations, header-field rewrites with interesting
// values, insertions and deletions, aimed at the first 64 bytes (where the size and format fields are) half
// of the time.
import fc from 'fast-check';

/** One mutation of a byte string. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number };

/** Offsets where headers keep their size and format fields: mutations aim there half of the time. */
const headerOffset = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.nat());
const interesting32 = fc.oneof(fc.constantFrom(0, 1, 2, 8, 16, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0), fc.nat({ max: 0xffffffff }));
const interesting16 = fc.oneof(fc.constantFrom(0, 1, 2, 3, 6, 7, 0xfffe, 0xffff, 24, 32, 64), fc.nat({ max: 0xffff }));

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: headerOffset, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('u32' as const), at: headerOffset, value: interesting32 }),
  fc.record({ kind: fc.constant('u16' as const), at: headerOffset, value: interesting16 }),
  fc.record({ kind: fc.constant('insert' as const), at: headerOffset, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: headerOffset, length: fc.integer({ min: 1, max: 16 }) }),
);

export function mutate(base: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(base);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (m.kind) {
      case 'flip': b[at] = (b[at] as number) ^ (1 << m.bit); break;
      case 'truncate': b = b.slice(0, at); break;
      case 'u32': if (at + 4 <= b.length) view.setUint32(at, m.value, true); break;
      case 'u16': if (at + 2 <= b.length) view.setUint16(at, m.value, true); break;
      case 'insert': { const out = new Uint8Array(b.length + m.bytes.length); out.set(b.subarray(0, at)); out.set(m.bytes, at); out.set(b.subarray(at), at + m.bytes.length); b = out; break; }
      case 'delete': b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.length)]); break;
    }
  }
  return b;
}

