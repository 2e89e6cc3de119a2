/** Option checks shared by the speech functions. */
import { ConfigError } from '@mmfuse/core';
import { checkNumber } from '@mmfuse/core/base';
import type { EngineName, VoiceSettings } from '../types.js';

export const ENGINE_NAMES: readonly EngineName[] = ['espeak-ng', 'flite'];

export function checkText(text: unknown, what: string): string {
  if (typeof text !== 'string') throw new ConfigError(`${what}: text must be a string, got ${typeof text}`, { path: 'text' });
  if (text.trim() === '') throw new ConfigError(`${what}: text is empty`, { path: 'text' });
  return text;
}

/** Voice settings with defaults filled in and ranges checked. */
export function resolveSettings(s: VoiceSettings): Required<VoiceSettings> {
  if (s === null || typeof s !== 'object') throw new ConfigError('voice settings must be an object { engine, voice, rate?, pitch? }', { path: 'voice' });
  if (!ENGINE_NAMES.includes(s.engine)) throw new ConfigError(`must be one of ${ENGINE_NAMES.join(', ')}, got ${JSON.stringify(s.engine)}`, { path: 'voice.engine' });
  if (typeof s.voice !== 'string' || !/^[A-Za-z0-9_+-]+$/.test(s.voice)) throw new ConfigError(`must be a voice name (letters, digits, _ + -), got ${JSON.stringify(s.voice)}`, { path: 'voice.voice' });
  const rate = s.rate ?? 1;
  const pitch = s.pitch ?? 1;
  if (typeof rate !== 'number' || !(rate >= 0.5 && rate <= 2)) throw new ConfigError(`must be a number in 0.5..2, got ${String(rate)}`, { path: 'voice.rate' });
  if (typeof pitch !== 'number' || !(pitch >= 0.5 && pitch <= 1.9)) throw new ConfigError(`must be a number in 0.5..1.9, got ${String(pitch)}`, { path: 'voice.pitch' });
  return { engine: s.engine, voice: s.voice, rate, pitch };
}

/**
 * A decoder option: a finite number ≥ 0 (> 0 with `positive`; also Infinity with `infinite`), `fallback` when
 * absent. @throws ConfigError naming the option.
 */
export function decoderOption(value: number | undefined, fallback: number, path: string, o: { positive?: boolean; infinite?: boolean } = {}): number {
  const v = value ?? fallback;
  if (o.infinite === true && v === Number.POSITIVE_INFINITY) return v;
  return checkNumber(v, path, 0, Number.POSITIVE_INFINITY, o.positive === true);
}
