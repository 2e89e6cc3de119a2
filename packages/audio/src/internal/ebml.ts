/**
 * A small EBML/Matroska reader (RFC 8794, the Matroska and WebM specs) that only walks what an audio
 * decoder needs: the EBML header's DocType, the segment's Info and Tracks, and the blocks of its clusters
 * (SimpleBlock and BlockGroup, with Xiph, fixed-size and EBML lacing, and DiscardPadding). Everything else
 * (SeekHead, Cues, Tags, Chapters, Attachments, Void, CRC-32) is skipped by size. Sizes are checked
 * against the bytes that exist before anything is read, and nothing is allocated from a declared size
 * beyond one block. Live recordings (MediaRecorder) write the Segment and Clusters with an unknown size;
 * such a cluster ends where the next top-level element starts.
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';
import type { ReadWindow } from './read-window.js';

export const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  ContentEncodings: 0x6d80,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  DiscardPadding: 0x75a2,
  Cues: 0x1c53bb6b,
  Tags: 0x1254c367,
  Chapters: 0x1043a770,
  Attachments: 0x1941a469,
  Void: 0xec,
  CRC32: 0xbf,
} as const;

/** Elements that may follow a cluster at the segment's level: they end an unknown-size cluster. */
const TOP_LEVEL: ReadonlySet<number> = new Set([ID.Cluster, ID.Cues, ID.Tags, ID.Chapters, ID.Attachments, ID.SeekHead, ID.Info, ID.Tracks]);

/** The largest block read (an audio block is a few KiB; a bigger claim is corrupt). */
const MAX_BLOCK_BYTES = 16 * 1024 * 1024;
/** The largest header element read whole (CodecPrivate, strings). */
const MAX_VALUE_BYTES = 1024 * 1024;

export interface ElementHeader {
  id: number;
  /** -1 when unknown (live streams). */
  size: number;
  offset: number;
  dataOffset: number;
}

export interface WebmTrack {
  number: number;
  type: number;
  codecId: string;
  codecPrivate: Uint8Array | undefined;
  channels: number | undefined;
  sampleRateHz: number | undefined;
  /** True when the track's frames are compressed or encrypted (ContentEncodings). */
  encoded: boolean;
}

export interface WebmInfo {
  timecodeScaleNs: number;
  /** Stated duration in seconds, when the muxer wrote one. */
  durationSeconds: number | undefined;
}

export interface WebmVisitor {
  /** Called once, when the Tracks element has been read (before any block). */
  tracks(tracks: WebmTrack[], info: WebmInfo): void;
  /** Each block: its track, its frames (copies), and its DiscardPadding in ns (0 when absent). */
  block(track: number, frames: Uint8Array[], discardPaddingNs: number, where: string): void;
}

function hex(id: number): string {
  return `0x${id.toString(16).toUpperCase()}`;
}

/** An element's header at `at`, which must end by `end`. */
function readHeader(win: ReadWindow, at: number, end: number): ElementHeader {
  const b = win.read(at, 12);
  const first = b[0] as number;
  if (b.length === 0) throw new InvalidInputError(`truncated WebM: the file ends at byte ${at} where an element should start`);
  const idLength = first >= 0x80 ? 1 : first >= 0x40 ? 2 : first >= 0x20 ? 3 : first >= 0x10 ? 4 : 0;
  if (idLength === 0) throw new InvalidInputError(`corrupt WebM: byte ${at} does not start an EBML element ID (0x${first.toString(16).padStart(2, '0')})`);
  if (b.length < idLength + 1 || at + idLength >= end) throw new InvalidInputError(`truncated WebM: the element at byte ${at} is cut off inside its header`);
  let id = 0;
  for (let i = 0; i < idLength; i++) id = id * 256 + (b[i] as number);
  const s0 = b[idLength] as number;
  let sizeLength = 0;
  for (let i = 0; i < 8; i++) if ((s0 & (0x80 >> i)) !== 0) { sizeLength = i + 1; break; }
  if (sizeLength === 0) throw new InvalidInputError(`corrupt WebM: element ${hex(id)} at byte ${at} has an invalid size field (0x00)`);
  if (b.length < idLength + sizeLength || at + idLength + sizeLength > end) throw new InvalidInputError(`truncated WebM: element ${hex(id)} at byte ${at} is cut off inside its size field`);
  let size = s0 & (0xff >> sizeLength);
  let allOnes = size === 0xff >> sizeLength;
  for (let i = 1; i < sizeLength; i++) {
    const v = b[idLength + i] as number;
    size = size * 256 + v;
    if (v !== 0xff) allOnes = false;
  }
  const dataOffset = at + idLength + sizeLength;
  return { id, size: allOnes ? -1 : size, offset: at, dataOffset };
}

/** Check a known size fits before `end`; return the element's end. */
function elementEnd(h: ElementHeader, end: number, name: string): number {
  if (h.size < 0) throw new InvalidInputError(`corrupt WebM: ${name} at byte ${h.offset} has an unknown size, which only Segment and Cluster may have`);
  if (h.dataOffset + h.size > end) {
    throw new InvalidInputError(`truncated WebM: ${name} at byte ${h.offset} claims ${h.size} bytes but only ${Math.max(0, end - h.dataOffset)} remain`);
  }
  return h.dataOffset + h.size;
}

function readValue(win: ReadWindow, h: ElementHeader, name: string): Uint8Array {
  if (h.size > MAX_VALUE_BYTES) throw new InvalidInputError(`corrupt WebM: ${name} at byte ${h.offset} claims ${h.size} bytes, far more than it ever holds`);
  return new Uint8Array(win.read(h.dataOffset, h.size));
}

function readUint(win: ReadWindow, h: ElementHeader, name: string): number {
  if (h.size > 8) throw new InvalidInputError(`corrupt WebM: the integer ${name} at byte ${h.offset} has ${h.size} bytes (at most 8)`);
  let v = 0;
  for (const x of win.read(h.dataOffset, h.size)) v = v * 256 + x;
  return v;
}

function readInt(win: ReadWindow, h: ElementHeader, name: string): number {
  const u = readUint(win, h, name);
  return h.size > 0 && u >= 2 ** (8 * h.size - 1) ? u - 2 ** (8 * h.size) : u;
}

function readFloat(win: ReadWindow, h: ElementHeader, name: string): number {
  const b = win.read(h.dataOffset, h.size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (h.size === 4) return v.getFloat32(0, false);
  if (h.size === 8) return v.getFloat64(0, false);
  if (h.size === 0) return 0;
  throw new InvalidInputError(`corrupt WebM: the float ${name} at byte ${h.offset} has ${h.size} bytes (4 or 8)`);
}

function readString(win: ReadWindow, h: ElementHeader, name: string): string {
  return String.fromCharCode(...readValue(win, h, name)).replace(/\0+$/, '');
}

/** Children of a known-size element, each visited with its header. */
function children(win: ReadWindow, parent: ElementHeader, end: number, name: string, visit: (h: ElementHeader, end: number) => void): void {
  const stop = elementEnd(parent, end, name);
  for (let at = parent.dataOffset; at < stop;) {
    const h = readHeader(win, at, stop);
    const childEnd = elementEnd(h, stop, `element ${hex(h.id)} in ${name}`);
    visit(h, childEnd);
    at = childEnd;
  }
}

function readTrack(win: ReadWindow, entry: ElementHeader, end: number): WebmTrack {
  const t: WebmTrack = { number: 0, type: 0, codecId: '', codecPrivate: undefined, channels: undefined, sampleRateHz: undefined, encoded: false };
  children(win, entry, end, 'TrackEntry', (h, e) => {
    if (h.id === ID.TrackNumber) t.number = readUint(win, h, 'TrackNumber');
    else if (h.id === ID.TrackType) t.type = readUint(win, h, 'TrackType');
    else if (h.id === ID.CodecID) t.codecId = readString(win, h, 'CodecID');
    else if (h.id === ID.CodecPrivate) t.codecPrivate = readValue(win, h, 'CodecPrivate');
    else if (h.id === ID.ContentEncodings) t.encoded = true;
    else if (h.id === ID.Audio) {
      children(win, h, e, 'Audio', (a) => {
        if (a.id === ID.SamplingFrequency) t.sampleRateHz = readFloat(win, a, 'SamplingFrequency');
        else if (a.id === ID.Channels) t.channels = readUint(win, a, 'Channels');
      });
    }
  });
  return t;
}

/** Split a block's payload into its frames (RFC 9559 §10.3: no lacing, Xiph, fixed-size, EBML). */
function blockFrames(b: Uint8Array, where: string): { track: number; frames: Uint8Array[] } {
  const bad = (why: string): never => { throw new InvalidInputError(`corrupt WebM: ${where}: ${why}`); };
  let at = 0;
  const vint = (signed: boolean): number => {
    const first = b[at];
    if (first === undefined) return bad('the block ends inside its header');
    let len = 0;
    for (let i = 0; i < 8; i++) if ((first & (0x80 >> i)) !== 0) { len = i + 1; break; }
    if (len === 0 || at + len > b.length) return bad('the block header has an invalid number');
    let v = first & (0xff >> len);
    for (let i = 1; i < len; i++) v = v * 256 + (b[at + i] as number);
    at += len;
    return signed ? v - (2 ** (7 * len - 1) - 1) : v;
  };
  const track = vint(false);
  if (at + 3 > b.length) bad('the block ends inside its header');
  const flags = b[at + 2] as number;
  at += 3;
  const lacing = (flags >> 1) & 3;
  if (lacing === 0) return { track, frames: [new Uint8Array(b.subarray(at))] };
  if (at >= b.length) bad('the block ends before its lace count');
  const count = (b[at] as number) + 1;
  at++;
  const sizes: number[] = [];
  if (lacing === 1) {
    for (let i = 0; i < count - 1; i++) {
      let s = 0;
      for (;;) {
        const x = b[at++];
        if (x === undefined) return bad('the block ends inside its Xiph lacing');
        s += x;
        if (x < 255) break;
      }
      sizes.push(s);
    }
  } else if (lacing === 3) {
    let s = vint(false);
    sizes.push(s);
    for (let i = 1; i < count - 1; i++) {
      s += vint(true);
      if (s < 0) bad('EBML lacing gives a negative frame size');
      sizes.push(s);
    }
  }
  const rest = b.length - at;
  if (lacing === 2) {
    if (rest % count !== 0) bad(`${rest} bytes do not split into ${count} equal frames`);
    for (let i = 0; i < count - 1; i++) sizes.push(rest / count);
  }
  const used = sizes.reduce((x, y) => x + y, 0);
  if (used > rest) bad(`the laced frame sizes (${used} bytes) exceed the block (${rest} bytes)`);
  sizes.push(rest - used);
  const frames: Uint8Array[] = [];
  for (const s of sizes) { frames.push(new Uint8Array(b.subarray(at, at + s))); at += s; }
  return { track, frames };
}

function readBlock(win: ReadWindow, h: ElementHeader, where: string): { track: number; frames: Uint8Array[] } {
  if (h.size > MAX_BLOCK_BYTES) throw new InvalidInputError(`corrupt WebM: ${where} claims ${h.size} bytes, far more than an audio block holds`);
  return blockFrames(new Uint8Array(win.read(h.dataOffset, h.size)), where);
}

/**
 * Walk a WebM/Matroska file: the EBML header, then the Segment's children in order.
 * @throws InvalidInputError for structure that is cut short or corrupt; UnsupportedFormatError for a
 *   DocType other than webm/matroska.
 */
export function walkWebm(win: ReadWindow, visitor: WebmVisitor): void {
  const size = win.size;
  const head = readHeader(win, 0, size);
  if (head.id !== ID.EBML) throw new InvalidInputError('not a WebM file: it does not start with an EBML header');
  let docType = 'matroska';
  children(win, head, size, 'the EBML header', (h) => {
    if (h.id === ID.DocType) docType = readString(win, h, 'DocType');
  });
  if (docType !== 'webm' && docType !== 'matroska') throw new UnsupportedFormatError(`EBML document type ${JSON.stringify(docType)} is not supported (webm or matroska)`);
  let at = elementEnd(head, size, 'the EBML header');
  let segment: ElementHeader | undefined;
  while (at < size) {
    const h = readHeader(win, at, size);
    if (h.id === ID.Segment) { segment = h; break; }
    at = elementEnd(h, size, `element ${hex(h.id)} before the Segment`);
  }
  if (segment === undefined) throw new InvalidInputError('truncated WebM: no Segment element after the EBML header');
  // A Segment that claims more than exists is walked as far as the bytes go (so Info's duration is checked
  // against the limit first), then refused.
  const claimedEnd = segment.size < 0 ? size : segment.dataOffset + segment.size;
  const segEnd = Math.min(claimedEnd, size);
  const info: WebmInfo = { timecodeScaleNs: 1_000_000, durationSeconds: undefined };
  let rawDuration: number | undefined;
  let haveTracks = false;
  let blocks = 0;
  for (at = segment.dataOffset; at < segEnd;) {
    const h = readHeader(win, at, segEnd);
    if (h.id === ID.Cluster) {
      if (!haveTracks) throw new InvalidInputError(`corrupt WebM: a Cluster at byte ${h.offset} comes before the Tracks element`);
      const clusterEnd = h.size < 0 ? segEnd : elementEnd(h, segEnd, 'Cluster');
      let c = h.dataOffset;
      while (c < clusterEnd) {
        const k = readHeader(win, c, clusterEnd);
        if (h.size < 0 && TOP_LEVEL.has(k.id)) break; // an unknown-size cluster ends here
        const kEnd = elementEnd(k, clusterEnd, `element ${hex(k.id)} in the Cluster at byte ${h.offset}`);
        if (k.id === ID.SimpleBlock) {
          const where = `block ${blocks} at byte ${k.offset}`;
          const b = readBlock(win, k, where);
          visitor.block(b.track, b.frames, 0, where);
          blocks++;
        } else if (k.id === ID.BlockGroup) {
          let block: { track: number; frames: Uint8Array[] } | undefined;
          let discard = 0;
          const where = `block ${blocks} at byte ${k.offset}`;
          children(win, k, clusterEnd, 'BlockGroup', (g) => {
            if (g.id === ID.Block) block = readBlock(win, g, where);
            else if (g.id === ID.DiscardPadding) discard = readInt(win, g, 'DiscardPadding');
          });
          if (block === undefined) throw new InvalidInputError(`corrupt WebM: the BlockGroup at byte ${k.offset} has no Block`);
          visitor.block(block.track, block.frames, discard, where);
          blocks++;
        }
        c = kEnd;
      }
      at = c;
      continue;
    }
    const end = elementEnd(h, segEnd, `element ${hex(h.id)}`);
    if (h.id === ID.Info) {
      children(win, h, segEnd, 'Info', (k) => {
        if (k.id === ID.TimecodeScale) info.timecodeScaleNs = readUint(win, k, 'TimecodeScale');
        else if (k.id === ID.Duration) rawDuration = readFloat(win, k, 'Duration');
      });
    } else if (h.id === ID.Tracks) {
      const tracks: WebmTrack[] = [];
      children(win, h, segEnd, 'Tracks', (k, e) => {
        if (k.id === ID.TrackEntry) tracks.push(readTrack(win, k, e));
      });
      if (rawDuration !== undefined && Number.isFinite(rawDuration) && rawDuration > 0) info.durationSeconds = (rawDuration * info.timecodeScaleNs) / 1e9;
      haveTracks = true;
      visitor.tracks(tracks, info);
    }
    at = end;
  }
  if (claimedEnd > size) throw new InvalidInputError(`truncated WebM: the Segment at byte ${segment.offset} claims ${segment.size} bytes but only ${size - segment.dataOffset} remain`);
  if (!haveTracks) throw new InvalidInputError('corrupt WebM: the Segment has no Tracks element');
}
