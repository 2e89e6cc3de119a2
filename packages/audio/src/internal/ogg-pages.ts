/**
 * Ogg pages (RFC 3533): header walking (no body reads, for the layout pass), CRC-checked page reads, and
 * packet reassembly across pages for one logical stream.
 */
import { InvalidInputError } from '@mmfuse/core/base';
import type { ReadWindow } from './read-window.js';

export interface OggPageHeader {
  offset: number;
  /** 1: continues a packet, 2: first page of a stream, 4: last page. */
  flags: number;
  /** -1 when no packet ends on the page. */
  granule: number;
  serial: number;
  sequence: number;
  /** Lacing values (segment sizes). */
  lacing: Uint8Array;
  headerBytes: number;
  bodyBytes: number;
}

export const CONTINUED = 1;
export const BEGIN = 2;
export const END = 4;

/** The largest packet accepted (a Vorbis setup header with big codebooks is the largest real one). */
const MAX_PACKET_BYTES = 16 * 1024 * 1024;

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let r = i << 24;
      for (let k = 0; k < 8; k++) r = (r & 0x80000000) !== 0 ? (r << 1) ^ 0x04c11db7 : r << 1;
      crcTable[i] = r >>> 0;
    }
  }
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ (crcTable[((crc >>> 24) ^ (bytes[i] as number)) & 0xff] as number)) >>> 0;
  return crc;
}

/** The page header at `offset` (validated against the bytes that exist; the body is not read). */
export function readPageHeader(win: ReadWindow, offset: number, index: number): OggPageHeader {
  const h = win.read(offset, 27);
  const where = `page ${index} at byte ${offset}`;
  if (h.length >= 4 && String.fromCharCode(...h.subarray(0, 4)) !== 'OggS') {
    throw new InvalidInputError(`corrupt Ogg: no page starts at byte ${offset} (expected "OggS" after page ${index - 1})`);
  }
  if (h.length < 27) throw new InvalidInputError(`truncated Ogg: ${where} is cut off inside its 27-byte header`);
  if (h[4] !== 0) throw new InvalidInputError(`corrupt Ogg: ${where} has stream structure version ${h[4]} (only 0 exists)`);
  const v = new DataView(h.buffer, h.byteOffset, 27);
  const flags = h[5] as number;
  const lo = v.getUint32(6, true);
  const hi = v.getInt32(10, true);
  const granule = hi === -1 && lo === 0xffffffff ? -1 : hi * 2 ** 32 + lo;
  const serial = v.getUint32(14, true);
  const sequence = v.getUint32(18, true);
  const segments = h[26] as number;
  const lacing = new Uint8Array(win.read(offset + 27, segments));
  if (lacing.length < segments) throw new InvalidInputError(`truncated Ogg: ${where} is cut off inside its lacing table`);
  let bodyBytes = 0;
  for (const l of lacing) bodyBytes += l;
  const headerBytes = 27 + segments;
  if (offset + headerBytes + bodyBytes > win.size) {
    throw new InvalidInputError(`truncated Ogg: ${where} claims ${headerBytes + bodyBytes} bytes but only ${win.size - offset} remain`);
  }
  return { offset, flags, granule, serial, sequence, lacing, headerBytes, bodyBytes };
}

/** The whole page (a copy), after checking its CRC; its body is `page.subarray(header.headerBytes)`. */
export function readPage(win: ReadWindow, page: OggPageHeader, index: number): Uint8Array {
  const bytes = new Uint8Array(win.read(page.offset, page.headerBytes + page.bodyBytes));
  const view = new DataView(bytes.buffer);
  const stored = view.getUint32(22, true);
  view.setUint32(22, 0, true);
  const ok = crc32(bytes) === stored;
  view.setUint32(22, stored, true);
  if (!ok) throw new InvalidInputError(`corrupt Ogg: page ${index} at byte ${page.offset} fails its CRC check`);
  return bytes;
}

/** Reassembles one stream's packets from its pages' lacing. */
export class PacketAssembler {
  private parts: Uint8Array[] = [];
  private partBytes = 0;

  /** The packets that end on this page (a packet still open at the end is kept for the next page). */
  add(page: OggPageHeader, body: Uint8Array, index: number): Uint8Array[] {
    const continued = (page.flags & CONTINUED) !== 0;
    if (continued !== this.parts.length > 0) {
      throw new InvalidInputError(continued
        ? `corrupt Ogg: page ${index} at byte ${page.offset} continues a packet that no earlier page started (a page is missing)`
        : `corrupt Ogg: page ${index} at byte ${page.offset} starts a new packet while the previous one is unfinished (a page is missing)`);
    }
    const out: Uint8Array[] = [];
    let at = 0;
    let segStart = 0;
    for (let s = 0; s < page.lacing.length; s++) {
      const l = page.lacing[s] as number;
      at += l;
      if (l < 255) {
        this.append(body.subarray(segStart, at), page, index);
        out.push(this.take());
        segStart = at;
      }
    }
    if (segStart < at) this.append(body.subarray(segStart, at), page, index);
    return out;
  }

  /** True while a packet continues onto the next page. */
  get open(): boolean {
    return this.parts.length > 0;
  }

  private append(part: Uint8Array, page: OggPageHeader, index: number): void {
    this.partBytes += part.length;
    if (this.partBytes > MAX_PACKET_BYTES) throw new InvalidInputError(`corrupt Ogg: a packet grows past ${MAX_PACKET_BYTES} bytes at page ${index} (byte ${page.offset})`);
    this.parts.push(new Uint8Array(part));
  }

  private take(): Uint8Array {
    const packet = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : new Uint8Array(this.partBytes);
    if (this.parts.length > 1) {
      let at = 0;
      for (const p of this.parts) { packet.set(p, at); at += p.length; }
    }
    this.parts = [];
    this.partBytes = 0;
    return packet;
  }
}
