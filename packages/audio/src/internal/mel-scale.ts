/** Hz <-> mel conversions of torchaudio (`htk`, `slaney`) and Kaldi. */
import type { MelScale } from '../types.js';

const SLANEY_F_SP = 200 / 3;
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_F_SP; // 15
const SLANEY_LOGSTEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  if (hz < SLANEY_MIN_LOG_HZ) return hz / SLANEY_F_SP;
  return SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
}

export function melToHz(mel: number, scale: MelScale): number {
  if (scale === 'htk') return 700 * (Math.pow(10, mel / 2595) - 1);
  if (mel < SLANEY_MIN_LOG_MEL) return SLANEY_F_SP * mel;
  return SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
}

/** Kaldi's mel scale: 1127 ln(1 + f/700). */
export function kaldiMel(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}
