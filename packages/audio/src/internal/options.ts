/** Resolution of the option objects shared by several DSP functions (defaults as torchaudio's). */
import { ConfigError, checkBoolean, checkInteger, checkNumber, checkOneOf } from '@mmfuse/core/base';
import type { MelFilterBankOptions, MelNorm, MelScale, MelSpectrogramOptions, PadMode, SpectrogramOptions } from '../types.js';
import type { StftParams } from './stft.js';

export function resolveStft(options: SpectrogramOptions = {}): StftParams {
  const nFft = checkInteger(options.nFft ?? 400, 'nFft', 1);
  const winLength = checkInteger(options.winLength ?? nFft, 'winLength', 1);
  if (winLength > nFft) throw new ConfigError(`must be <= nFft (${nFft}), got ${winLength}`, { path: 'winLength' });
  const hopLength = checkInteger(options.hopLength ?? Math.max(1, Math.floor(winLength / 2)), 'hopLength', 1);
  const center = checkBoolean(options.center ?? true, 'center');
  const padMode = checkOneOf<PadMode>(options.padMode ?? 'reflect', 'padMode', ['reflect', 'constant', 'replicate', 'circular']);
  const power = checkNumber(options.power ?? 2, 'power', 0, Number.POSITIVE_INFINITY, true);
  const normalized = checkBoolean(options.normalized ?? false, 'normalized');
  return { nFft, winLength, hopLength, center, padMode, power, normalized };
}

export interface MelParams {
  nFreqs: number;
  sampleRateHz: number;
  nMels: number;
  fMin: number;
  fMax: number;
  melScale: MelScale;
  norm: MelNorm;
}

export function resolveMel(options: Omit<MelFilterBankOptions, 'nFreqs'> & { nFreqs?: number }, nFreqs: number): MelParams {
  const sampleRateHz = checkNumber(options.sampleRateHz, 'sampleRateHz', 0, Number.POSITIVE_INFINITY, true);
  const nMels = checkInteger(options.nMels ?? 128, 'nMels', 1);
  const nyquist = sampleRateHz / 2;
  const fMin = checkNumber(options.fMin ?? 0, 'fMin', 0, nyquist);
  // torchaudio's MelSpectrogram default: float(sample_rate // 2)
  const fMax = checkNumber(options.fMax ?? Math.floor(sampleRateHz / 2), 'fMax', 0, nyquist);
  if (!(fMax > fMin)) throw new ConfigError(`must be greater than fMin (${fMin}), got ${fMax}`, { path: 'fMax' });
  const melScale = checkOneOf<MelScale>(options.melScale ?? 'htk', 'melScale', ['htk', 'slaney']);
  const norm = checkOneOf<MelNorm>(options.norm ?? null, 'norm', ['slaney', null]);
  return { nFreqs: checkInteger(nFreqs, 'nFreqs', 2), sampleRateHz, nMels, fMin, fMax, melScale, norm };
}

export function resolveMelSpectrogram(options: MelSpectrogramOptions): { stft: StftParams; mel: MelParams } {
  if (options === null || typeof options !== 'object') throw new ConfigError('options with at least sampleRateHz are required', { path: 'options' });
  const stft = resolveStft(options);
  return { stft, mel: resolveMel(options, Math.floor(stft.nFft / 2) + 1) };
}
