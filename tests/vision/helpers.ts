// Image builders for the vision tests: every image is made here, from known pixels.
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';

/** Encode raw 8-bit pixels (HWC) with sharp into `format`. */
export async function encode(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, format: 'png' | 'jpeg' | 'webp' | 'avif' | 'gif' | 'tiff', options: Record<string, unknown> = {}): Promise<Buffer> {
  let img = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  if (channels <= 2) img = img.toColourspace('b-w'); // keep grey images grey in the file
  switch (format) {
    case 'png': return img.png(options).toBuffer();
    case 'jpeg': return img.jpeg({ quality: 95, ...options }).toBuffer();
    case 'webp': return img.webp(options).toBuffer();
    case 'avif': return img.avif(options).toBuffer();
    case 'gif': return img.gif(options).toBuffer();
    case 'tiff': return img.tiff(options).toBuffer();
  }
}

/** A solid-colour RGB image as raw pixels. */
export function solid(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) out.set(rgb, i * 3);
  return out;
}

/** Deterministic "random" 8-bit pixels (LCG), so images have no structure a bug could hide behind. */
export function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Decoded float data back to 8-bit integers (exact for values that came from 8-bit samples). */
export function toBytes(data: Float32Array): number[] {
  return Array.from(data, (v) => Math.round(v * 255));
}

function crc32(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A syntactically valid PNG whose header claims `width` × `height` RGB pixels but holds almost no data. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A real 8×8 JPEG whose SOF0 header is patched to claim `width` × `height`; its data covers 8×8 only. */
export async function jpegClaiming(width: number, height: number): Promise<Buffer> {
  const jpg = Buffer.from(await sharp(Buffer.from(solid(8, 8, [90, 90, 90])), { raw: { width: 8, height: 8, channels: 3 } }).jpeg({ mozjpeg: false }).toBuffer());
  for (let i = 2; i + 9 < jpg.length;) {
    if (jpg[i] !== 0xff) throw new Error('jpegClaiming: lost marker sync');
    const marker = jpg[i + 1] as number;
    if (marker === 0xc0 || marker === 0xc2) {
      jpg.writeUInt16BE(height, i + 5);
      jpg.writeUInt16BE(width, i + 7);
      return jpg;
    }
    i += 2 + jpg.readUInt16BE(i + 2);
  }
  throw new Error('jpegClaiming: no SOF marker');
}

/** Where a pixel of the stored image lands after EXIF orientation `o` (1..8): displayed[y][x] = stored[sy][sx]. */
export function orient(stored: Uint8Array, width: number, height: number, channels: number, o: number): { data: Uint8Array; width: number; height: number } {
  const swap = o >= 5;
  const w2 = swap ? height : width;
  const h2 = swap ? width : height;
  const out = new Uint8Array(stored.length);
  for (let y = 0; y < h2; y++) {
    for (let x = 0; x < w2; x++) {
      let sx: number;
      let sy: number;
      switch (o) {
        case 1: sx = x; sy = y; break;
        case 2: sx = width - 1 - x; sy = y; break; // mirrored
        case 3: sx = width - 1 - x; sy = height - 1 - y; break; // 180°
        case 4: sx = x; sy = height - 1 - y; break; // mirrored vertically
        case 5: sx = y; sy = x; break; // transposed
        case 6: sx = y; sy = height - 1 - x; break; // 90° clockwise
        case 7: sx = width - 1 - y; sy = height - 1 - x; break; // transversed
        default: sx = width - 1 - y; sy = x; break; // 8: 90° anticlockwise
      }
      for (let c = 0; c < channels; c++) out[(y * w2 + x) * channels + c] = stored[(sy * width + sx) * channels + c] as number;
    }
  }
  return { data: out, width: w2, height: h2 };
}

/**
 * Run `fn` on a backend that has the conv filter gradient (`Conv2DBackpropFilter`): wasm once the engine
 * registers it, cpu until then. Restores the previous backend.
 */
export async function withConvGradBackend<T>(fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  const hasKernel = tf.getKernel('Conv2DBackpropFilter', previous) !== undefined;
  if (hasKernel) return fn();
  await tf.setBackend('cpu');
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
  }
}
