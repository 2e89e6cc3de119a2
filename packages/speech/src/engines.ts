/** The engine registry: one instance of each engine, looked up by name. */
import { ConfigError } from '@mmfuse/core';
import { EspeakNgEngine } from './espeak-ng.js';
import { FliteEngine } from './flite.js';
import { ENGINE_NAMES } from './internal/check.js';
import type { EngineName, SpeechEngine, VoiceInfo } from './types.js';

const instances = new Map<EngineName, SpeechEngine>();

/** The engine called `name` (`flite` is built in; `espeak-ng` runs the installed program). */
export function getEngine(name: EngineName): SpeechEngine {
  if (!ENGINE_NAMES.includes(name)) throw new ConfigError(`unknown speech engine ${JSON.stringify(name)}; engines: ${ENGINE_NAMES.join(', ')}`, { path: 'engine' });
  let e = instances.get(name);
  if (e === undefined) {
    e = name === 'flite' ? new FliteEngine() : new EspeakNgEngine();
    instances.set(name, e);
  }
  return e;
}

/** Every voice of the given engines (default: all). */
export function listVoices(engines: readonly EngineName[] = ENGINE_NAMES): VoiceInfo[] {
  return engines.flatMap((n) => getEngine(n).voices());
}
