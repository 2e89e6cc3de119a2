/**
 * Log-mel with WebAssembly SIMD, eight frames per call. A kernel is generated per parameter set (FFT size,
 * window, hop, filterbank): straight-line code with every index, twiddle, window value and filter weight
 * a constant. Each f32x4 lane is a different frame, and the complex FFT carries two real frames per lane
 * (frame a in the real part, frame b in the imaginary part), so one pass of the FFT serves 8 frames. The
 * arithmetic is float32, as torchaudio's, the natural log included (exponent split + atanh series).
 *
 * Per call, for frames t0..t0+7 of the padded signal: gather + window into the digit-reversed FFT buffer,
 * the mixed-radix stages (radix 2, 3, 4, 5), then per bin |A|^2 and |B|^2 (A[k] = (Z[k] + conj Z[N-k]) / 2,
 * B[k] = (Z[k] - conj Z[N-k]) / 2i) accumulated into the mel filters it feeds.
 *
 * Memory: RE [N x v128], IM [N x v128], MEL [2 nMels x v128], then the padded signal (f32).
 */
import { ComplexFft } from './fft.js';

// The TypeScript lib here has no DOM/WebAssembly declarations: the little that is used, typed locally.
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
import { TableCache } from './cache.js';
import { buildModule, op } from './wasm-asm.js';

export interface SimdLogMelSpec {
  nFft: number;
  hopLength: number;
  /** Window zero-padded to nFft. */
  window: Float64Array;
  nMels: number;
  /** Bin-major filter weights, already multiplied by any spectrum scale. */
  binStart: Int32Array;
  binFilter: Int32Array;
  binWeight: Float64Array;
  /** Added before the log. */
  offset: number;
}

const SUPPORTED_RADICES = new Set([2, 3, 4, 5]);
const MAX_NFFT = 2048;

export class SimdLogMel {
  private readonly spec: SimdLogMelSpec;
  private readonly run: (sig0: number, hopBytes: number) => void;
  private readonly memory: WasmMemory;
  private readonly melOffset: number;
  private readonly sigOffset: number;

  private constructor(spec: SimdLogMelSpec, run: (a: number, b: number) => void, memory: WasmMemory, melOffset: number, sigOffset: number) {
    this.spec = spec;
    this.run = run;
    this.memory = memory;
    this.melOffset = melOffset;
    this.sigOffset = sigOffset;
  }

  /** A kernel for these parameters, or undefined when SIMD is unavailable or the FFT size has other radices. */
  static create(spec: SimdLogMelSpec): SimdLogMel | undefined {
    if (wasm === undefined || spec.nFft > MAX_NFFT || spec.nFft < 2) return undefined;
    const fft = new ComplexFft(spec.nFft);
    if (!fft.direct || fft.factors.some((r) => !SUPPORTED_RADICES.has(r))) return undefined;
    const N = spec.nFft;
    const RE = 0;
    const IM = N * 16;
    const MEL = 2 * N * 16;
    const SIG = MEL + 2 * spec.nMels * 16;
    const body = generate(spec, fft, RE, IM, MEL);
    const pages = Math.ceil((SIG + 4 * 65536) / 65536);
    try {
      const mod = new wasm.Module(buildModule(2, 8, 40 + 2 * spec.nMels + 8, body.code, pages));
      const inst = new wasm.Instance(mod, {});
      const exp = inst.exports as { run: (a: number, b: number) => void; mem: WasmMemory };
      return new SimdLogMel(spec, exp.run, exp.mem, MEL, SIG);
    } catch {
      // no SIMD support in this runtime: the JS path is used instead
      return undefined;
    }
  }

  /**
   * ln(mel + offset) for `frames` frames of a signal padded as the STFT expects (frame t starts at
   * padded[t * hopLength]); `fill` writes the `paddedLength` padded samples into the view it is given.
   * Output frame by frame into `out`.
   */
  logMel(fill: (sig: Float32Array) => void, paddedLength: number, frames: number, out: Float32Array): void {
    const { nFft, hopLength, nMels } = this.spec;
    const groups = Math.ceil(frames / 8);
    // the last group reads up to 8 frames past its start
    const need = Math.max(paddedLength, (groups * 8 - 1) * hopLength + nFft);
    const bytes = this.sigOffset + 4 * need;
    if (bytes > this.memory.buffer.byteLength) this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / 65536));
    const sig = new Float32Array(this.memory.buffer, this.sigOffset, need);
    fill(sig.subarray(0, paddedLength));
    sig.fill(0, paddedLength);
    const mel = new Float32Array(this.memory.buffer, this.melOffset, 2 * nMels * 4);
    for (let g = 0; g < groups; g++) {
      const t0 = g * 8;
      this.run(this.sigOffset + 4 * t0 * hopLength, 4 * hopLength);
      const count = Math.min(8, frames - t0);
      for (let j = 0; j < count; j++) {
        // frames t0..t0+3 are lanes of the A (real) half, t0+4..t0+7 of the B half
        const base = j < 4 ? j : 4 * nMels + (j - 4);
        const o = (t0 + j) * nMels;
        for (let m = 0; m < nMels; m++) out[o + m] = mel[base + 4 * m] as number;
      }
    }
  }
}

function generate(spec: SimdLogMelSpec, fft: ComplexFft, RE: number, IM: number, MEL: number): { code: number[] } {
  const N = spec.nFft;
  const code: number[] = [];
  const push = (bytes: number[]): void => { for (const b of bytes) code.push(b); };
  // i32 locals 2..9: byte address of frame j's first sample, j = 0..7
  for (let j = 0; j < 8; j++) push(op.i32Set(2 + j, op.i32Add(op.get(0), op.i32Mul(op.get(1), op.i32Const(j)))));
  const V = 10; // first v128 local
  // gather + window into digit-reversed order. Four samples of four frames at a time: four unaligned loads
  // (frame j, samples i..i+3), a 4x4 transpose in eight shuffles (vector k = sample i+k of frames 0..3).
  const bytes = (lanes: number[]): number[] => lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  const LO = bytes([0, 4, 1, 5]);
  const HI = bytes([2, 6, 3, 7]);
  const PAIR_LO = bytes([0, 1, 4, 5]);
  const PAIR_HI = bytes([2, 3, 6, 7]);
  const G = V + 40 + 2 * spec.nMels; // 8 v128 locals for the transpose
  const quads = N - (N % 4);
  for (let i = 0; i < quads; i += 4) {
    const ws = [0, 1, 2, 3].map((k) => spec.window[i + k] as number);
    if (ws.every((w) => w === 0)) {
      for (let k = 0; k < 4; k++) {
        const p = fft.perm[i + k] as number;
        push(op.store(RE + 16 * p, op.zero()));
        push(op.store(IM + 16 * p, op.zero()));
      }
      continue;
    }
    for (const half of [0, 1]) {
      const base = 2 + 4 * half;
      const L = (j: number) => op.loadAt(base + j, 4 * i);
      push(op.set(G, op.shuffle(L(0), L(1), LO)));
      push(op.set(G + 1, op.shuffle(L(2), L(3), LO)));
      push(op.set(G + 2, op.shuffle(L(0), L(1), HI)));
      push(op.set(G + 3, op.shuffle(L(2), L(3), HI)));
      const cols = [
        op.shuffle(op.get(G), op.get(G + 1), PAIR_LO),
        op.shuffle(op.get(G), op.get(G + 1), PAIR_HI),
        op.shuffle(op.get(G + 2), op.get(G + 3), PAIR_LO),
        op.shuffle(op.get(G + 2), op.get(G + 3), PAIR_HI),
      ];
      for (let k = 0; k < 4; k++) {
        const p = fft.perm[i + k] as number;
        const addr = (half === 0 ? RE : IM) + 16 * p;
        const w = ws[k] as number;
        push(op.store(addr, w === 0 ? op.zero() : op.mul(cols[k] as number[], op.constSplat(w))));
      }
    }
  }
  for (let i = quads; i < N; i++) {
    const p = fft.perm[i] as number;
    const w = spec.window[i] as number;
    for (const half of [0, 1]) {
      const addr = (half === 0 ? RE : IM) + 16 * p;
      if (w === 0) { push(op.store(addr, op.zero())); continue; }
      let v = op.splat(op.loadF32(2 + 4 * half, 4 * i));
      for (let lane = 1; lane < 4; lane++) v = op.replaceLane(v, lane, op.loadF32(2 + 4 * half + lane, 4 * i));
      push(op.store(addr, op.mul(v, op.constSplat(w))));
    }
  }
  // stages
  const ar = (q: number) => V + q; // a_q real, q < 5 (radix up to 5)
  const ai = (q: number) => V + 5 + q;
  const T = V + 10; // temporaries T..T+29
  let span = 1;
  for (const radix of fft.factors) {
    const full = span * radix;
    for (let g = 0; g < N; g += full) {
      for (let k = 0; k < span; k++) {
        const idx = Array.from({ length: radix }, (_, q) => g + k + q * span);
        idx.forEach((pos, q) => {
          const turn = (q * k) % full;
          if (turn === 0) {
            push(op.set(ar(q), op.load(RE + 16 * pos)));
            push(op.set(ai(q), op.load(IM + 16 * pos)));
          } else {
            const angle = (-2 * Math.PI * turn) / full;
            const c = Math.cos(angle);
            const s = Math.sin(angle);
            push(op.set(T, op.load(RE + 16 * pos)));
            push(op.set(T + 1, op.load(IM + 16 * pos)));
            push(op.set(ar(q), op.sub(op.mul(op.get(T), op.constSplat(c)), op.mul(op.get(T + 1), op.constSplat(s)))));
            push(op.set(ai(q), op.add(op.mul(op.get(T), op.constSplat(s)), op.mul(op.get(T + 1), op.constSplat(c)))));
          }
        });
        const outRe = (q: number, v: number[]) => push(op.store(RE + 16 * (idx[q] as number), v));
        const outIm = (q: number, v: number[]) => push(op.store(IM + 16 * (idx[q] as number), v));
        const g_ = op.get;
        if (radix === 2) {
          outRe(0, op.add(g_(ar(0)), g_(ar(1)))); outIm(0, op.add(g_(ai(0)), g_(ai(1))));
          outRe(1, op.sub(g_(ar(0)), g_(ar(1)))); outIm(1, op.sub(g_(ai(0)), g_(ai(1))));
        } else if (radix === 4) {
          push(op.set(T, op.add(g_(ar(0)), g_(ar(2))))); push(op.set(T + 1, op.add(g_(ai(0)), g_(ai(2)))));
          push(op.set(T + 2, op.sub(g_(ar(0)), g_(ar(2))))); push(op.set(T + 3, op.sub(g_(ai(0)), g_(ai(2)))));
          push(op.set(T + 4, op.add(g_(ar(1)), g_(ar(3))))); push(op.set(T + 5, op.add(g_(ai(1)), g_(ai(3)))));
          // (a1 - a3) * (-i)
          push(op.set(T + 6, op.sub(g_(ai(1)), g_(ai(3))))); push(op.set(T + 7, op.sub(g_(ar(3)), g_(ar(1)))));
          outRe(0, op.add(g_(T), g_(T + 4))); outIm(0, op.add(g_(T + 1), g_(T + 5)));
          outRe(2, op.sub(g_(T), g_(T + 4))); outIm(2, op.sub(g_(T + 1), g_(T + 5)));
          outRe(1, op.add(g_(T + 2), g_(T + 6))); outIm(1, op.add(g_(T + 3), g_(T + 7)));
          outRe(3, op.sub(g_(T + 2), g_(T + 6))); outIm(3, op.sub(g_(T + 3), g_(T + 7)));
        } else if (radix === 3) {
          const h = Math.sqrt(3) / 2;
          push(op.set(T, op.add(g_(ar(1)), g_(ar(2))))); push(op.set(T + 1, op.add(g_(ai(1)), g_(ai(2)))));
          push(op.set(T + 2, op.sub(g_(ar(1)), g_(ar(2))))); push(op.set(T + 3, op.sub(g_(ai(1)), g_(ai(2)))));
          push(op.set(T + 4, op.sub(g_(ar(0)), op.mul(g_(T), op.constSplat(0.5))))); push(op.set(T + 5, op.sub(g_(ai(0)), op.mul(g_(T + 1), op.constSplat(0.5)))));
          // -i * sin60 * d
          push(op.set(T + 6, op.mul(g_(T + 3), op.constSplat(h)))); push(op.set(T + 7, op.mul(g_(T + 2), op.constSplat(-h))));
          outRe(0, op.add(g_(ar(0)), g_(T))); outIm(0, op.add(g_(ai(0)), g_(T + 1)));
          outRe(1, op.add(g_(T + 4), g_(T + 6))); outIm(1, op.add(g_(T + 5), g_(T + 7)));
          outRe(2, op.sub(g_(T + 4), g_(T + 6))); outIm(2, op.sub(g_(T + 5), g_(T + 7)));
        } else {
          const c1 = Math.cos((2 * Math.PI) / 5), c2 = Math.cos((4 * Math.PI) / 5);
          const s1 = Math.sin((2 * Math.PI) / 5), s2 = Math.sin((4 * Math.PI) / 5);
          const [b1r, b1i, b2r, b2i, d1r, d1i, d2r, d2i, m1r, m1i, m2r, m2i, e1r, e1i, e2r, e2i] = Array.from({ length: 16 }, (_, i) => T + i) as number[];
          push(op.set(b1r as number, op.add(g_(ar(1)), g_(ar(4))))); push(op.set(b1i as number, op.add(g_(ai(1)), g_(ai(4)))));
          push(op.set(b2r as number, op.add(g_(ar(2)), g_(ar(3))))); push(op.set(b2i as number, op.add(g_(ai(2)), g_(ai(3)))));
          push(op.set(d1r as number, op.sub(g_(ar(1)), g_(ar(4))))); push(op.set(d1i as number, op.sub(g_(ai(1)), g_(ai(4)))));
          push(op.set(d2r as number, op.sub(g_(ar(2)), g_(ar(3))))); push(op.set(d2i as number, op.sub(g_(ai(2)), g_(ai(3)))));
          const lin = (x: number, cx: number, y: number, cy: number) => op.add(op.mul(g_(x), op.constSplat(cx)), op.mul(g_(y), op.constSplat(cy)));
          push(op.set(m1r as number, op.add(g_(ar(0)), lin(b1r as number, c1, b2r as number, c2)))); push(op.set(m1i as number, op.add(g_(ai(0)), lin(b1i as number, c1, b2i as number, c2))));
          push(op.set(m2r as number, op.add(g_(ar(0)), lin(b1r as number, c2, b2r as number, c1)))); push(op.set(m2i as number, op.add(g_(ai(0)), lin(b1i as number, c2, b2i as number, c1))));
          // e1 = -i (s1 d1 + s2 d2); e2 = -i (s2 d1 - s1 d2)
          push(op.set(e1r as number, lin(d1i as number, s1, d2i as number, s2))); push(op.set(e1i as number, lin(d1r as number, -s1, d2r as number, -s2)));
          push(op.set(e2r as number, lin(d1i as number, s2, d2i as number, -s1))); push(op.set(e2i as number, lin(d1r as number, -s2, d2r as number, s1)));
          outRe(0, op.add(op.add(g_(ar(0)), g_(b1r as number)), g_(b2r as number))); outIm(0, op.add(op.add(g_(ai(0)), g_(b1i as number)), g_(b2i as number)));
          outRe(1, op.add(g_(m1r as number), g_(e1r as number))); outIm(1, op.add(g_(m1i as number), g_(e1i as number)));
          outRe(4, op.sub(g_(m1r as number), g_(e1r as number))); outIm(4, op.sub(g_(m1i as number), g_(e1i as number)));
          outRe(2, op.add(g_(m2r as number), g_(e2r as number))); outIm(2, op.add(g_(m2i as number), g_(e2i as number)));
          outRe(3, op.sub(g_(m2r as number), g_(e2r as number))); outIm(3, op.sub(g_(m2i as number), g_(e2i as number)));
        }
      }
    }
    span = full;
  }
  // split the two real spectra and accumulate the mel filters (locals M..M+2 nMels-1)
  const M = V + 40;
  const nMels = spec.nMels;
  for (let m = 0; m < 2 * nMels; m++) push(op.set(M + m, op.zero()));
  const bins = Math.floor(N / 2) + 1;
  for (let k = 0; k < bins; k++) {
    const j0 = spec.binStart[k] as number;
    const j1 = spec.binStart[k + 1] as number;
    if (j0 === j1) continue;
    const mk = k === 0 ? 0 : N - k;
    push(op.set(T, op.load(RE + 16 * k))); push(op.set(T + 1, op.load(IM + 16 * k)));
    push(op.set(T + 2, op.load(RE + 16 * mk))); push(op.set(T + 3, op.load(IM + 16 * mk)));
    push(op.set(T + 4, op.add(op.get(T), op.get(T + 2)))); // sr
    push(op.set(T + 5, op.sub(op.get(T + 1), op.get(T + 3)))); // di
    push(op.set(T + 6, op.add(op.get(T + 1), op.get(T + 3)))); // si
    push(op.set(T + 7, op.sub(op.get(T), op.get(T + 2)))); // dr
    push(op.set(T + 8, op.add(op.mul(op.get(T + 4), op.get(T + 4)), op.mul(op.get(T + 5), op.get(T + 5))))); // 4 |A|^2
    push(op.set(T + 9, op.add(op.mul(op.get(T + 6), op.get(T + 6)), op.mul(op.get(T + 7), op.get(T + 7))))); // 4 |B|^2
    for (let j = j0; j < j1; j++) {
      const f = spec.binFilter[j] as number;
      const w = 0.25 * (spec.binWeight[j] as number);
      push(op.set(M + f, op.add(op.get(M + f), op.mul(op.get(T + 8), op.constSplat(w)))));
      push(op.set(M + nMels + f, op.add(op.get(M + nMels + f), op.mul(op.get(T + 9), op.constSplat(w)))));
    }
  }
  // ln(mel + offset) in float32: x = 2^e m, m in [1, 2); ln m = 2 atanh(s), s = (m - 1)/(m + 1) < 1/3,
  // series to s^11 (truncation < 1e-6).
  const ln = (x: number) => {
    push(op.set(T, op.add(op.get(x), op.constSplat(spec.offset))));
    // exponent as float
    push(op.set(T + 1, op.convertI32(op.i32x4Sub(op.shrU(op.get(T), 23), op.i32x4Splat(127)))));
    // mantissa in [1, 2)
    push(op.set(T + 2, op.or(op.and(op.get(T), op.i32x4Splat(0x007fffff)), op.i32x4Splat(0x3f800000))));
    push(op.set(T + 3, op.div(op.sub(op.get(T + 2), op.constSplat(1)), op.add(op.get(T + 2), op.constSplat(1)))));
    push(op.set(T + 4, op.mul(op.get(T + 3), op.get(T + 3))));
    let poly = op.constSplat(1 / 11);
    for (const c of [1 / 9, 1 / 7, 1 / 5, 1 / 3, 1]) poly = op.add(op.mul(poly, op.get(T + 4)), op.constSplat(c));
    return op.add(op.mul(op.get(T + 1), op.constSplat(Math.LN2)), op.mul(op.mul(op.get(T + 3), op.constSplat(2)), poly));
  };
  for (let m = 0; m < 2 * nMels; m++) push(op.store(MEL + 16 * m, ln(M + m)));
  return { code };
}

const kernels = new TableCache<SimdLogMel | null>(8);

/** A cached kernel for a parameter key, or undefined when it cannot be built here. */
export function simdLogMel(key: string, make: () => SimdLogMelSpec): SimdLogMel | undefined {
  return kernels.get(key, () => SimdLogMel.create(make()) ?? null) ?? undefined;
}
