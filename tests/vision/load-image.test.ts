import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError, LimitExceededError, UnsupportedFormatError } from '@mmfuse/core';
import { loadImage } from '@mmfuse/vision-cnn';
import { encode, jpegClaiming, noise, orient, pngClaiming, solid, toBytes } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-vision-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const loc = { sample: 'img-7', field: 'photo' };

describe('loadImage: formats, exact pixels', () => {
  it('decodes an 8-bit RGB PNG to exactly its pixels, HWC, scaled to [0, 1]', async () => {
    const pixels = noise(5 * 3 * 3, 3);
    const img = await loadImage(await encode(pixels, 5, 3, 3, 'png'));
    expect([img.width, img.height, img.channels, img.format]).toEqual([5, 3, 3, 'png']);
    expect(img.data).toBeInstanceOf(Float32Array);
    expect(toBytes(img.data)).toEqual(Array.from(pixels));
    img.data.forEach((v, i) => expect(Math.abs(v - (pixels[i] as number) / 255)).toBeLessThan(1e-7));
    // a plain Uint8Array view into a larger buffer reads the same
    const png = await encode(pixels, 5, 3, 3, 'png');
    const view = new Uint8Array(new ArrayBuffer(png.length + 16), 7, png.length);
    view.set(png);
    expect((await loadImage(view)).data).toEqual(img.data);
  });

  it('keeps the precision of 16-bit PNG and TIFF (values an 8-bit decode could not give)', async () => {
    const samples = new Uint16Array([0, 1, 65535, 32768, 12345, 54321, 257, 65534, 1000, 2, 3, 40000]);
    const png16 = await sharp(samples, { raw: { width: 2, height: 2, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const img = await loadImage(png16);
    expect(Array.from(img.data, (v) => Math.round(v * 65535))).toEqual(Array.from(samples));
    const tiff16 = await sharp(samples, { raw: { width: 2, height: 2, channels: 3 } }).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer();
    expect((await sharp(tiff16).metadata()).depth).toBe('ushort');
    const t = await loadImage(tiff16);
    expect(t.format).toBe('tiff');
    expect(Array.from(t.data, (v) => Math.round(v * 65535))).toEqual(Array.from(samples));
  });

  it('decodes a 16-bit grey PNG with alpha, flattened on the background', async () => {
    // grey 1000 opaque; grey 30000 fully transparent → the black background.
    const samples = new Uint16Array([1000, 65535, 30000, 0]);
    const png = await sharp(samples, { raw: { width: 2, height: 1, channels: 2 } }).toColourspace('grey16').png().toBuffer();
    const img = await loadImage(png, { channels: 1, background: '#000000' });
    expect(Array.from(img.data, (v) => Math.round(v * 65535))).toEqual([1000, 0]);
  });

  it('decodes grey PNGs to 1 channel exactly, and to 3 equal channels', async () => {
    const grey = noise(4 * 4, 5);
    const png = await encode(grey, 4, 4, 1, 'png');
    expect((await sharp(png).metadata()).channels).toBe(1);
    const one = await loadImage(png, { channels: 1 });
    expect(one.channels).toBe(1);
    expect(toBytes(one.data)).toEqual(Array.from(grey));
    const three = await loadImage(png, { channels: 3 });
    expect(toBytes(three.data)).toEqual(Array.from(grey).flatMap((g) => [g, g, g]));
  });

  it('flattens alpha on the configured background', async () => {
    // opaque red, transparent red, half-transparent red
    const rgba = new Uint8Array([255, 0, 0, 255, 255, 0, 0, 0, 255, 0, 0, 128]);
    const png = await encode(rgba, 3, 1, 4, 'png');
    const onGreen = toBytes((await loadImage(png, { background: '#00ff00' })).data);
    expect(onGreen.slice(0, 6)).toEqual([255, 0, 0, 0, 255, 0]);
    // 128/255 of red over 127/255 of green
    onGreen.slice(6).forEach((v, i) => expect(Math.abs(v - ([255 * 128 / 255, 255 * 127 / 255, 0][i] as number))).toBeLessThanOrEqual(1));
    const onWhite = toBytes((await loadImage(png)).data);
    expect(onWhite.slice(3, 6)).toEqual([255, 255, 255]);
  });

  it('decodes a lossless WebP and a TIFF exactly', async () => {
    const pixels = noise(6 * 4 * 3, 9);
    for (const [format, opts] of [['webp', { lossless: true }], ['tiff', { compression: 'lzw' }]] as const) {
      const img = await loadImage(await encode(pixels, 6, 4, 3, format, opts));
      expect(img.format).toBe(format);
      expect(toBytes(img.data)).toEqual(Array.from(pixels));
    }
  });

  it('decodes JPEG and AVIF (lossy) to within a few levels of the source colours', async () => {
    const pixels = new Uint8Array(16 * 16 * 3);
    // four solid 8×8 quadrants
    const colours: [number, number, number][] = [[200, 30, 40], [20, 180, 60], [40, 50, 220], [250, 250, 250]];
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) pixels.set(colours[(y >> 3) * 2 + (x >> 3)] as number[], (y * 16 + x) * 3);
    for (const [format, expected, tolerance] of [['jpeg', 'jpeg', 6], ['avif', 'heif', 12]] as const) {
      const img = await loadImage(await encode(pixels, 16, 16, 3, format, format === 'avif' ? { quality: 90 } : {}));
      expect(img.format).toBe(expected);
      // centre of each quadrant, away from the block edges
      for (const [qy, qx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
        const i = ((qy * 8 + 4) * 16 + qx * 8 + 4) * 3;
        const got = toBytes(img.data.subarray(i, i + 3));
        got.forEach((v, c) => expect(Math.abs(v - (colours[qy * 2 + qx] as number[])[c]!)).toBeLessThanOrEqual(tolerance));
      }
    }
  });

  it('decodes a 10-bit AVIF at full precision to the source colour', async () => {
    const avif10 = await sharp(Buffer.from(solid(16, 16, [200, 30, 40])), { raw: { width: 16, height: 16, channels: 3 } }).avif({ bitdepth: 10, quality: 90 }).toBuffer();
    expect((await sharp(avif10).metadata()).bitsPerSample).toBe(10);
    const img = await loadImage(avif10);
    expect(img.format).toBe('heif');
    Array.from(img.data.subarray(0, 3), (v) => v * 255).forEach((v, c) => expect(Math.abs(v - [200, 30, 40][c]!)).toBeLessThan(3));
  });

  it('decodes the first frame of an animated GIF', async () => {
    const red = solid(4, 4, [255, 0, 0]);
    const blue = solid(4, 4, [0, 0, 255]);
    const frames = await Promise.all([red, blue].map((p) => sharp(Buffer.from(p), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer()));
    const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
    const meta = await sharp(gif).metadata();
    expect(meta.pages).toBe(2);
    const img = await loadImage(gif);
    expect([img.width, img.height, img.format]).toEqual([4, 4, 'gif']);
    expect(toBytes(img.data)).toEqual(Array.from(red));
  });

  it('reads a file by path, relative to baseDir', async () => {
    const pixels = noise(3 * 2 * 3, 4);
    writeFileSync(path.join(dir, 'a.png'), await encode(pixels, 3, 2, 3, 'png'));
    const img = await loadImage('a.png', { baseDir: dir, location: loc });
    expect(toBytes(img.data)).toEqual(Array.from(pixels));
  });

  it('applies the mean/std normalization per channel', async () => {
    const pixels = noise(4 * 4 * 3, 8);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const img = await loadImage(await encode(pixels, 4, 4, 3, 'png'), { mean, std });
    img.data.forEach((v, i) => expect(Math.abs(v - ((pixels[i] as number) / 255 - mean[i % 3]!) / std[i % 3]!)).toBeLessThan(1e-5));
  });
});

describe('loadImage: EXIF orientation', () => {
  const stored = noise(3 * 2 * 3, 21); // 3 wide, 2 high: every pixel distinct
  for (let o = 1; o <= 8; o++) {
    it(`orientation ${o} (PNG, exact)`, async () => {
      const png = await sharp(Buffer.from(stored), { raw: { width: 3, height: 2, channels: 3 } }).png().withMetadata({ orientation: o }).toBuffer();
      expect((await sharp(png).metadata()).orientation ?? 1).toBe(o);
      const img = await loadImage(png);
      const want = orient(stored, 3, 2, 3, o);
      expect([img.width, img.height]).toEqual([want.width, want.height]);
      expect(toBytes(img.data)).toEqual(Array.from(want.data));
    });
  }

  it('orientation 6 in a JPEG turns a wide image upright', async () => {
    // left half red, right half blue, 16×8; displayed rotated 90° clockwise: top half red, bottom half blue.
    const px = new Uint8Array(16 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) px.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * 16 + x) * 3);
    const jpg = await sharp(Buffer.from(px), { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const img = await loadImage(jpg);
    expect([img.width, img.height]).toEqual([8, 16]);
    const at = (x: number, y: number) => toBytes(img.data.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    at(4, 3).forEach((v, c) => expect(Math.abs(v - [255, 0, 0][c]!)).toBeLessThanOrEqual(8));
    at(4, 12).forEach((v, c) => expect(Math.abs(v - [0, 0, 255][c]!)).toBeLessThanOrEqual(8));
  });
});

describe('loadImage: resizing', () => {
  it('keeps a solid colour exactly under every fit', async () => {
    const png = await encode(solid(37, 23, [12, 200, 99]), 37, 23, 3, 'png');
    for (const fit of ['cover', 'fill'] as const) {
      const img = await loadImage(png, { width: 16, height: 16, fit });
      expect([img.width, img.height]).toEqual([16, 16]);
      expect(new Set(toBytes(img.data)).size).toBeLessThanOrEqual(3);
      expect(toBytes(img.data.subarray(0, 3))).toEqual([12, 200, 99]);
    }
  });

  it('cover: scales to cover then cuts the overflow equally on both sides', async () => {
    // 8×4: columns 0-1 red, 2-5 green, 6-7 blue. Cover to 4×4 keeps scale 1 and columns 2..5: all green.
    const px = new Uint8Array(8 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) px.set(x < 2 ? [255, 0, 0] : x < 6 ? [0, 255, 0] : [0, 0, 255], (y * 8 + x) * 3);
    const img = await loadImage(await encode(px, 8, 4, 3, 'png'), { width: 4, height: 4, fit: 'cover' });
    expect(toBytes(img.data)).toEqual(Array.from(solid(4, 4, [0, 255, 0])));
  });

  it('contain: scales to fit and pads with the background equally on both sides', async () => {
    // 8×4 red → 4×2 red, padded to 4×4 with one blue row above and below.
    const img = await loadImage(await encode(solid(8, 4, [255, 0, 0]), 8, 4, 3, 'png'), { width: 4, height: 4, fit: 'contain', background: '#0000ff' });
    const rows = [0, 1, 2, 3].map((y) => toBytes(img.data.subarray(y * 12, y * 12 + 12)));
    expect(rows[0]).toEqual(Array.from(solid(4, 1, [0, 0, 255])));
    expect(rows[1]).toEqual(Array.from(solid(4, 1, [255, 0, 0])));
    expect(rows[2]).toEqual(Array.from(solid(4, 1, [255, 0, 0])));
    expect(rows[3]).toEqual(Array.from(solid(4, 1, [0, 0, 255])));
  });

  it('fill: scales each axis on its own (2-pixel stripes → 1-pixel stripes, nearest kernel)', async () => {
    const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
    const px = new Uint8Array(8 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 8; x++) px.set(colours[x >> 1] as number[], (y * 8 + x) * 3);
    const img = await loadImage(await encode(px, 8, 2, 3, 'png'), { width: 4, height: 4, fit: 'fill', kernel: 'nearest' });
    expect([img.width, img.height]).toEqual([4, 4]);
    const row = colours.flat();
    expect(toBytes(img.data)).toEqual([...row, ...row, ...row, ...row]);
  });

  it('bilinear downscaling by 2 averages 2×2 blocks of a smooth ramp', async () => {
    // A horizontal ramp: linear resampling of a linear function reproduces it away from the edges.
    const px = new Uint8Array(16 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 16; x++) px.fill(x * 16, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
    const img = await loadImage(await encode(px, 16, 4, 3, 'png'), { width: 8, height: 2, fit: 'fill' });
    // output column j covers source columns 2j, 2j+1: value 16·(2j + 0.5)
    for (let j = 2; j < 6; j++) expect(Math.abs(Math.round(img.data[j * 3]! * 255) - 16 * (2 * j + 0.5))).toBeLessThanOrEqual(1);
  });

  it('crops a region of the oriented image before resizing', async () => {
    const stored = noise(6 * 4 * 3, 33);
    const png = await sharp(Buffer.from(stored), { raw: { width: 6, height: 4, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
    const upright = orient(stored, 6, 4, 3, 6); // 4 wide, 6 high
    const img = await loadImage(png, { crop: { left: 1, top: 2, width: 2, height: 3 } });
    const want: number[] = [];
    for (let y = 2; y < 5; y++) for (let x = 1; x < 3; x++) for (let c = 0; c < 3; c++) want.push(upright.data[(y * 4 + x) * 3 + c]!);
    expect(toBytes(img.data)).toEqual(want);
  });
});

describe('loadImage: limits and bad input', () => {
  it('refuses a header claiming 50,000 × 50,000 pixels before decoding', async () => {
    for (const bytes of [pngClaiming(50_000, 50_000), await jpegClaiming(50_000, 50_000)]) {
      const rss = process.resourceUsage().maxRSS; // kilobytes, the peak so far
      const err = await loadImage(bytes, { location: loc }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LimitExceededError);
      expect((err as Error).message).toMatch(/sample "img-7", field "photo": image is 50000×50000 = 2500000000 pixels, over the limit of 40000000/);
      // Nothing of the 7.5 GB was decoded: the peak memory did not move by anything near it.
      expect(process.resourceUsage().maxRSS - rss).toBeLessThan(512 * 1024);
    }
    // A smaller configured cap applies too.
    await expect(loadImage(await encode(solid(10, 10, [1, 2, 3]), 10, 10, 3, 'png'), { maxPixels: 99, location: loc })).rejects.toThrow(LimitExceededError);
  });

  it('refuses truncated PNG and JPEG files', async () => {
    const pixels = noise(32 * 32 * 3, 2);
    for (const format of ['png', 'jpeg'] as const) {
      const full = await encode(pixels, 32, 32, 3, format);
      const err = await loadImage(full.subarray(0, Math.floor(full.length * 0.6)), { location: loc }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).sample).toBe('img-7');
      expect((err as Error).message).toMatch(/^sample "img-7", field "photo": .*image is truncated or corrupt/);
    }
  });

  it('refuses zero-byte files and empty buffers', async () => {
    writeFileSync(path.join(dir, 'empty.jpg'), new Uint8Array(0));
    await expect(loadImage('empty.jpg', { baseDir: dir, location: loc })).rejects.toThrow(/sample "img-7", field "photo": image file .*empty\.jpg" is empty \(0 bytes\)/);
    await expect(loadImage(new Uint8Array(0), { location: loc })).rejects.toThrow(/sample "img-7", field "photo": image bytes are empty/);
  });

  it('refuses non-images, unsupported formats, missing files and path escapes', async () => {
    const text = await loadImage(Buffer.from('id,label\n1,cat\n'), { location: loc }).catch((e: unknown) => e);
    expect(text).toBeInstanceOf(InvalidInputError);
    expect((text as Error).message).toMatch(/sample "img-7", field "photo": not an image \(15 bytes starting 69 64 2c/);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    await expect(loadImage(svg, { location: loc })).rejects.toThrow(UnsupportedFormatError);
    await expect(loadImage('nope.png', { baseDir: dir, location: loc })).rejects.toThrow(/sample "img-7", field "photo": image file .*nope\.png" does not exist/);
    await expect(loadImage('../x.png', { baseDir: dir, location: loc })).rejects.toThrow(/escapes the data folder/);
    await expect(loadImage(42 as unknown as string, { location: loc })).rejects.toThrow(/expected an image file path or encoded image bytes \(Uint8Array\/Buffer\), got 42/);
  });

  it('refuses bad options with ConfigError', async () => {
    const png = await encode(solid(2, 2, [0, 0, 0]), 2, 2, 3, 'png');
    await expect(loadImage(png, { width: 0 })).rejects.toThrow(ConfigError);
    await expect(loadImage(png, { channels: 2 as 3 })).rejects.toThrow(/channels: must be one of 1, 3/);
    await expect(loadImage(png, { background: 'white' })).rejects.toThrow(/background: must be a colour/);
    await expect(loadImage(png, { mean: [0, 0, 0] })).rejects.toThrow(/std: give both mean and std/);
    await expect(loadImage(png, { mean: [0, 0, 0], std: [1, 0, 1] })).rejects.toThrow(/std: \[1\] must be a finite number > 0/);
    await expect(loadImage(png, { crop: { left: 1, top: 0, width: 2, height: 2 }, location: loc })).rejects.toThrow(/does not lie inside the 2×2 image/);
  });
});
