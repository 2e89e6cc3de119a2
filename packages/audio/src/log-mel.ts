import { ConfigError, checkNumber } from '@mmfuse/core/base';
import { checkSamples } from './internal/check.js';
import { resolveMelSpectrogram } from './internal/options.js';
import { simdLogMel } from './internal/log-mel-simd.js';
import { stftPlan } from './internal/stft.js';
import { melBank } from './internal/mel-bank.js';
import type { FeatureMatrix, MelSpectrogramOptions, Samples } from './types.js';

/** Options of `logMel`: the mel spectrogram's, with the defaults of the encoder and the benchmark. */
export interface LogMelOptions extends MelSpectrogramOptions {
  /** Added before the natural log so silence stays finite. Default 1e-6. */
  offset?: number;
}

/**
 * Log-mel features ln(mel + offset), fused in one pass per frame (window, FFT, power, mel projection, log).
 * Defaults: nFft 400, winLength 400, hopLength 160, nMels 64, HTK scale, no filter normalization,
 * fMin 0, fMax floor(sampleRateHz / 2), offset 1e-6 (the definition of BENCHMARK-SPEC.md).
 * @returns `[frames, nMels]` frame by frame.
 */
function resolveLogMel(options: LogMelOptions) {
  if (options === null || typeof options !== 'object') throw new ConfigError('options with at least sampleRateHz are required', { path: 'options' });
  const { stft, mel } = resolveMelSpectrogram({ nFft: 400, hopLength: 160, nMels: 64, ...options });
  const offset = checkNumber(options.offset ?? 1e-6, 'offset', 0, Number.POSITIVE_INFINITY, true);
  const plan = stftPlan(stft);
  const built = melBank(mel);
  // The fused WebAssembly SIMD kernel, when it can be built here for these options (power 2 and an FFT
  // size of radix 2/3/4/5); otherwise the JS path.
  const kernel = stft.power !== 2 ? undefined : simdLogMel(
    `${stft.nFft}|${stft.winLength}|${stft.hopLength}|${stft.normalized}|${mel.sampleRateHz}|${mel.nMels}|${mel.fMin}|${mel.fMax}|${mel.melScale}|${mel.norm}|${offset}`,
    () => ({
      nFft: stft.nFft, hopLength: stft.hopLength, window: plan.window, nMels: mel.nMels,
      binStart: built.byBin.binStart, binFilter: built.byBin.binFilter, binWeight: built.byBin.binWeight.map((w) => w * plan.powerScale), offset,
    }),
  );
  return { stft, mel, offset, plan, built, kernel };
}

/**
 * Which implementation `logMel` runs for these options: `simd`, the fused WebAssembly SIMD kernel, or
 * `js`, the portable path (same numbers, slower). For diagnostics and tests; checks the options as `logMel`.
 */
export function logMelImplementation(options: LogMelOptions): 'simd' | 'js' {
  return resolveLogMel(options).kernel === undefined ? 'js' : 'simd';
}

export function logMel(samples: Samples, options: LogMelOptions): FeatureMatrix {
  const { stft, mel, offset, plan, built, kernel } = resolveLogMel(options);
  checkSamples(samples);
  const frames = plan.frameCount(samples.length);
  const nMels = mel.nMels;
  const data = new Float32Array(frames * nMels);
  {
    if (kernel !== undefined) {
      const n = samples.length;
      const pad = stft.center ? Math.floor(stft.nFft / 2) : 0;
      const mode = stft.padMode;
      // j is an index outside [0, n): its value under the pad mode
      const outside = (j: number): number => {
        if (mode === 'constant') return 0;
        if (mode === 'reflect') return samples[j < 0 ? -j : 2 * n - 2 - j] as number;
        if (mode === 'replicate') return samples[j < 0 ? 0 : n - 1] as number;
        return samples[((j % n) + n) % n] as number;
      };
      const fill = (sig: Float32Array): void => {
        sig.set(samples, pad);
        for (let k = 0; k < pad; k++) {
          sig[k] = outside(k - pad);
          sig[n + pad + k] = outside(n + k);
        }
      };
      kernel.logMel(fill, n + 2 * pad, frames, data);
      return { data, frames, bins: nMels };
    }
  }
  const melA = new Float64Array(nMels);
  const melB = new Float64Array(nMels);
  let t = 0;
  if (stft.power === 2) {
    // two frames per complex FFT, mel weights applied while splitting the spectra
    for (; t + 1 < frames; t += 2) {
      plan.melFramePair(samples, t, built.byBin, melA, melB);
      const o = t * nMels;
      for (let m = 0; m < nMels; m++) {
        data[o + m] = Math.log((melA[m] as number) + offset);
        data[o + nMels + m] = Math.log((melB[m] as number) + offset);
      }
    }
  }
  const spec = new Float64Array(plan.bins);
  for (; t < frames; t++) {
    plan.powerFrame(samples, t, spec);
    built.sparse.apply(spec, 0, melA, 0);
    for (let m = 0; m < nMels; m++) data[t * nMels + m] = Math.log((melA[m] as number) + offset);
  }
  return { data, frames, bins: nMels };
}
