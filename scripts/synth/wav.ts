/**
 * Minimal mono 16-bit PCM WAV reading and writing for the example data generators (the SDK's own decoder
 * is in @mmfuse/audio; this keeps the generators free of the packages under test).
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface PcmAudio {
  /** Samples in [-1, 1]. */
  samples: Float32Array;
  sampleRateHz: number;
}

/** Read a mono 16-bit PCM WAV (as written by sox). */
export function readWavPcm16(file: string): PcmAudio {
  const buf = readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a RIFF/WAVE file`);
  let offset = 12;
  let sampleRateHz = 0;
  let channels = 0;
  let bits = 0;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(body + 2);
      sampleRateHz = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (channels !== 1 || bits !== 16) throw new Error(`${file}: expected mono 16-bit PCM, got ${channels} channel(s), ${bits} bits`);
      const n = Math.floor(Math.min(size, buf.length - body) / 2);
      const samples = new Float32Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(body + 2 * i) / 32768;
      return { samples, sampleRateHz };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

/** Write mono 16-bit PCM; samples outside [-1, 1] are an error (scale them first), never clipped silently. */
export function writeWavPcm16(file: string, audio: PcmAudio): void {
  const n = audio.samples.length;
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(audio.sampleRateHz, 24);
  buf.writeUInt32LE(audio.sampleRateHz * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const x = audio.samples[i] as number;
    if (!(x >= -1 && x <= 1)) throw new RangeError(`${file}: sample ${i} is ${x}, outside [-1, 1]`);
    buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x * 32767))), 44 + 2 * i);
  }
  writeFileSync(file, buf);
}
