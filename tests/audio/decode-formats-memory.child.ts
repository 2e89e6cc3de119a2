// Run by formats-memory.test.ts in a fresh process: decodes a long compressed file from disk with
// decodeAudio and reports how far the resident set grew above the process's resident set just before
// (the decoder module is loaded and warmed on a tiny file first, so its one-time cost is not counted).
// `whole-file` mode decodes the file's bytes read into memory, then keeps the native-rate stereo
// samples (as a decode-everything-then-resample design would) as the control.
import { readFileSync } from 'node:fs';
import { decodeAudio } from '@mmfuse/audio';

const [file, warm, rateText, mode] = process.argv.slice(2) as [string, string, string, string];
const rate = Number(rateText);
await decodeAudio(warm, { sampleRateHz: rate });
const before = process.memoryUsage.rss();
const t0 = performance.now();
const out = mode === 'native' ? await decodeAudio(file, { mono: false }) : await decodeAudio(file, { sampleRateHz: rate });
const seconds = (performance.now() - t0) / 1000;
const peak = process.resourceUsage().maxRSS * 1024;
const ch = out.channels[0] as Float32Array;
let energy = 0;
for (let i = 0; i < ch.length; i += 97) energy += (ch[i] as number) ** 2;
const outputBytes = out.channels.reduce((s, c) => s + c.byteLength, 0);
process.stdout.write(JSON.stringify({ rssBefore: before, peakRss: peak, peakGrowthBytes: peak - before, outputBytes, length: ch.length, sampleRateHz: out.sampleRateHz, durationSeconds: out.durationSeconds, seconds, meanSquare: energy / Math.ceil(ch.length / 97), fileBytes: readFileSync(file).length }));
