/**
 * Recognize an image container from its first bytes, in JS, before handing anything to libvips: cheaper than a
 * metadata round trip, and formats outside the supported list (SVG, PDF, ...) never reach a decoder.
 */

/** sharp's format names for the containers mmfuse decodes (AVIF and HEIC are both `heif`). */
export type SniffedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'heif';

const HEIF_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end && i < bytes.length; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/** The container format of `bytes`, or `undefined` when the signature is not one of the supported formats. */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat | undefined {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a))) return 'tiff';
  if (b.length >= 12 && ascii(b, 4, 8) === 'ftyp') {
    // major brand, then compatible brands up to the end of the ftyp box
    const boxSize = Math.min(b.length, ((b[0] as number) << 24 | (b[1] as number) << 16 | (b[2] as number) << 8 | (b[3] as number)) >>> 0, 64);
    if (HEIF_BRANDS.has(ascii(b, 8, 12))) return 'heif';
    for (let i = 16; i + 4 <= boxSize; i += 4) if (HEIF_BRANDS.has(ascii(b, i, i + 4))) return 'heif';
  }
  return undefined;
}
