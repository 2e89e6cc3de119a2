/**
 * Rebuilds `examples/image-audio/data/digits/`: the words "zero" to "nine" spoken by espeak-ng in eight
 * voices at two speeds each (160 clips), 8 kHz mono 16-bit WAV with leading/trailing silence trimmed, and
 * `digits.jsonl` listing them.
 *
 *   node --conditions=source --import tsx examples/image-audio/generate/spoken-digits.ts
 *
 * Needs `espeak-ng` and `sox` on PATH (only to regenerate; the clips are committed).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthesize } from '../../../scripts/synth/espeak.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(HERE, '..', 'data', 'digits');

export const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;
const VOICES = ['en-us', 'en-gb+f3', 'en-029+m3', 'en-gb-scotland+f2', 'en-us-nyc+m5', 'en-gb-x-rp+f4', 'en-us+m7', 'en-gb-x-gbclan+f1'];
const SPEEDS_WPM = [140, 190];

function main(): void {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-digits-'));
  const rows: string[] = [];
  WORDS.forEach((word, digit) => {
    VOICES.forEach((voice, voiceIndex) => {
      SPEEDS_WPM.forEach((speedWpm) => {
        const file = `${digit}-${voiceIndex}-${speedWpm}.wav`;
        synthesize({ text: word, voice, speedWpm, outFile: path.join(OUT, file), effects: ['gain', '-1'], tmpDir: tmp });
        rows.push(JSON.stringify({ file, digit, word, voice, voiceIndex, speedWpm }));
      });
    });
  });
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(path.join(OUT, 'digits.jsonl'), `${rows.join('\n')}\n`);
  const bytes = readdirSync(OUT).reduce((n, f) => n + statSync(path.join(OUT, f)).size, 0);
  console.log(`${rows.length} clips, ${(bytes / 1e6).toFixed(2)} MB in ${OUT}`);
}

main();
