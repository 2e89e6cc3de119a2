/**
 * Speech synthesis for the example datasets: espeak-ng renders the text, sox converts it to a mono 16-bit
 * WAV at the target rate and applies effects. Both tools are needed only to regenerate data.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SynthesizeOptions {
  /** Text to speak. */
  text: string;
  /** espeak-ng voice: language plus optional variant, e.g. `en-gb+f3`, `cmn`. */
  voice: string;
  /** Speaking rate in words per minute (espeak-ng `-s`). */
  speedWpm: number;
  /** Output WAV path. */
  outFile: string;
  /** Output sample rate. Default 8000 (telephone quality). */
  sampleRateHz?: number;
  /** Extra sox effects after resampling, e.g. `['highpass', '300']`. Default none. */
  effects?: string[];
  /** Trim leading and trailing silence (below 0.5% of full scale for 20 ms). Default `true`. */
  trimSilence?: boolean;
  /** Scratch folder for espeak-ng's output; default a fresh temporary folder. */
  tmpDir?: string;
}

const TRIM = ['silence', '1', '0.02', '0.5%', 'reverse', 'silence', '1', '0.02', '0.5%', 'reverse'];

/** Synthesize one utterance. Throws (with the tool's message) if espeak-ng or sox fails. */
export function synthesize(options: SynthesizeOptions): void {
  const ownTmp = options.tmpDir === undefined;
  const tmpDir = options.tmpDir ?? mkdtempSync(path.join(os.tmpdir(), 'mmfuse-synth-'));
  const raw = path.join(tmpDir, `raw-${process.pid}.wav`);
  try {
    execFileSync('espeak-ng', ['-v', options.voice, '-s', String(options.speedWpm), '-w', raw, options.text], { stdio: ['ignore', 'ignore', 'pipe'] });
    const effects = [...(options.effects ?? []), ...(options.trimSilence === false ? [] : TRIM)];
    execFileSync('sox', ['-D', raw, '-r', String(options.sampleRateHz ?? 8000), '-c', '1', '-b', '16', options.outFile, ...effects], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    if (ownTmp) rmSync(tmpDir, { recursive: true, force: true });
  }
}
