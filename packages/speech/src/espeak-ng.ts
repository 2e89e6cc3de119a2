/**
 * eSpeak NG, run as an external program (`espeak-ng`, GPL-3.0: mmfuse never imports or bundles it, it
 * spawns the program the user installed). Formant synthesis with many accents and voice variants, so it
 * adds voices that sound nothing like Flite's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@mmfuse/core';
import { decodeWav } from '@mmfuse/audio';
import { checkText, resolveSettings } from './internal/check.js';
import { runProgram } from './internal/run-program.js';
import { normalizeEspeakIpa } from './phonemes.js';
import type { SpeechEngine, SynthesizedAudio, VoiceInfo, VoiceSettings } from './types.js';

/** English accents of espeak-ng (its `gmw/en*` voices). */
export const ESPEAK_ACCENTS: Readonly<Record<string, string>> = Object.freeze({
  'en-us': 'American English',
  'en-us-nyc': 'American English (New York City)',
  'en-gb': 'British English',
  'en-gb-x-rp': 'British English (Received Pronunciation)',
  'en-gb-scotland': 'Scottish English',
  'en-gb-x-gbclan': 'British English (Lancaster)',
  'en-gb-x-gbcwmd': 'British English (West Midlands)',
  'en-029': 'Caribbean English',
});

/** Voice variants (`+name`) used: the default voice, male m1..m7, female f1..f5 and the Klatt synthesizer. */
export const ESPEAK_VARIANTS: readonly string[] = Object.freeze(['', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3']);

/** espeak-ng's default speaking rate (words per minute) and pitch (0..99). */
const BASE_WPM = 175;
const BASE_PITCH = 50;

export interface EspeakNgOptions {
  /** Program to run. Default `$MMFUSE_ESPEAK_NG` or `espeak-ng` on PATH. */
  program?: string;
}

export class EspeakNgEngine implements SpeechEngine {
  readonly name = 'espeak-ng' as const;
  readonly licence = 'GPL-3.0-or-later (eSpeak NG and its voice data), run as an external program; not bundled';
  readonly program: string;

  constructor(options: EspeakNgOptions = {}) {
    this.program = options.program ?? process.env.MMFUSE_ESPEAK_NG ?? 'espeak-ng';
  }

  voices(): VoiceInfo[] {
    const out: VoiceInfo[] = [];
    for (const [language, accent] of Object.entries(ESPEAK_ACCENTS)) {
      for (const variant of ESPEAK_VARIANTS) {
        const gender = variant.startsWith('f') ? 'female' : variant.startsWith('m') || variant === '' ? 'male' : 'unknown';
        out.push({ engine: 'espeak-ng', voice: variant === '' ? language : `${language}+${variant}`, language, gender, description: `${accent}, ${variant === '' ? 'default' : variant} variant, formant synthesis` });
      }
    }
    return out;
  }

  async checkAvailable(): Promise<void> {
    await runProgram(this.program, ['--version'], '', 'the espeak-ng engine');
  }

  async synthesize(text: string, settings: VoiceSettings): Promise<SynthesizedAudio> {
    checkText(text, 'espeak-ng');
    const s = resolveSettings(settings);
    if (s.engine !== 'espeak-ng') throw new ConfigError(`the espeak-ng engine got settings for "${s.engine}"`, { path: 'voice.engine' });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mmfuse-espeak-'));
    try {
      const file = path.join(dir, 'speech.wav');
      // Text on stdin (-b 1: UTF-8), never as an argument, so a text starting with "-" is spoken, not parsed.
      await runProgram(this.program, ['-v', s.voice, '-s', String(Math.round(BASE_WPM * s.rate)), '-p', String(Math.round(BASE_PITCH * s.pitch)), '-b', '1', '-w', file], text, `espeak-ng voice "${s.voice}"`);
      const decoded = decodeWav(await readFile(file));
      return { samples: decoded.channels[0] as Float32Array, sampleRateHz: decoded.sampleRateHz };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Phonemes of `text` in the mmfuse inventory, from `espeak-ng -q --ipa` in `language` (default `en-us`). */
  async phonemize(text: string, language = 'en-us'): Promise<string[]> {
    checkText(text, 'espeak-ng phonemizer');
    const { stdout } = await runProgram(this.program, ['-q', '--ipa', '--sep= ', '-b', '1', '-v', language], text, 'the espeak-ng phonemizer');
    return normalizeEspeakIpa(stdout.toString('utf8'), text);
  }
}
