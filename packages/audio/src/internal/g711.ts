/**
 * ITU-T G.711 A-law and mu-law on 16-bit PCM, bit-exact with the Sun reference code (`g711.c`) that
 * Python's audioop and sox use: A-law encodes the top 13 bits, mu-law the top 14.
 */
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];

function search(v: number, table: readonly number[]): number {
  for (let i = 0; i < table.length; i++) if (v <= (table[i] as number)) return i;
  return table.length;
}

export function linearToAlaw(pcm16: number): number {
  let v = pcm16 >> 3;
  let mask: number;
  if (v >= 0) mask = 0xd5;
  else { mask = 0x55; v = -v - 1; }
  const seg = search(v, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (v >> 1) & 0xf : (v >> seg) & 0xf);
  return aval ^ mask;
}

export function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0xf) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

export function linearToUlaw(pcm16: number): number {
  let v = pcm16 >> 2;
  let mask: number;
  if (v < 0) { v = -v; mask = 0x7f; } else mask = 0xff;
  if (v > 8159) v = 8159;
  v += 0x84 >> 2;
  const seg = search(v, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0xf)) ^ mask;
}

export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0xf) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}
