/**
 * Image preprocessing throughput (BENCHMARK-SPEC.md "Image preprocessing"): 200 JPEGs 256×256 q90, per image
 * decode → RGB → 64×64 antialiased bilinear → float32 / 255 → ImageNet mean/std, with `loadImage`, against
 * Pillow on the same bytes in the same run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { createRng } from '@mmfuse/core';
import { IMAGENET_MEAN, IMAGENET_STD, loadImage } from '@mmfuse/vision-cnn';
import type { LoadImageOptions } from '@mmfuse/vision-cnn';
import type { BenchFigure, Benchmark } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const IMAGES = 200;
const RUNS = 5;

/** Seeded content: an 8×8 random colour field upscaled bicubically to 256×256, plus Gaussian noise (std 8). */
async function makeImages(): Promise<Buffer[]> {
  const rng = createRng(2024);
  const out: Buffer[] = [];
  for (let n = 0; n < IMAGES; n++) {
    const field = Buffer.from(Array.from({ length: 8 * 8 * 3 }, () => rng.int(256)));
    const big = await sharp(field, { raw: { width: 8, height: 8, channels: 3 } }).resize(256, 256, { kernel: 'cubic' }).raw().toBuffer();
    const noisy = Buffer.alloc(big.length);
    for (let i = 0; i < big.length; i++) noisy[i] = Math.max(0, Math.min(255, Math.round((big[i] as number) + rng.normal(0, 8))));
    out.push(await sharp(noisy, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Mode {
  name: string;
  label: string;
  /** libvips threads per image. */
  vipsThreads: number;
  /** Images in flight at once. */
  inFlight: number;
  fastShrinkOnLoad: boolean;
}

/** One timed pass of `mode` over all images: wall-clock and CPU rates, and the outputs. */
async function runOnce(blobs: Buffer[], mode: Mode): Promise<{ rate: number; cpuRate: number; outputs: Float32Array[] }> {
  sharp.concurrency(mode.vipsThreads);
  const options: LoadImageOptions = { width: 64, height: 64, fit: 'fill', kernel: 'linear', mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD], fastShrinkOnLoad: mode.fastShrinkOnLoad };
  await loadImage(blobs[0] as Buffer, options); // warm-up
  const outputs = new Array<Float32Array>(blobs.length);
  const c0 = process.cpuUsage(); // the whole process: libvips' threads included
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < blobs.length) {
      const i = next++;
      outputs[i] = (await loadImage(blobs[i] as Buffer, options)).data;
    }
  };
  await Promise.all(Array.from({ length: mode.inFlight }, worker));
  const rate = blobs.length / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(c0);
  return { rate, cpuRate: blobs.length / ((cpu.user + cpu.system) / 1e6), outputs };
}

/** CPU microseconds per call of `f` over `inputs` (whole process, libvips threads included), one at a time. */
async function cpuMicros(inputs: Buffer[], f: (b: Buffer) => Promise<unknown>): Promise<number> {
  for (const b of inputs.slice(0, 3)) await f(b);
  const c0 = process.cpuUsage();
  for (const b of inputs) await f(b);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / inputs.length;
}

/** Largest and mean |difference| between two sets of normalized outputs, in 0..255 pixel units. */
function compare(a: Float32Array[], b: Float32Array): { max: number; mean: number } {
  const std = IMAGENET_STD;
  let max = 0;
  let sum = 0;
  let n = 0;
  a.forEach((img, k) => {
    for (let i = 0; i < img.length; i++) {
      const d = Math.abs((img[i] as number) - (b[k * img.length + i] as number)) * (std[i % 3] as number) * 255;
      max = Math.max(max, d);
      sum += d;
      n++;
    }
  });
  return { max, mean: sum / n };
}

export const benchmark: Benchmark = {
  id: 'vision',
  title: 'Image preprocessing (decode + resize to 64×64 + normalize)',
  async run() {
    const blobs = await makeImages();
    const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-bench-vision-'));
    try {
      blobs.forEach((b, i) => writeFileSync(path.join(dir, `${String(i).padStart(3, '0')}.jpg`), b));
      const peerOut = path.join(dir, 'pil.f32');
      // Pillow runs before and after mmfuse (5 runs each) and reports the median of all 10, so that a change in the
      // shared machine's load during the run does not favour either side.
      type PeerResult = { pillow: string; runs: number[]; median: number; cpuRuns: number[]; cpuMedian: number; decodeOnlyCpuMicros: number };
      const peerRuns: PeerResult[] = [];
      let peerError = '';
      const runPeer = async (): Promise<void> => {
        try {
          const { stdout } = await promisify(execFile)('/usr/bin/python3', [path.join(here, 'peers/vision_pil.py'), dir, String(RUNS), peerOut], { env: { ...process.env, OMP_NUM_THREADS: '1' } });
          peerRuns.push(JSON.parse(stdout.trim().split('\n').pop() as string) as PeerResult);
        } catch (err) {
          peerError = (err as Error).message;
        }
      };
      await runPeer();
      const pil = peerRuns.length === 0 ? undefined : new Float32Array(readFileSync(peerOut).buffer.slice(0));

      // libvips' operation cache would serve repeated runs over the same buffers from memory.
      sharp.cache(false);
      const defaultThreads = sharp.concurrency(); // sharp's default: 1 on glibc Linux without jemalloc, else the core count
      const cores = cpus().length;
      const modes: Mode[] = [
        { name: 'vision.preprocess.one_thread', label: 'sharp, 1 libvips thread, one image at a time', vipsThreads: 1, inFlight: 1, fastShrinkOnLoad: true },
        { name: 'vision.preprocess.vips_threads', label: `sharp, ${cores} libvips threads, one image at a time`, vipsThreads: cores, inFlight: 1, fastShrinkOnLoad: true },
        { name: 'vision.preprocess.two_in_flight', label: 'sharp, 1 libvips thread per image, 2 images in flight (Promise pool)', vipsThreads: 1, inFlight: 2, fastShrinkOnLoad: true },
        { name: 'vision.preprocess.four_in_flight', label: 'sharp, 1 libvips thread per image, 4 images in flight (Promise pool)', vipsThreads: 1, inFlight: 4, fastShrinkOnLoad: true },
      ];
      const figures: BenchFigure[] = [];
      const rows: string[] = [];
      let peer: PeerResult | null = null;
      // Round robin (run r of every mode, then run r + 1), so that changes in the machine's load hit every mode alike.
      const measured = modes.map(() => ({ rates: [] as number[], cpuRates: [] as number[], outputs: [] as Float32Array[] }));
      for (let r = 0; r < RUNS; r++) {
        for (const [m, mode] of modes.entries()) {
          const once = await runOnce(blobs, mode);
          const slot = measured[m] as (typeof measured)[number];
          slot.rates.push(once.rate);
          slot.cpuRates.push(once.cpuRate);
          slot.outputs = once.outputs;
        }
      }
      await runPeer();
      if (peerRuns.length > 0) {
        const runs = peerRuns.flatMap((p) => p.runs);
        const cpuRuns = peerRuns.flatMap((p) => p.cpuRuns);
        const first = peerRuns[0] as PeerResult;
        peer = { pillow: first.pillow, runs, median: median(runs), cpuRuns, cpuMedian: median(cpuRuns), decodeOnlyCpuMicros: median(peerRuns.map((p) => p.decodeOnlyCpuMicros)) };
      }
      for (const [m, mode] of modes.entries()) {
        const { rates, cpuRates, outputs } = measured[m] as (typeof measured)[number];
        const diff = pil === undefined ? undefined : compare(outputs, pil);
        const peerName = peer === null ? 'Pillow (1 thread)' : `Pillow ${peer.pillow} (1 thread)`;
        figures.push({
          name: mode.name, value: median(rates), unit: 'images/s', peer: peerName, peerValue: peer === null ? null : peer.median,
          details: { mode: mode.label, runs: rates, peerRuns: peer?.runs ?? null, imagesPerCpuSecond: median(cpuRates), peerImagesPerCpuSecond: peer?.cpuMedian ?? null, vipsThreads: mode.vipsThreads, inFlight: mode.inFlight, fastShrinkOnLoad: mode.fastShrinkOnLoad, maxAbsDiffVsPillow255: diff?.max ?? null, meanAbsDiffVsPillow255: diff?.mean ?? null },
        });
        rows.push(`| ${mode.label} | ${median(rates).toFixed(0)} | ${peer === null ? 'n/a' : (median(rates) / peer.median).toFixed(2) + '×'} | ${rates.map((r) => r.toFixed(0)).join(', ')} | ${median(cpuRates).toFixed(0)}${peer === null ? '' : ` (${(median(cpuRates) / peer.cpuMedian).toFixed(2)}×)`} | ${diff === undefined ? 'n/a' : `${diff.mean.toFixed(2)} / ${diff.max.toFixed(1)}`} |`);
      }
      // Profile (one libvips thread): the fixed cost of a sharp pipeline, and JPEG decoding alone.
      sharp.concurrency(1);
      const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).jpeg().toBuffer();
      const fixedUs = await cpuMicros(new Array<Buffer>(200).fill(tiny), (b) => sharp(b).raw().toBuffer());
      const decodeUs = await cpuMicros(blobs, (b) => sharp(b).raw().toBuffer());
      const resizeUs = await cpuMicros(blobs, (b) => sharp(b).resize(64, 64, { kernel: 'linear', fit: 'fill' }).raw().toBuffer());
      const loadUs = await cpuMicros(blobs, (b) => loadImage(b, { width: 64, height: 64, fit: 'fill', mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] }));
      sharp.concurrency(defaultThreads);
      sharp.cache(true);
      const firstFigure = figures[0];
      const firstRatio = firstFigure?.peerValue ? firstFigure.value / firstFigure.peerValue : undefined;
      const pilDecodeUs = peer?.decodeOnlyCpuMicros;
      const profile = [
        '| step (CPU µs per image, one thread) | sharp | Pillow |',
        '| --- | --- | --- |',
        `| whole pipeline on an 8×8 JPEG (fixed cost per image) | ${fixedUs.toFixed(0)} | |`,
        `| decode 256×256 JPEG to RGB | ${decodeUs.toFixed(0)} | ${pilDecodeUs === undefined ? 'n/a' : pilDecodeUs.toFixed(0)} |`,
        `| decode + resize to 64×64 (sharp alone) | ${resizeUs.toFixed(0)} | |`,
        `| \`loadImage\` (decode + resize + float32 + normalize) | ${loadUs.toFixed(0)} | ${peer === null ? 'n/a' : (1e6 / peer.cpuMedian).toFixed(0)} |`,
      ];
      const markdown = [
        `${IMAGES} JPEGs, 256×256, quality 90 (an 8×8 random colour field upscaled bicubically plus Gaussian noise of std 8, seeded), held in memory.`,
        'Timed per image: `loadImage(bytes, { width: 64, height: 64, kernel: "linear", mean, std })` = decode, RGB, antialiased bilinear',
        'resize, float32 / 255, ImageNet mean/std, HWC `Float32Array`. Median of 5 runs over all images (the modes take turns, run by run);',
        "libvips' operation cache off. Peer: `bench/peers/vision_pil.py`, Pillow `Image.open(BytesIO) → convert('RGB') → resize((64, 64), BILINEAR)`",
        '→ numpy float32 / 255 → mean/std, one thread, on the same JPEG bytes, in the same run (5 runs before and 5 after mmfuse; median of the 10).',
        '',
        '| mmfuse mode | images/s (wall) | vs Pillow | 5 runs | images per CPU-second (vs Pillow) | mean / max abs diff vs Pillow (0..255) |',
        '| --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        peer === null ? `Pillow could not run: ${peerError}` : `Pillow ${peer.pillow}: ${peer.median.toFixed(0)} images/s (runs ${peer.runs.map((r) => r.toFixed(0)).join(', ')}), ${peer.cpuMedian.toFixed(0)} images per CPU-second.`,
        `Machine load when the run ended (1-minute load average on ${cpus().length} cores): ${loadavg()[0]?.toFixed(1)}.`,
        '',
        'Profile, measured in the same run:',
        '',
        ...profile,
        '',
        'The fair comparison with Pillow is the first row: one libvips thread, one image at a time, as Pillow runs. The',
        'rows with several images in flight use both cores of the machine, so they are not one-thread figures; on this',
        'shared machine other jobs ran at the same time (see the load above), so wall-clock figures vary a lot between',
        'runs, and images per CPU-second (which counts libvips\' threads too) is the steadier measure of cost.',
        'The difference column shows how far each result is from Pillow\'s, in 8-bit levels (different resampler',
        'implementations and JPEG IDCTs).',
        '',
        firstRatio !== undefined && firstRatio >= 2
          ? `Goal (at least 2× Pillow on one thread): met, ${firstRatio.toFixed(2)}×.`
          : `Goal (at least 2× Pillow on one thread): **not met** (${firstRatio === undefined ? 'no peer figure' : `${firstRatio.toFixed(2)}× by wall clock`}). ` +
            'The profile says why: every sharp call pays a fixed cost (the 8×8 row: pipeline set-up, libvips thread hand-offs) that is a large share ' +
            'of the budget Pillow needs for a whole image, and its JPEG decode of these 256×256 images costs more CPU than Pillow\'s libjpeg-turbo. ' +
            'Getting past Pillow per core would take a decoder called without libvips\' per-image pipeline (e.g. libjpeg-turbo with DCT scaling, ' +
            'bound directly), which is not among the installed packages; using both cores (Promise pool) is the lever sharp offers.',
      ].join('\n');
      return { id: 'vision', title: this.title, markdown, figures };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
