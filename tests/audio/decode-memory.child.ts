// Run by decode.test.ts in a fresh process: decodes a long WAV file from disk and reports how far the
// resident set grew above the process's resident set just before decoding (`whole-file` mode reads the
// file into memory instead, as a control that shows the measurement sees a whole-file copy).
import { readFileSync } from 'node:fs';
import { decodeWav, decodeWavFile } from '@mmfuse/audio';

const [file, rateText, mode] = process.argv.slice(2) as [string, string, string];
const rate = Number(rateText);
const before = process.memoryUsage.rss();
const t0 = performance.now();
const out = mode === 'whole-file' ? decodeWav(readFileSync(file), { sampleRateHz: rate }) : decodeWavFile(file, { sampleRateHz: rate });
const seconds = (performance.now() - t0) / 1000;
const peak = process.resourceUsage().maxRSS * 1024;
const ch = out.channels[0] as Float32Array;
let energy = 0;
for (let i = 0; i < ch.length; i += 97) energy += (ch[i] as number) ** 2;
process.stdout.write(JSON.stringify({ rssBefore: before, peakRss: peak, peakGrowthBytes: peak - before, outputBytes: ch.byteLength, length: ch.length, sampleRateHz: out.sampleRateHz, durationSeconds: out.durationSeconds, seconds, meanSquare: energy / Math.ceil(ch.length / 97) }));
