/**
 * MPEG-1/2/2.5 audio frame headers (ISO/IEC 11172-3, 13818-3): the 4 bytes that give a frame's length,
 * rate and channel mode, so a file's frames can be walked (and its duration known) before decoding.
 */

export interface MpegHeader {
  /** 1 (MPEG-1), 2 (MPEG-2) or 2.5. */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  bitrateKbps: number;
  sampleRateHz: number;
  channels: 1 | 2;
  /** Bytes of the whole frame, header included. */
  frameBytes: number;
  /** PCM frames (samples per channel) the frame decodes to. */
  samples: number;
}

// Bitrates in kb/s by [MPEG-1 ? 0 : 1][layer - 1][index]; index 0 is "free format", 15 is invalid.
const BITRATES: readonly (readonly (readonly number[])[])[] = [
  [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
];
const RATES: Record<string, readonly number[]> = { '1': [44100, 48000, 32000], '2': [22050, 24000, 16000], '2.5': [11025, 12000, 8000] };

/**
 * The header at `at`, or undefined when the 4 bytes there are not a valid MPEG audio header (no sync,
 * reserved version/layer/rate, bitrate index 15). A free-format frame (bitrate index 0) parses with
 * `bitrateKbps` 0 and `frameBytes` 0: its length is not in the header.
 */
export function parseMpegHeader(b: Uint8Array, at: number): MpegHeader | undefined {
  if (at + 4 > b.length) return undefined;
  const b1 = b[at + 1] as number;
  const b2 = b[at + 2] as number;
  const b3 = b[at + 3] as number;
  if (b[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  if (versionBits === 1 || layerBits === 0) return undefined; // reserved version; layer 0 is ADTS AAC
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (bitrateIndex === 15 || rateIndex === 3) return undefined;
  const sampleRateHz = (RATES[String(version)] as readonly number[])[rateIndex] as number;
  const bitrateKbps = ((BITRATES[version === 1 ? 0 : 1] as readonly (readonly number[])[])[layer - 1] as readonly number[])[bitrateIndex] as number;
  const padding = (b2 >> 1) & 1;
  const channels = (b3 >> 6) === 3 ? 1 : 2;
  const samples = layer === 1 ? 384 : layer === 2 || version === 1 ? 1152 : 576;
  let frameBytes = 0;
  if (bitrateKbps > 0) {
    if (layer === 1) frameBytes = (Math.floor((12 * bitrateKbps * 1000) / sampleRateHz) + padding) * 4;
    else frameBytes = Math.floor(((samples / 8) * bitrateKbps * 1000) / sampleRateHz) + padding;
  }
  return { version, layer, bitrateKbps, sampleRateHz, channels, frameBytes, samples };
}
