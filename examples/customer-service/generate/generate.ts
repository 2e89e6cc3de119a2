/**
 * Rebuilds `examples/customer-service/data/` from `intents.ts`: the JSONL splits and the voice clips.
 *
 *   node --conditions=source --import tsx examples/customer-service/generate/generate.ts
 *
 * Needs `espeak-ng` and `sox` on PATH (only to regenerate; the data is committed). Deterministic: the split
 * comes from a seeded `Rng`, and espeak-ng/sox produce the same samples for the same arguments.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@mmfuse/core';
import { synthesize } from '../../../scripts/synth/espeak.js';
import { INTENTS, TYPED_CHINESE } from './intents.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.resolve(HERE, '..', 'data');
const CLIPS = path.join(DATA, 'clips');

/** espeak-ng voice (language + variant) and speed in words per minute. */
interface Voice { voice: string; speedWpm: number }

// Six voice/speed combinations per language; each spoken phrase is read by all six (four readings train,
// one validation, one test: about 5 MB of clips in all).
const ENGLISH_VOICES: Voice[] = [
  { voice: 'en-us', speedWpm: 175 },
  { voice: 'en-gb+f3', speedWpm: 160 },
  { voice: 'en-029+m3', speedWpm: 195 },
  { voice: 'en-gb-scotland+f2', speedWpm: 180 },
  { voice: 'en-us-nyc+m5', speedWpm: 150 },
  { voice: 'en-gb-x-rp+f4', speedWpm: 170 },
];
const CHINESE_VOICES: Voice[] = [
  { voice: 'cmn', speedWpm: 170 },
  { voice: 'cmn+f3', speedWpm: 155 },
  { voice: 'cmn+m3', speedWpm: 190 },
  { voice: 'cmn+f2', speedWpm: 175 },
  { voice: 'cmn+m5', speedWpm: 150 },
  { voice: 'cmn+f4', speedWpm: 165 },
];

type Split = 'train' | 'valid' | 'test';
interface Row { id: string; text?: string; audio?: string; label: string; lang: 'en' | 'zh'; voice?: string; speedWpm?: number }

const hasHan = (s: string): boolean => /\p{Script=Han}/u.test(s);

function main(): void {
  const rng = createRng(2026).fork('customer-service-split');
  const splits: Record<Split, Row[]> = { train: [], valid: [], test: [] };
  let typedId = 0;
  let clipId = 0;

  rmSync(CLIPS, { recursive: true, force: true });
  mkdirSync(CLIPS, { recursive: true });
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-cs-'));

  const intentNames = Object.keys(INTENTS);
  intentNames.forEach((label, intentIndex) => {
    const source = INTENTS[label]!;
    // Typed messages: per intent, English 4 test / 2 valid / rest train; Chinese 1 / 1 / rest.
    const english = rng.shuffle([...source.typed]);
    const chinese = rng.shuffle([...(TYPED_CHINESE[label] ?? [])]);
    const assign = (items: string[], nTest: number, nValid: number, lang: 'en' | 'zh'): void => {
      items.forEach((text, i) => {
        const split: Split = i < nTest ? 'test' : i < nTest + nValid ? 'valid' : 'train';
        splits[split].push({ id: `t${String(++typedId).padStart(4, '0')}`, text, label, lang });
      });
    };
    assign(english, 4, 2, 'en');
    assign(chinese, 1, 1, 'zh');
    assign(source.heldOutTyped ?? [], Infinity, 0, 'en');

    // Spoken requests: each phrase in six voices. The voice order is rotated per phrase, so every voice
    // is heard in training, while the (phrase, voice, speed) of each valid/test clip is never trained on.
    source.spoken.forEach((phrase, phraseIndex) => {
      const lang = hasHan(phrase) ? 'zh' : 'en';
      const voices = lang === 'zh' ? CHINESE_VOICES : ENGLISH_VOICES;
      const rotation = (intentIndex + phraseIndex) % voices.length;
      voices.forEach((_, k) => {
        const v = voices[(k + rotation) % voices.length]!;
        const split: Split = k < 4 ? 'train' : k === 4 ? 'valid' : 'test';
        const file = `clips/${String(++clipId).padStart(4, '0')}.wav`;
        // Telephone band (300-3400 Hz) at 8 kHz; 1 dB headroom so the filters do not clip.
        synthesize({ text: phrase, voice: v.voice, speedWpm: v.speedWpm, outFile: path.join(DATA, file), effects: ['gain', '-1', 'highpass', '300', 'lowpass', '3400'], tmpDir });
        // Half of the held-out clips come alone (voice only), half with their transcript as typed text;
        // in training, two readings in four carry their transcript.
        const audioOnly = split === 'train' ? k % 2 === 1 : (intentIndex + phraseIndex + k) % 2 === 0;
        const row: Row = { id: `v${String(clipId).padStart(4, '0')}`, audio: file, label, lang, voice: v.voice, speedWpm: v.speedWpm };
        if (!audioOnly) row.text = phrase;
        splits[split].push(row);
      });
    });
  });
  rmSync(tmpDir, { recursive: true, force: true });

  for (const split of ['train', 'valid', 'test'] as const) {
    // Field order: id, text, audio, label, then metadata.
    const lines = rng.fork(`order-${split}`).shuffle(splits[split]).map((r) => JSON.stringify({
      id: r.id, text: r.text, audio: r.audio, label: r.label, lang: r.lang, voice: r.voice, speedWpm: r.speedWpm,
    }));
    writeFileSync(path.join(DATA, `${split}.jsonl`), `${lines.join('\n')}\n`);
    const rows = splits[split];
    console.log(`${split}: ${rows.length} samples (${rows.filter((r) => r.text && !r.audio).length} text only, ` +
      `${rows.filter((r) => r.audio && !r.text).length} voice only, ${rows.filter((r) => r.audio && r.text).length} both)`);
  }
  const bytes = readdirSync(CLIPS).reduce((n, f) => n + statSync(path.join(CLIPS, f)).size, 0);
  console.log(`${clipId} clips, ${(bytes / 1e6).toFixed(2)} MB, intents: ${intentNames.length}`);
}

main();
