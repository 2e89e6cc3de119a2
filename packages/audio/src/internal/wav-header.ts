/**
 * WAV container validation. The chunk structure is walked and checked here (sizes against the bytes that
 * really exist, fmt/data presence, channel count, bit depth, frame size), so a lying header becomes a
 * typed error rather than a crash or a silently short decode; the fmt chunk's fields are read by
 * `wavefile`.
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';
import * as wavefileModule from 'wavefile';
import type { ByteSource } from './byte-source.js';

export type WavEncoding = 'pcm' | 'float' | 'alaw' | 'mulaw';

export interface WavHeader {
  container: 'RIFF' | 'RIFX';
  encoding: WavEncoding;
  /** The fmt chunk's format tag (0xFFFE resolved to the sub-format). */
  formatTag: number;
  channels: number;
  sampleRateHz: number;
  bitsPerSample: number;
  /** Bytes per frame (all channels). */
  blockAlign: number;
  dataOffset: number;
  dataBytes: number;
  frames: number;
}

interface WaveFileFmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat?: number[];
}

type WaveFileClass = new () => { fromBuffer(bytes: Uint8Array, samples?: boolean): void; fmt: object };
// wavefile ships CommonJS (main) and ESM (module) builds: the class is a named export of one and a
// property of the default export of the other, depending on which the loader picks.
const WaveFile: WaveFileClass = ((wavefileModule as unknown as { WaveFile?: WaveFileClass }).WaveFile ??
  (wavefileModule as unknown as { default: { WaveFile: WaveFileClass } }).default.WaveFile);

const FORMAT_NAMES: Record<number, string> = { 2: 'Microsoft ADPCM', 0x11: 'IMA ADPCM', 0x50: 'MPEG', 0x55: 'MP3', 0x31: 'GSM 6.10' };

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function describeStart(bytes: Uint8Array): string {
  const text = ascii(bytes.subarray(0, 4));
  if (text === 'ID3\u0003' || text.startsWith('ID3') || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0)) return 'MP3';
  if (text === 'fLaC') return 'FLAC';
  if (text === 'OggS') return 'Ogg';
  if (text === 'RF64') return 'RF64 (64-bit WAV)';
  return '';
}

export function readWavHeader(src: ByteSource): WavHeader {
  const size = src.size;
  if (size === 0) throw new InvalidInputError('the WAV data is empty (0 bytes)');
  const head = src.read(0, Math.min(12, size)).slice();
  const known = describeStart(head);
  if (known !== '') throw new UnsupportedFormatError(`the data is ${known}, not RIFF/WAVE; convert it to WAV (PCM, float, A-law or mu-law)`);
  const id = ascii(head.subarray(0, 4));
  if (id !== 'RIFF' && id !== 'RIFX') {
    throw new InvalidInputError(`not a WAV file: it starts with ${JSON.stringify(id)} instead of "RIFF"`);
  }
  if (size < 12) throw new InvalidInputError(`truncated WAV file: ${size} bytes is shorter than the 12-byte RIFF header`);
  const little = id === 'RIFF';
  const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, little);
  const riffSize = u32(head, 4);
  if (ascii(head.subarray(8, 12)) !== 'WAVE') throw new InvalidInputError(`not a WAV file: RIFF form type is ${JSON.stringify(ascii(head.subarray(8, 12)))} instead of "WAVE"`);
  if (riffSize + 8 > size) {
    throw new InvalidInputError(`truncated WAV file: the RIFF header claims ${riffSize + 8} bytes but there are only ${size}`);
  }
  const end = riffSize + 8;
  let fmtBytes: Uint8Array | undefined;
  let dataOffset = -1;
  let dataBytes = 0;
  let at = 12;
  while (at + 8 <= end) {
    const ch = src.read(at, 8).slice();
    const chunkId = ascii(ch.subarray(0, 4));
    const chunkSize = u32(ch, 4);
    const available = end - at - 8;
    if (chunkSize > available) {
      throw new InvalidInputError(`truncated WAV file: chunk ${JSON.stringify(chunkId)} at byte ${at} claims ${chunkSize} bytes but only ${available} follow`);
    }
    if (chunkId === 'fmt ' && fmtBytes === undefined) {
      if (chunkSize < 16) throw new InvalidInputError(`the "fmt " chunk has ${chunkSize} bytes; it needs at least 16`);
      if (chunkSize > 4096) throw new InvalidInputError(`the "fmt " chunk claims ${chunkSize} bytes, far more than any WAV format needs`);
      fmtBytes = src.read(at, 8 + chunkSize).slice();
    } else if (chunkId === 'data' && dataOffset < 0) {
      dataOffset = at + 8;
      dataBytes = chunkSize;
    }
    at += 8 + chunkSize + (chunkSize & 1);
  }
  if (fmtBytes === undefined) throw new InvalidInputError('the WAV file has no "fmt " chunk (it may be truncated)');
  if (dataOffset < 0) throw new InvalidInputError('the WAV file has no "data" chunk (it may be truncated)');

  // wavefile reads the fmt fields from a minimal RIFF holding only this chunk and an empty data chunk.
  const mini = new Uint8Array(12 + fmtBytes.length + 8);
  mini.set(head.subarray(0, 4), 0);
  new DataView(mini.buffer).setUint32(4, mini.length - 8, little);
  mini.set([0x57, 0x41, 0x56, 0x45], 8); // WAVE
  mini.set(fmtBytes, 12);
  mini.set([0x64, 0x61, 0x74, 0x61], 12 + fmtBytes.length); // data, size 0
  const wav = new WaveFile();
  wav.fromBuffer(mini, false);
  const fmt = wav.fmt as WaveFileFmt;

  const channels = fmt.numChannels;
  if (channels === 0) throw new InvalidInputError('the WAV file declares zero channels');
  const sampleRateHz = fmt.sampleRate;
  if (sampleRateHz === 0) throw new InvalidInputError('the WAV file declares a sample rate of 0 Hz');
  // A lying rate (a flipped high byte gives ~2 GHz) made resampling of a few frames run for minutes.
  if (sampleRateHz > 1_000_000) throw new InvalidInputError(`the WAV file declares a sample rate of ${sampleRateHz} Hz, above the 1 MHz any recording uses; the header is corrupt`);
  let formatTag = fmt.audioFormat;
  if (formatTag === 0xfffe) {
    const sub = fmt.subformat;
    if (sub === undefined || sub.length === 0) throw new InvalidInputError('WAVE_FORMAT_EXTENSIBLE header without its sub-format GUID');
    formatTag = (sub[0] as number) & 0xffff;
  }
  const bits = fmt.bitsPerSample;
  let encoding: WavEncoding;
  if (formatTag === 1) {
    if (![8, 16, 24, 32].includes(bits)) throw new UnsupportedFormatError(`PCM with ${bits} bits per sample is not supported (8, 16, 24 or 32)`);
    encoding = 'pcm';
  } else if (formatTag === 3) {
    if (bits !== 32 && bits !== 64) throw new UnsupportedFormatError(`IEEE float with ${bits} bits per sample is not supported (32 or 64)`);
    encoding = 'float';
  } else if (formatTag === 6 || formatTag === 7) {
    if (bits !== 8) throw new InvalidInputError(`${formatTag === 6 ? 'A-law' : 'mu-law'} WAV must have 8 bits per sample, got ${bits}`);
    encoding = formatTag === 6 ? 'alaw' : 'mulaw';
  } else {
    const name = FORMAT_NAMES[formatTag] ?? `format tag 0x${formatTag.toString(16)}`;
    throw new UnsupportedFormatError(`WAV codec ${name} is not supported; convert to PCM, float, A-law or mu-law`);
  }
  const blockAlign = channels * (bits / 8);
  if (fmt.blockAlign !== blockAlign) {
    throw new InvalidInputError(`the WAV header's block align is ${fmt.blockAlign} bytes but ${channels} channel(s) of ${bits} bits need ${blockAlign}`);
  }
  if (dataBytes % blockAlign !== 0) {
    throw new InvalidInputError(`truncated WAV file: the data chunk holds ${dataBytes} bytes, not a whole number of ${blockAlign}-byte frames`);
  }
  const frames = dataBytes / blockAlign;
  if (frames === 0) throw new InvalidInputError('the WAV file holds no audio samples (empty data chunk)');
  return { container: id, encoding, formatTag, channels, sampleRateHz, bitsPerSample: bits, blockAlign, dataOffset, dataBytes, frames };
}
