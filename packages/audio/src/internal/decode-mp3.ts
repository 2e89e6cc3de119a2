/**
 * MP3 (MPEG-1/2/2.5 layer I/II/III) reader. A first pass walks the frame headers (4 bytes a frame, no
 * decoding): it skips ID3v2 tags at the start and ID3v1/APEv2 tags at the end, refuses a truncated last
 * frame, bytes that are not frames, free-format streams and streams that change rate or channel count,
 * and counts the frames, which bounds the duration before any decoding. The second pass feeds the frames
 * to mpg123 (WebAssembly, gapless: the encoder delay and padding that LAME records are removed) in 64 KiB
 * reads straight from the source.
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';
import type { ByteSource } from './byte-source.js';
import type { AudioCodec, ReaderOptions, ReaderResult } from './compressed.js';
import { parseMpegHeader } from './mpeg-header.js';
import type { MpegHeader } from './mpeg-header.js';
import { PcmSink } from './pcm-sink.js';
import { ReadWindow } from './read-window.js';
import { checkDecoded, createMpegDecoder, quietly, release } from './wasm-decoders.js';
import type { MpegDecoderLike } from './wasm-decoders.js';

const FEED_BYTES = 1 << 16;

interface MpegLayout {
  first: MpegHeader;
  /** Byte range of the frames. */
  start: number;
  end: number;
  frames: number;
  /** Sum of the frames' sample counts (an upper bound: encoder delay and padding are inside). */
  samples: number;
}

function syncsafe(b: Uint8Array, at: number): number {
  return (((b[at] as number) & 0x7f) << 21) | (((b[at + 1] as number) & 0x7f) << 14) | (((b[at + 2] as number) & 0x7f) << 7) | ((b[at + 3] as number) & 0x7f);
}

/** Offset after the ID3v2 tags at the start (and any zero padding after them). */
function skipId3v2(win: ReadWindow): number {
  let at = 0;
  for (;;) {
    const h = win.read(at, 10);
    if (h.length < 3 || String.fromCharCode(h[0] as number, h[1] as number, h[2] as number) !== 'ID3') break;
    if (h.length < 10) throw new InvalidInputError(`truncated MP3: the ID3v2 tag at byte ${at} is cut off inside its 10-byte header`);
    const size = 10 + syncsafe(h, 6) + (((h[5] as number) & 0x10) !== 0 ? 10 : 0);
    if (at + size > win.size) throw new InvalidInputError(`truncated MP3: the ID3v2 tag at byte ${at} claims ${size} bytes but only ${win.size - at} remain`);
    at += size;
  }
  // Some taggers pad past the tag's declared size with zeros.
  while (at < win.size) {
    const chunk = win.read(at, 4096);
    let i = 0;
    while (i < chunk.length && chunk[i] === 0) i++;
    at += i;
    if (i < chunk.length) break;
  }
  return at;
}

/** End of the frames: before an ID3v1 tag ("TAG", the last 128 bytes) and an APEv2 tag. */
function trailingTagsStart(win: ReadWindow, start: number): number {
  let end = win.size;
  if (end - start >= 128) {
    const t = win.read(end - 128, 3);
    if (String.fromCharCode(...t) === 'TAG') end -= 128;
  }
  if (end - start >= 32) {
    const f = win.read(end - 32, 32);
    if (String.fromCharCode(...f.subarray(0, 8)) === 'APETAGEX') {
      const v = new DataView(f.buffer, f.byteOffset, 32);
      const size = v.getUint32(12, true) + ((v.getUint32(20, true) & 0x80000000) !== 0 ? 32 : 0);
      if (size <= end - start) end -= size;
    }
  }
  return end;
}

function describe(h: MpegHeader): string {
  return `MPEG-${h.version} layer ${h.layer}, ${h.sampleRateHz} Hz, ${h.channels === 1 ? 'mono' : 'stereo'}`;
}

/** Walk the frame headers; validates the whole stream's framing without decoding it. */
export function walkMpegFrames(win: ReadWindow): MpegLayout {
  const start = skipId3v2(win);
  const end = trailingTagsStart(win, start);
  let first: MpegHeader | undefined;
  let frames = 0;
  let samples = 0;
  let at = start;
  while (at < end) {
    const head = win.read(at, 4);
    const h = parseMpegHeader(head, 0);
    if (h === undefined) {
      if (frames === 0) {
        throw new InvalidInputError(at === 0 || at >= end ? 'the MP3 holds no MPEG audio frames' : `the MP3 holds no MPEG audio frame after its ID3 tag (byte ${at} is not a frame header)`);
      }
      if (end - at < 4) throw new InvalidInputError(`truncated MP3: ${end - at} stray byte(s) after frame ${frames} at byte ${at}`);
      throw new InvalidInputError(`corrupt MP3: byte ${at} (after frame ${frames}) is not an MPEG frame header`);
    }
    if (h.frameBytes === 0) throw new UnsupportedFormatError(`free-format MP3 (no bitrate in the frame header, byte ${at}) is not supported`);
    if (first === undefined) first = h;
    else if (h.sampleRateHz !== first.sampleRateHz || h.channels !== first.channels || h.layer !== first.layer) {
      throw new UnsupportedFormatError(`the MP3 changes format at frame ${frames} (byte ${at}): ${describe(first)} -> ${describe(h)}; streams that change rate, layer or channel count are not supported`);
    }
    if (at + h.frameBytes > end) {
      throw new InvalidInputError(`truncated MP3: frame ${frames} at byte ${at} needs ${h.frameBytes} bytes but only ${end - at} remain`);
    }
    at += h.frameBytes;
    frames++;
    samples += h.samples;
  }
  if (first === undefined) throw new InvalidInputError('the MP3 holds no MPEG audio frames');
  return { first, start, end, frames, samples };
}

export async function decodeMp3(src: ByteSource, opts: ReaderOptions): Promise<ReaderResult> {
  const layout = walkMpegFrames(new ReadWindow(src));
  const rate = layout.first.sampleRateHz;
  const channels = layout.first.channels;
  const sink = new PcmSink({
    sourceRateHz: rate,
    sourceChannels: channels,
    targetRateHz: opts.targetRateHz ?? rate,
    mono: opts.mono,
    maxDurationSeconds: opts.maxDurationSeconds,
    boundFrames: layout.samples,
    boundSource: `${layout.frames} MPEG frames`,
    boundSlackFrames: 3 * layout.first.samples,
  });
  let dec: MpegDecoderLike | undefined;
  try {
    dec = await createMpegDecoder();
    const d = dec;
    for (let at = layout.start; at < layout.end; at += FEED_BYTES) {
      const chunk = src.read(at, Math.min(FEED_BYTES, layout.end - at));
      const block = quietly('MP3', () => d.decode(chunk));
      checkDecoded('MP3', block, `near byte ${at}`);
      // mpg123 always returns two channels; a mono stream's second is a copy.
      sink.push(channels === 1 ? block.channelData.slice(0, 1) : block.channelData, block.samplesDecoded);
    }
  } finally {
    release(dec);
  }
  if (sink.framesPushed === 0) throw new InvalidInputError(`the MP3's ${layout.frames} frame(s) decode to no audio`);
  const codec = `mp${layout.first.layer}` as AudioCodec;
  const out = sink.finish();
  return { channels: out, sampleRateHz: opts.targetRateHz ?? rate, sourceSampleRateHz: rate, sourceChannels: channels, durationSeconds: sink.framesPushed / rate, codec };
}
