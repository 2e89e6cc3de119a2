/**
 * Opus stream facts shared by the Ogg and WebM readers: the OpusHead identification header (RFC 7845
 * §5.1, also a WebM track's CodecPrivate) and a packet's duration from its TOC byte (RFC 6716 §3.1), so
 * a stream's length is known before anything is decoded.
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';

/** Opus always decodes at 48 kHz here; granule positions and pre-skip count 48 kHz samples. */
export const OPUS_RATE_HZ = 48000;

export interface OpusHead {
  channels: number;
  /** 48 kHz samples to drop from the start of the decoded stream. */
  preSkip: number;
  /** The rate of the original input (informational). */
  inputRateHz: number;
  /** Gain to apply to the output, as a linear factor (from the Q7.8 dB field). */
  gain: number;
  mappingFamily: number;
  streamCount: number;
  coupledStreamCount: number;
  channelMapping: number[];
}

export function parseOpusHead(p: Uint8Array, where: string): OpusHead {
  if (p.length < 19 || String.fromCharCode(...p.subarray(0, 8)) !== 'OpusHead') {
    throw new InvalidInputError(`${where}: the Opus identification header is missing or shorter than 19 bytes`);
  }
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const version = p[8] as number;
  if (version >> 4 !== 0) throw new UnsupportedFormatError(`${where}: Opus header version ${version} is not supported (0.x only)`);
  const channels = p[9] as number;
  if (channels === 0) throw new InvalidInputError(`${where}: the Opus header declares zero channels`);
  const preSkip = v.getUint16(10, true);
  const inputRateHz = v.getUint32(12, true);
  const gain = 10 ** (v.getInt16(16, true) / 256 / 20);
  const mappingFamily = p[18] as number;
  if (mappingFamily === 0) {
    if (channels > 2) throw new InvalidInputError(`${where}: Opus channel mapping family 0 allows 1 or 2 channels, the header declares ${channels}`);
    return { channels, preSkip, inputRateHz, gain, mappingFamily, streamCount: 1, coupledStreamCount: channels - 1, channelMapping: channels === 2 ? [0, 1] : [0] };
  }
  if (mappingFamily !== 1) throw new UnsupportedFormatError(`${where}: Opus channel mapping family ${mappingFamily} is not supported (0: mono/stereo, 1: surround up to 8 channels)`);
  if (channels > 8) throw new InvalidInputError(`${where}: Opus channel mapping family 1 allows up to 8 channels, the header declares ${channels}`);
  if (p.length < 21 + channels) throw new InvalidInputError(`${where}: the Opus header is too short for its ${channels}-channel mapping table`);
  const streamCount = p[19] as number;
  const coupledStreamCount = p[20] as number;
  const channelMapping = Array.from(p.subarray(21, 21 + channels));
  if (streamCount === 0 || coupledStreamCount > streamCount || channelMapping.some((m) => m !== 255 && m >= streamCount + coupledStreamCount)) {
    throw new InvalidInputError(`${where}: the Opus channel mapping is inconsistent (${streamCount} streams, ${coupledStreamCount} coupled, mapping ${channelMapping.join(',')})`);
  }
  return { channels, preSkip, inputRateHz, gain, mappingFamily, streamCount, coupledStreamCount, channelMapping };
}

/** 48 kHz samples of one frame, by TOC configuration (0-11 SILK, 12-15 hybrid, 16-31 CELT). */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config % 4] as number;
  if (config < 16) return [480, 960][config % 2] as number;
  return [120, 240, 480, 960][config % 4] as number;
}

/**
 * Samples (48 kHz) an Opus packet decodes to.
 * @throws InvalidInputError for an empty packet or one whose TOC is malformed or lasts over 120 ms.
 */
export function opusPacketSamples(p: Uint8Array, where: string): number {
  if (p.length === 0) throw new InvalidInputError(`${where}: empty Opus packet`);
  const toc = p[0] as number;
  const size = frameSamples(toc >> 3);
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 1 || code === 2) frames = 2;
  else {
    if (p.length < 2) throw new InvalidInputError(`${where}: Opus packet with frame-count code 3 has no frame-count byte`);
    frames = (p[1] as number) & 0x3f;
    if (frames === 0) throw new InvalidInputError(`${where}: Opus packet declares 0 frames`);
  }
  const samples = frames * size;
  if (samples > 5760) throw new InvalidInputError(`${where}: Opus packet lasts ${samples / 48} ms, over the 120 ms the format allows`);
  return samples;
}
