/**
 * Ogg reader for Opus and Vorbis streams. A first pass walks the page headers only: it finds the audio
 * stream, checks page sequence numbers, refuses chained streams and a stream cut short (no end-of-stream
 * page), and reads the last granule position, which gives the exact length before anything is decoded.
 * The second pass reads each page of the stream (CRC checked) and decodes it: Opus packets through
 * libopus, Vorbis pages through libvorbis (both WebAssembly).
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';
import type { ByteSource } from './byte-source.js';
import type { ReaderOptions, ReaderResult } from './compressed.js';
import { BEGIN, END, PacketAssembler, readPage, readPageHeader } from './ogg-pages.js';
import type { OggPageHeader } from './ogg-pages.js';
import { OPUS_RATE_HZ, parseOpusHead } from './opus.js';
import type { OpusHead } from './opus.js';
import { OpusStream } from './opus-stream.js';
import { PcmSink, checkDeclaredDuration } from './pcm-sink.js';
import { ReadWindow } from './read-window.js';
import { checkDecoded, createVorbisDecoder, quietlyAsync, release } from './wasm-decoders.js';
import type { DecodedBlock, VorbisDecoderLike } from './wasm-decoders.js';

/** More 48 kHz samples a byte than any real Opus or Vorbis stream holds (a lying granule is not preallocated). */
const PLAUSIBLE_SAMPLES_PER_BYTE = 1024;

type OggCodec = 'opus' | 'vorbis';

interface OggLayout {
  codec: OggCodec;
  serial: number;
  /** The stream's first packet (its identification header). */
  idHeader: Uint8Array;
  lastGranule: number;
  pages: number;
}

function codecOf(packet: Uint8Array): OggCodec | string {
  const text = (from: number, to: number): string => String.fromCharCode(...packet.subarray(from, to));
  if (text(0, 8) === 'OpusHead') return 'opus';
  if (packet[0] === 1 && text(1, 7) === 'vorbis') return 'vorbis';
  if (packet[0] === 0x7f && text(1, 5) === 'FLAC') return 'FLAC';
  if (text(0, 8) === 'Speex   ') return 'Speex';
  if (packet[0] === 0x80 && text(1, 7) === 'theora') return 'Theora (video)';
  if (text(0, 8) === 'fishead\0') return 'Skeleton (metadata)';
  return 'an unknown codec';
}

/** Walk every page header: find the audio stream, its last granule position, and check its framing. */
function walkOgg(win: ReadWindow): OggLayout {
  let chosen: { serial: number; codec: OggCodec; idHeader: Uint8Array } | undefined;
  const others: string[] = [];
  let lastSeq = -1;
  let lastGranule = -1;
  let ended = false;
  let pages = 0;
  let inHeaders = true;
  let index = 0;
  for (let at = 0; at < win.size; index++) {
    const page = readPageHeader(win, at, index);
    const begins = (page.flags & BEGIN) !== 0;
    if (index === 0 && !begins) throw new InvalidInputError('corrupt Ogg: the first page does not begin a stream (the start of the file is missing)');
    if (begins) {
      if (!inHeaders) {
        throw new UnsupportedFormatError(`chained Ogg: a second stream starts at byte ${at} after the first one; only a single audio stream is supported (split the file)`);
      }
      // A stream's first page holds exactly its identification packet.
      const body = readPage(win, page, index).subarray(page.headerBytes);
      const codec = codecOf(body);
      if (chosen === undefined && (codec === 'opus' || codec === 'vorbis')) chosen = { serial: page.serial, codec, idHeader: new Uint8Array(body) };
      else others.push(codec);
    } else {
      inHeaders = false;
    }
    if (chosen !== undefined && page.serial === chosen.serial) {
      if (ended) throw new InvalidInputError(`corrupt Ogg: page ${index} at byte ${at} comes after the stream's end-of-stream page`);
      if (lastSeq >= 0 && page.sequence !== lastSeq + 1) {
        throw new InvalidInputError(`corrupt Ogg: page ${index} at byte ${at} has sequence number ${page.sequence} after ${lastSeq} (${page.sequence > lastSeq ? 'pages are missing' : 'pages are out of order'})`);
      }
      lastSeq = page.sequence;
      if (page.granule >= 0) lastGranule = page.granule;
      if ((page.flags & END) !== 0) ended = true;
      pages++;
    }
    at += page.headerBytes + page.bodyBytes;
  }
  if (chosen === undefined) {
    throw new UnsupportedFormatError(`the Ogg file holds ${others.length > 0 ? others.join(', ') : 'no stream'}, not Opus or Vorbis audio`);
  }
  if (!ended) throw new InvalidInputError(`truncated Ogg: the ${chosen.codec === 'opus' ? 'Opus' : 'Vorbis'} stream stops after page ${pages - 1} without its end-of-stream page (the file is cut short)`);
  if (lastGranule < 0) throw new InvalidInputError('corrupt Ogg: no page of the stream states a granule position (its length)');
  return { codec: chosen.codec, serial: chosen.serial, idHeader: chosen.idHeader, lastGranule, pages };
}

interface VorbisId { channels: number; sampleRateHz: number }

function parseVorbisId(p: Uint8Array): VorbisId {
  if (p.length < 30) throw new InvalidInputError('corrupt Ogg Vorbis: the identification header is shorter than 30 bytes');
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (v.getUint32(7, true) !== 0) throw new UnsupportedFormatError(`Vorbis version ${v.getUint32(7, true)} is not supported (0 only)`);
  const channels = p[11] as number;
  const sampleRateHz = v.getUint32(12, true);
  if (channels === 0) throw new InvalidInputError('the Vorbis header declares zero channels');
  if (sampleRateHz === 0) throw new InvalidInputError('the Vorbis header declares a sample rate of 0 Hz');
  if (sampleRateHz > 1_000_000) throw new InvalidInputError(`the Vorbis header declares a sample rate of ${sampleRateHz} Hz, above the 1 MHz any recording uses; the header is corrupt`);
  return { channels, sampleRateHz };
}

/** Each page of the chosen stream, CRC checked, in order. */
function* streamPages(win: ReadWindow, serial: number): Generator<{ header: OggPageHeader; bytes: Uint8Array; index: number }> {
  let index = 0;
  for (let at = 0; at < win.size; index++) {
    const header = readPageHeader(win, at, index);
    at += header.headerBytes + header.bodyBytes;
    if (header.serial !== serial) continue;
    yield { header, bytes: readPage(win, header, index), index };
  }
}

async function decodeOpus(win: ReadWindow, layout: OggLayout, head: OpusHead, sink: PcmSink, total: number): Promise<void> {
  const stream = await OpusStream.open(head, sink, total);
  try {
    const packets = new PacketAssembler();
    let packetIndex = 0;
    for (const { header, bytes, index } of streamPages(win, layout.serial)) {
      for (const packet of packets.add(header, bytes.subarray(header.headerBytes), index)) {
        const where = `Ogg Opus packet ${packetIndex} (page ${index} at byte ${header.offset})`;
        if (packetIndex === 1 && String.fromCharCode(...packet.subarray(0, 8)) !== 'OpusTags') {
          throw new InvalidInputError(`corrupt Ogg Opus: the second packet must be the "OpusTags" comment header (page ${index} at byte ${header.offset})`);
        }
        if (packetIndex >= 2) stream.decode(packet, where);
        packetIndex++;
      }
    }
    if (packets.open) throw new InvalidInputError('truncated Ogg Opus: the last packet is unfinished at the end-of-stream page');
    stream.finish('Ogg Opus');
  } finally {
    stream.close();
  }
}

async function decodeVorbis(win: ReadWindow, layout: OggLayout, sink: PcmSink, total: number): Promise<void> {
  let dec: VorbisDecoderLike | undefined;
  try {
    dec = await createVorbisDecoder();
    const d = dec;
    let decoded = 0;
    // The decoder's output lags its input by a page (it holds a page back until it knows whether it is
    // the last), so the stated length can only be reached by the last page's or the flush's output.
    const take = (block: DecodedBlock, where: string, last: boolean): void => {
      checkDecoded('Vorbis', block, where);
      const room = total - decoded;
      if (block.samplesDecoded > room && !last) {
        throw new InvalidInputError(`corrupt Ogg Vorbis: the audio runs past the stream's stated length (${total} samples) before its last page (${where})`);
      }
      sink.push(block.channelData, Math.min(block.samplesDecoded, room));
      decoded += block.samplesDecoded;
    };
    for (const { header, bytes, index } of streamPages(win, layout.serial)) {
      take(await quietlyAsync('Vorbis', () => d.decode(bytes)), `in page ${index} at byte ${header.offset}`, (header.flags & END) !== 0);
    }
    take(await quietlyAsync('Vorbis', () => d.flush()), 'at the end of the stream', true);
    if (decoded < total) {
      throw new InvalidInputError(`truncated Ogg Vorbis: the last granule position states ${total} samples but the packets hold only ${decoded}`);
    }
  } finally {
    release(dec);
  }
}

export async function decodeOgg(src: ByteSource, opts: ReaderOptions): Promise<ReaderResult> {
  const win = new ReadWindow(src);
  const layout = walkOgg(win);
  let rate: number;
  let channels: number;
  let total: number;
  let head: OpusHead | undefined;
  if (layout.codec === 'opus') {
    head = parseOpusHead(layout.idHeader, 'Ogg Opus');
    rate = OPUS_RATE_HZ;
    channels = head.channels;
    total = layout.lastGranule - head.preSkip;
    if (total <= 0) throw new InvalidInputError(`the Ogg Opus stream holds no audio (last granule position ${layout.lastGranule}, pre-skip ${head.preSkip})`);
  } else {
    const id = parseVorbisId(layout.idHeader);
    rate = id.sampleRateHz;
    channels = id.channels;
    total = layout.lastGranule;
    if (total <= 0) throw new InvalidInputError('the Ogg Vorbis stream holds no audio (last granule position 0)');
  }
  const codecName = layout.codec === 'opus' ? 'Ogg Opus' : 'Ogg Vorbis';
  checkDeclaredDuration(total / rate, opts.maxDurationSeconds, `last ${codecName} granule position`);
  const sink = new PcmSink({ sourceRateHz: rate, sourceChannels: channels, targetRateHz: opts.targetRateHz ?? rate, mono: opts.mono, maxDurationSeconds: opts.maxDurationSeconds, boundFrames: total, boundSource: `the last ${codecName} granule position`, maxPreallocFrames: src.size * PLAUSIBLE_SAMPLES_PER_BYTE });
  if (head !== undefined) await decodeOpus(win, layout, head, sink, total);
  else await decodeVorbis(win, layout, sink, total);
  return { channels: sink.finish(), sampleRateHz: opts.targetRateHz ?? rate, sourceSampleRateHz: rate, sourceChannels: channels, durationSeconds: total / rate, codec: layout.codec };
}
