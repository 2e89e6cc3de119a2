/**
 * A tiny WAV writer for tests, independent of the decoder: every header field can be overridden so tests can
 * build lying files.
 */
export interface RawWavSpec {
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bitsPerSample?: number;
  /** Default channels * bits / 8. */
  blockAlign?: number;
  /** Raw data chunk payload. */
  data: Uint8Array;
  /** Override the RIFF size field (default: the real size). */
  riffSize?: number;
  /** Override the data chunk size field (default: data.length). */
  dataSize?: number;
  /** Extra chunks placed between fmt and data. */
  extraChunks?: { id: string; body: Uint8Array }[];
  /** Leave out the fmt / data chunk. */
  omitFmt?: boolean;
  omitData?: boolean;
}

export function rawWav(spec: RawWavSpec): Uint8Array {
  const channels = spec.channels ?? 1;
  const bits = spec.bitsPerSample ?? 16;
  const sampleRate = spec.sampleRate ?? 16000;
  const parts: Uint8Array[] = [];
  const chunk = (id: string, body: Uint8Array, sizeOverride?: number): void => {
    const h = new Uint8Array(8);
    for (let i = 0; i < 4; i++) h[i] = id.charCodeAt(i);
    new DataView(h.buffer).setUint32(4, sizeOverride ?? body.length, true);
    parts.push(h, body);
    if (body.length % 2 === 1) parts.push(new Uint8Array(1));
  };
  if (!spec.omitFmt) {
    const fmt = new Uint8Array(16);
    const v = new DataView(fmt.buffer);
    v.setUint16(0, spec.formatTag ?? 1, true);
    v.setUint16(2, channels, true);
    v.setUint32(4, sampleRate, true);
    const blockAlign = spec.blockAlign ?? (channels * bits) / 8;
    v.setUint32(8, sampleRate * blockAlign, true);
    v.setUint16(12, blockAlign, true);
    v.setUint16(14, bits, true);
    chunk('fmt ', fmt);
  }
  for (const c of spec.extraChunks ?? []) chunk(c.id, c.body);
  if (!spec.omitData) chunk('data', spec.data, spec.dataSize);
  const bodyLength = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(12 + bodyLength);
  out.set([0x52, 0x49, 0x46, 0x46], 0);
  new DataView(out.buffer).setUint32(4, spec.riffSize ?? 4 + bodyLength, true);
  out.set([0x57, 0x41, 0x56, 0x45], 8);
  let at = 12;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** 16-bit PCM bytes of float samples (interleaved when several channels are given). */
export function pcm16(channels: Float32Array[]): Uint8Array {
  const frames = channels[0]?.length ?? 0;
  const out = new Uint8Array(frames * channels.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < frames; i++) {
    channels.forEach((ch, c) => v.setInt16((i * channels.length + c) * 2, Math.max(-32768, Math.min(32767, Math.round((ch[i] as number) * 32768))), true));
  }
  return out;
}

/** float32 bytes of interleaved channels. */
export function float32Bytes(channels: Float32Array[]): Uint8Array {
  const frames = channels[0]?.length ?? 0;
  const out = new Uint8Array(frames * channels.length * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < frames; i++) channels.forEach((ch, c) => v.setFloat32((i * channels.length + c) * 4, ch[i] as number, true));
  return out;
}

export function sine(freqHz: number, sampleRate: number, seconds: number, amplitude = 0.5, phase = 0): Float32Array {
  const n = Math.round(sampleRate * seconds);
  return Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * freqHz * i) / sampleRate + phase));
}
