/**
 * Voice ids and voice sets: `engine:voice[,rate=R][,pitch=P]` names one way of speaking, so training and
 * held-out voice sets can be written down, saved with a corpus and compared.
 */
import { ConfigError, createRng, hashString } from '@mmfuse/core';
import { listVoices } from './engines.js';
import { ENGINE_NAMES, resolveSettings } from './internal/check.js';
import type { EngineName, VoiceSettings } from './types.js';

/** The id of a voice setting, e.g. `espeak-ng:en-gb+f3,rate=1.2` (rate/pitch written only when not 1). */
export function voiceId(settings: VoiceSettings): string {
  const s = resolveSettings(settings);
  return `${s.engine}:${s.voice}${s.rate !== 1 ? `,rate=${s.rate}` : ''}${s.pitch !== 1 ? `,pitch=${s.pitch}` : ''}`;
}

/** Parse `engine:voice[,rate=R][,pitch=P]`. @throws ConfigError naming the id. */
export function parseVoiceId(id: string): Required<VoiceSettings> {
  const m = /^([a-z-]+):([A-Za-z0-9_+-]+)((?:,(?:rate|pitch)=[0-9.]+)*)$/.exec(typeof id === 'string' ? id.trim() : '');
  if (m === null) throw new ConfigError(`voice id ${JSON.stringify(id)} must look like "flite:slt" or "espeak-ng:en-gb+f3,rate=1.1,pitch=0.9"`, { path: 'voices' });
  const engine = m[1] as EngineName;
  if (!ENGINE_NAMES.includes(engine)) throw new ConfigError(`voice id ${JSON.stringify(id)}: unknown engine "${engine}"; engines: ${ENGINE_NAMES.join(', ')}`, { path: 'voices' });
  const settings: VoiceSettings = { engine, voice: m[2] as string };
  for (const part of (m[3] ?? '').split(',').filter((p) => p !== '')) {
    const [k, v] = part.split('=') as [string, string];
    const n = Number(v);
    if (k === 'rate') settings.rate = n;
    else settings.pitch = n;
  }
  return resolveSettings(settings);
}

/** Options of `voiceGrid`. */
export interface VoiceGridOptions {
  /** Engines whose voices are used. Default both. */
  engines?: readonly EngineName[];
  /** Engine voice names to keep (e.g. `slt`, `en-gb+f3`); default every voice of the engines. */
  voices?: readonly string[];
  /** Rate factors. Default [0.85, 1, 1.15]. */
  rates?: readonly number[];
  /** Pitch factors. Default [0.9, 1, 1.1]. */
  pitches?: readonly number[];
}

/** Every (voice, rate, pitch) combination, in a stable order. */
export function voiceGrid(options: VoiceGridOptions = {}): Required<VoiceSettings>[] {
  const engines = options.engines ?? ENGINE_NAMES;
  let voices = listVoices(engines);
  if (options.voices !== undefined) {
    const wanted = new Set(options.voices);
    voices = voices.filter((v) => wanted.has(v.voice));
    const missing = [...wanted].filter((w) => !voices.some((v) => v.voice === w));
    if (missing.length > 0) throw new ConfigError(`no engine among ${engines.join(', ')} has the voice(s) ${missing.join(', ')}`, { path: 'voices' });
  }
  const rates = options.rates ?? [0.85, 1, 1.15];
  const pitches = options.pitches ?? [0.9, 1, 1.1];
  const out: Required<VoiceSettings>[] = [];
  for (const v of voices) for (const rate of rates) for (const pitch of pitches) out.push(resolveSettings({ engine: v.engine, voice: v.voice, rate, pitch }));
  return out;
}

/** Options of `splitVoices`. */
export interface SplitVoicesOptions {
  /** Fraction of the engine voices held out (at least one per engine when the engine has two or more). Default 0.2. */
  heldOutFraction?: number;
  /** Seed of the choice. Default 0. */
  seed?: number;
}

/**
 * Split voice settings into a training set and a held-out set by *engine voice*: every rate/pitch of a
 * held-out voice is held out, so a held-out evaluation hears a speaker never heard in training.
 */
export function splitVoices(settings: readonly VoiceSettings[], options: SplitVoicesOptions = {}): { train: Required<VoiceSettings>[]; heldOut: Required<VoiceSettings>[] } {
  const fraction = options.heldOutFraction ?? 0.2;
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) throw new ConfigError(`must be in (0, 1), got ${String(fraction)}`, { path: 'heldOutFraction' });
  const resolved = settings.map(resolveSettings);
  const held = new Set<string>();
  for (const engine of ENGINE_NAMES) {
    const names = [...new Set(resolved.filter((s) => s.engine === engine).map((s) => s.voice))].sort();
    if (names.length < 2) continue;
    const rng = createRng(hashString(engine, options.seed ?? 0));
    const k = Math.max(1, Math.round(names.length * fraction));
    for (const i of rng.permutation(names.length).slice(0, k)) held.add(`${engine}:${names[i] as string}`);
  }
  const isHeld = (s: Required<VoiceSettings>): boolean => held.has(`${s.engine}:${s.voice}`);
  return { train: resolved.filter((s) => !isHeld(s)), heldOut: resolved.filter(isHeld) };
}
