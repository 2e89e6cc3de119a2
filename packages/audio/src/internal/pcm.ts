/** Conversion of interleaved WAV sample bytes to floats in [-1, 1), one block at a time. */
import { InvalidInputError } from '@mmfuse/core/base';
import type { WavHeader } from './wav-header.js';

function muLawTable(): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const u = ~b & 0xff;
    const exponent = (u >> 4) & 7;
    const mantissa = u & 0x0f;
    const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    t[b] = ((u & 0x80) !== 0 ? -magnitude : magnitude) / 32768;
  }
  return t;
}

function aLawTable(): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const a = b ^ 0x55;
    const exponent = (a >> 4) & 7;
    const mantissa = a & 0x0f;
    const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
    // In A-law a set sign bit means positive.
    t[b] = ((a & 0x80) !== 0 ? magnitude : -magnitude) / 32768;
  }
  return t;
}

let muLaw: Float32Array | undefined;
let aLaw: Float32Array | undefined;

/**
 * Decode `frames` frames of `bytes` into `out[c][outOffset + i]` for each channel c (or, with `mono`, the
 * channel mean into `out[0]`). `firstFrame` is the frame index in the file, for error messages.
 */
export function decodeBlock(header: WavHeader, bytes: Uint8Array, frames: number, out: Float32Array[], outOffset: number, mono: boolean, firstFrame: number): void {
  const { channels, bitsPerSample, encoding, container } = header;
  const little = container === 'RIFF';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bytesPer = bitsPerSample / 8;
  let table: Float32Array | undefined;
  if (encoding === 'mulaw') table = muLaw ??= muLawTable();
  if (encoding === 'alaw') table = aLaw ??= aLawTable();
  const inv = 1 / channels;
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const p = (i * channels + c) * bytesPer;
      let v: number;
      if (table !== undefined) v = table[bytes[p] as number] as number;
      else if (encoding === 'float') {
        v = bitsPerSample === 32 ? view.getFloat32(p, little) : view.getFloat64(p, little);
        if (v - v !== 0) {
          const frame = firstFrame + i;
          throw new InvalidInputError(`sample ${frame} of channel ${c} (at ${(frame / header.sampleRateHz).toFixed(3)} s) is ${v}; audio samples must be finite`, { details: { frame, channel: c } });
        }
      } else if (bitsPerSample === 16) v = view.getInt16(p, little) / 32768;
      else if (bitsPerSample === 8) v = ((bytes[p] as number) - 128) / 128;
      else if (bitsPerSample === 24) {
        const b0 = bytes[p] as number, b1 = bytes[p + 1] as number, b2 = bytes[p + 2] as number;
        let x = little ? b0 | (b1 << 8) | (b2 << 16) : b2 | (b1 << 8) | (b0 << 16);
        if (x & 0x800000) x -= 0x1000000;
        v = x / 8388608;
      } else v = view.getInt32(p, little) / 2147483648;
      if (mono) sum += v;
      else (out[c] as Float32Array)[outOffset + i] = v;
    }
    if (mono) (out[0] as Float32Array)[outOffset + i] = channels === 1 ? sum : sum * inv;
  }
}
