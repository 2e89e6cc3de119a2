import { checkSamples } from './internal/check.js';
import { checkInteger, checkNumber } from '@mmfuse/core/base';
import type { Samples } from './types.js';

/** Options of `trimSilence`. */
export interface TrimSilenceOptions {
  /** Frames quieter than (loudest frame - topDb) dB RMS count as silence. Default 60. */
  topDb?: number;
  /** Frame length in samples for the RMS. Default 400 (25 ms at 16 kHz). */
  frameLength?: number;
  /** Hop between frames in samples. Default 160. */
  hopLength?: number;
}

/** The trimmed signal and where it was cut from. */
export interface TrimmedAudio {
  /** A copy of samples[start, end). Empty when the whole signal is silent. */
  samples: Float32Array;
  start: number;
  end: number;
}

/**
 * Cut leading and trailing silence: frame RMS in dB relative to the loudest frame; everything from the
 * first to the last frame above -topDb is kept (librosa.effects.trim's rule).
 */
export function trimSilence(samples: Samples, options: TrimSilenceOptions = {}): TrimmedAudio {
  const topDb = checkNumber(options.topDb ?? 60, 'topDb', 0, Number.POSITIVE_INFINITY, true);
  const frameLength = checkInteger(options.frameLength ?? 400, 'frameLength', 1);
  const hopLength = checkInteger(options.hopLength ?? 160, 'hopLength', 1);
  checkSamples(samples);
  const n = samples.length;
  const frames = n <= frameLength ? 1 : 1 + Math.ceil((n - frameLength) / hopLength);
  const power = new Float64Array(frames);
  let maxPower = 0;
  for (let f = 0; f < frames; f++) {
    const s0 = f * hopLength;
    const s1 = Math.min(n, s0 + frameLength);
    let acc = 0;
    for (let i = s0; i < s1; i++) acc += (samples[i] as number) ** 2;
    const p = s1 > s0 ? acc / (s1 - s0) : 0;
    power[f] = p;
    if (p > maxPower) maxPower = p;
  }
  if (maxPower === 0) return { samples: new Float32Array(0), start: 0, end: 0 };
  // RMS dB difference = 10 log10(power ratio)
  const threshold = maxPower * Math.pow(10, -topDb / 10);
  let first = -1;
  let last = -1;
  for (let f = 0; f < frames; f++) {
    if ((power[f] as number) > threshold) { if (first < 0) first = f; last = f; }
  }
  const start = first * hopLength;
  const end = Math.min(n, last * hopLength + frameLength);
  return { samples: Float32Array.from(samples.subarray(start, end)), start, end };
}
