/**
 * FLAC reader. The metadata blocks are walked and STREAMINFO read here (rate, channels, bits, total
 * samples), so the duration limit is checked before decoding; the stream is then fed in 64 KiB reads to
 * libFLAC (WebAssembly). When STREAMINFO states the total, decoding to fewer samples is a truncated file
 * and to more a corrupt one.
 */
import { InvalidInputError } from '@mmfuse/core/base';
import type { ByteSource } from './byte-source.js';
import type { ReaderOptions, ReaderResult } from './compressed.js';
import { PcmSink, checkDeclaredDuration } from './pcm-sink.js';
import { ReadWindow } from './read-window.js';
import { checkDecoded, createFlacDecoder, quietlyAsync, release } from './wasm-decoders.js';
import type { DecodedBlock, FlacDecoderLike } from './wasm-decoders.js';

const FEED_BYTES = 1 << 16;
/**
 * A stated total is used to preallocate the output only when the file could plausibly hold it (no real
 * FLAC stores more than this many samples a byte); a larger claim is still checked against the decoded
 * length, just not trusted with memory.
 */
const PLAUSIBLE_SAMPLES_PER_BYTE = 64;

export interface FlacStreamInfo {
  sampleRateHz: number;
  channels: number;
  bitsPerSample: number;
  /** 0 when the encoder did not know it. */
  totalSamples: number;
  /** First byte after the metadata blocks. */
  audioOffset: number;
}

const BLOCK_NAMES = ['STREAMINFO', 'PADDING', 'APPLICATION', 'SEEKTABLE', 'VORBIS_COMMENT', 'CUESHEET', 'PICTURE'];

export function readFlacMetadata(win: ReadWindow): FlacStreamInfo {
  let at = 4;
  let info: Omit<FlacStreamInfo, 'audioOffset'> | undefined;
  for (let index = 0; ; index++) {
    const h = win.read(at, 4);
    if (h.length < 4) throw new InvalidInputError(`truncated FLAC: the file ends inside the metadata (block ${index} at byte ${at})`);
    const last = ((h[0] as number) & 0x80) !== 0;
    const type = (h[0] as number) & 0x7f;
    const length = ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number);
    const name = BLOCK_NAMES[type] ?? `type ${type}`;
    if (type === 127) throw new InvalidInputError(`corrupt FLAC: metadata block ${index} at byte ${at} has the invalid type 127`);
    if (at + 4 + length > win.size) throw new InvalidInputError(`truncated FLAC: metadata block ${index} (${name}) at byte ${at} claims ${length} bytes but only ${win.size - at - 4} remain`);
    if (index === 0) {
      if (type !== 0 || length < 34) throw new InvalidInputError(`corrupt FLAC: the first metadata block must be a 34-byte STREAMINFO, got ${name} of ${length} bytes`);
      const b = win.read(at + 4, 34);
      const sampleRateHz = ((b[10] as number) << 12) | ((b[11] as number) << 4) | ((b[12] as number) >> 4);
      const channels = (((b[12] as number) >> 1) & 7) + 1;
      const bitsPerSample = ((((b[12] as number) & 1) << 4) | ((b[13] as number) >> 4)) + 1;
      const totalSamples = ((b[13] as number) & 0x0f) * 2 ** 32 + new DataView(b.buffer, b.byteOffset + 14, 4).getUint32(0, false);
      if (sampleRateHz === 0) throw new InvalidInputError('the FLAC STREAMINFO declares a sample rate of 0 Hz');
      if (bitsPerSample < 4) throw new InvalidInputError(`the FLAC STREAMINFO declares ${bitsPerSample} bits per sample (at least 4)`);
      info = { sampleRateHz, channels, bitsPerSample, totalSamples };
    } else if (type === 0) {
      throw new InvalidInputError(`corrupt FLAC: a second STREAMINFO block (block ${index} at byte ${at})`);
    }
    at += 4 + length;
    if (last) break;
  }
  if (info === undefined) throw new InvalidInputError('corrupt FLAC: no STREAMINFO block');
  if (at >= win.size) throw new InvalidInputError('the FLAC file holds metadata but no audio frames');
  const sync = win.read(at, 2);
  if (sync.length < 2 || sync[0] !== 0xff || ((sync[1] as number) & 0xfe) !== 0xf8) {
    throw new InvalidInputError(`corrupt FLAC: no frame sync code at byte ${at}, where the audio frames should start after the metadata`);
  }
  return { ...info, audioOffset: at };
}

export async function decodeFlac(src: ByteSource, opts: ReaderOptions): Promise<ReaderResult> {
  const info = readFlacMetadata(new ReadWindow(src));
  const rate = info.sampleRateHz;
  const declared = info.totalSamples > 0 ? info.totalSamples : undefined;
  // Checked here, not only by the sink, so an implausible claim over the limit is refused too.
  if (declared !== undefined) checkDeclaredDuration(declared / rate, opts.maxDurationSeconds, 'FLAC STREAMINFO');
  const sink = new PcmSink({
    sourceRateHz: rate,
    sourceChannels: info.channels,
    targetRateHz: opts.targetRateHz ?? rate,
    mono: opts.mono,
    maxDurationSeconds: opts.maxDurationSeconds,
    ...(declared !== undefined ? { boundFrames: declared, boundSource: 'FLAC STREAMINFO', maxPreallocFrames: src.size * PLAUSIBLE_SAMPLES_PER_BYTE } : {}),
  });
  const take = (block: DecodedBlock, where: string): void => {
    checkDecoded('FLAC', block, where);
    if (block.samplesDecoded === 0) return;
    if (block.sampleRate !== rate) {
      throw new InvalidInputError(`corrupt FLAC: frames ${where} have ${block.channelData.length} channel(s) at ${block.sampleRate} Hz but STREAMINFO declares ${info.channels} at ${rate} Hz`);
    }
    // The wasm wrapper scales b-bit integers by 1/(2^(b-1) - 1); WAV here (as torchaudio) uses 1/2^(b-1),
    // so a FLAC and a WAV of the same PCM decode to the same floats.
    const scale = 1 - 1 / 2 ** (info.bitsPerSample - 1);
    for (const ch of block.channelData) for (let k = 0; k < block.samplesDecoded; k++) ch[k] = (ch[k] as number) * scale;
    sink.push(block.channelData, block.samplesDecoded);
  };
  let dec: FlacDecoderLike | undefined;
  try {
    dec = await createFlacDecoder();
    const d = dec;
    // The decoder's frame parser reads the stream from its "fLaC" marker.
    for (let at = 0; at < src.size; at += FEED_BYTES) {
      const chunk = new Uint8Array(src.read(at, Math.min(FEED_BYTES, src.size - at)));
      take(await quietlyAsync('FLAC', () => d.decode(chunk)), `near byte ${at}`);
    }
    take(await quietlyAsync('FLAC', () => d.flush()), 'at the end of the file');
  } finally {
    release(dec);
  }
  const frames = sink.framesPushed;
  if (frames === 0) throw new InvalidInputError('corrupt FLAC: no decodable audio frames');
  if (declared !== undefined && frames < declared) {
    throw new InvalidInputError(`truncated or corrupt FLAC: STREAMINFO declares ${declared} samples (${(declared / rate).toFixed(2)} s) but only ${frames} (${(frames / rate).toFixed(2)} s) decode`);
  }
  return { channels: sink.finish(), sampleRateHz: opts.targetRateHz ?? rate, sourceSampleRateHz: rate, sourceChannels: info.channels, durationSeconds: frames / rate, codec: 'flac', bitsPerSample: info.bitsPerSample };
}
