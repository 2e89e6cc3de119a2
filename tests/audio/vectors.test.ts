/**
 * Every audio reference vector of tests/fixtures/vectors (torchaudio 0.13.1) against @mmfuse/audio, at the
 * README's tolerance max(1e-4 * max|output|, 2 * float64_max_abs_diff).
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { amplitudeToDb, fbank, melFilterBank, melSpectrogram, mfcc, resample, spectrogram } from '@mmfuse/audio';
import type { MelNorm, MelScale } from '@mmfuse/audio';
import { compare, loadSignal, loadVector, transpose, vectorsDir } from './helpers.js';
import type { StoredTensor } from './helpers.js';

interface Case { id: string; params: Record<string, unknown>; float64_max_abs_diff: number; output: StoredTensor }
interface VectorFile { input_file?: string; cases: Case[] }

const signals = ['chirp', 'noise', 'speech'] as const;
const checked = new Set<string>();

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, f64: number, label: string): void {
  const r = compare(actual, expected, f64);
  expect(r.maxDiff, `${label}: max diff ${r.maxDiff} at ${r.at} (tolerance ${r.tolerance})`).toBeLessThanOrEqual(r.tolerance);
}

function melOptions(p: Record<string, unknown>, sampleRate: number) {
  return {
    sampleRateHz: sampleRate,
    nFft: p.n_fft as number,
    winLength: p.win_length as number,
    hopLength: p.hop_length as number,
    fMin: p.f_min as number,
    fMax: p.f_max as number,
    nMels: p.n_mels as number,
    melScale: p.mel_scale as MelScale,
    norm: (p.norm ?? null) as MelNorm,
  };
}

describe('torchaudio reference vectors', () => {
  for (const signal of signals) {
    it(`spectrogram (${signal})`, () => {
      const file = `audio_${signal}_spectrogram.json`;
      const v = loadVector<VectorFile>(file);
      const { samples } = loadSignal(v.input_file as string);
      for (const c of v.cases) {
        const p = c.params;
        const out = spectrogram(samples, { nFft: p.n_fft as number, winLength: p.win_length as number, hopLength: p.hop_length as number, power: p.power as number, center: p.center as boolean, padMode: p.pad_mode as 'reflect', normalized: p.normalized as boolean });
        const [bins, frames] = c.output.shape as [number, number];
        expect([out.frames, out.bins]).toEqual([frames, bins]);
        expectClose(out.data, transpose(c.output.data, bins, frames), c.float64_max_abs_diff, `${file} ${c.id}`);
      }
      checked.add(file);
    });

    it(`melSpectrogram (${signal})`, () => {
      const file = `audio_${signal}_melspectrogram.json`;
      const v = loadVector<VectorFile & { sample_rate: number }>(file);
      const { samples } = loadSignal(v.input_file as string);
      expect(v.cases.length).toBeGreaterThanOrEqual(4);
      for (const c of v.cases) {
        const out = melSpectrogram(samples, melOptions(c.params, v.sample_rate));
        const [bins, frames] = c.output.shape as [number, number];
        expect([out.frames, out.bins]).toEqual([frames, bins]);
        expectClose(out.data, transpose(c.output.data, bins, frames), c.float64_max_abs_diff, `${file} ${c.id}`);
      }
      checked.add(file);
    });

    it(`amplitudeToDb (${signal})`, () => {
      const file = `audio_${signal}_amplitude_to_db.json`;
      const v = loadVector<{ cases: (Case & { input: { file: string; case: string; field: string } })[] }>(file);
      for (const c of v.cases) {
        const src = loadVector<VectorFile>(c.input.file).cases.find((x) => x.id === c.input.case) as Case;
        const [bins, frames] = src.output.shape as [number, number];
        const input = { data: Float32Array.from(transpose(src.output.data, bins, frames)), frames, bins };
        const topDb = c.params.top_db as number | null;
        const out = amplitudeToDb(input, { stype: c.params.stype as 'power', topDb, amin: c.params.amin as number, ref: c.params.ref_value as number });
        expectClose(out.data, transpose(c.output.data, bins, frames), c.float64_max_abs_diff, `${file} ${c.id}`);
      }
      checked.add(file);
    });

    it(`mfcc (${signal})`, () => {
      const file = `audio_${signal}_mfcc.json`;
      const v = loadVector<VectorFile & { sample_rate: number }>(file);
      const { samples } = loadSignal(v.input_file as string);
      for (const c of v.cases) {
        const p = c.params;
        const out = mfcc(samples, { ...melOptions(p.melkwargs as Record<string, unknown>, p.sample_rate as number), nMfcc: p.n_mfcc as number, logMels: p.log_mels as boolean });
        const [bins, frames] = c.output.shape as [number, number];
        expect([out.frames, out.bins]).toEqual([frames, bins]);
        expectClose(out.data, transpose(c.output.data, bins, frames), c.float64_max_abs_diff, `${file} ${c.id}`);
      }
      checked.add(file);
    });

    it(`fbank (${signal})`, () => {
      const file = `audio_${signal}_kaldi_fbank.json`;
      const v = loadVector<VectorFile>(file);
      const { samples } = loadSignal(v.input_file as string);
      for (const c of v.cases) {
        const p = c.params;
        expect(p.dither).toBe(0);
        const out = fbank(samples, {
          sampleRateHz: p.sample_frequency as number, numMelBins: p.num_mel_bins as number, frameLength: p.frame_length as number,
          frameShift: p.frame_shift as number, preemphasisCoefficient: p.preemphasis_coefficient as number, removeDcOffset: p.remove_dc_offset as boolean,
          windowType: p.window_type as 'povey', blackmanCoeff: p.blackman_coeff as number, roundToPowerOfTwo: p.round_to_power_of_two as boolean,
          snipEdges: p.snip_edges as boolean, lowFreq: p.low_freq as number, highFreq: p.high_freq as number, usePower: p.use_power as boolean,
          useLogFbank: p.use_log_fbank as boolean, subtractMean: p.subtract_mean as boolean,
        });
        const [frames, bins] = c.output.shape as [number, number];
        expect([out.frames, out.bins]).toEqual([frames, bins]);
        expectClose(out.data, c.output.data, c.float64_max_abs_diff, `${file} ${c.id}`);
      }
      checked.add(file);
    });
  }

  for (const signal of ['noise', 'speech']) {
    it(`resample (${signal})`, () => {
      const file = `audio_${signal}_resample.json`;
      const v = loadVector<VectorFile>(file);
      const { samples } = loadSignal(v.input_file as string);
      for (const c of v.cases) {
        expect([c.params.lowpass_filter_width, c.params.rolloff]).toEqual([6, 0.99]);
        const out = resample(samples, c.params.orig_freq as number, c.params.new_freq as number);
        expect(out.length).toBe(c.output.shape[0]);
        expectClose(out, c.output.data, c.float64_max_abs_diff, `${file} ${c.id}`);
      }
      checked.add(file);
    });
  }

  it('melFilterBank (melscale_fbanks.json)', () => {
    const v = loadVector<VectorFile>('melscale_fbanks.json');
    for (const c of v.cases) {
      const p = c.params;
      const fb = melFilterBank({ nFreqs: p.n_freqs as number, sampleRateHz: p.sample_rate as number, fMin: p.f_min as number, fMax: p.f_max as number, nMels: p.n_mels as number, melScale: p.mel_scale as MelScale, norm: (p.norm ?? null) as MelNorm });
      expect([fb.nFreqs, fb.nMels]).toEqual(c.output.shape);
      expectClose(fb.data, c.output.data, c.float64_max_abs_diff, c.id);
    }
    checked.add('melscale_fbanks.json');
  });

  it('the input signals decode as documented and every audio vector file was checked', () => {
    const speech = loadSignal('audio_speech_input.json');
    expect(speech.samples.length).toBe(32218);
    const audioFiles = readdirSync(vectorsDir).filter((f) => (f.startsWith('audio_') || f.startsWith('melscale')) && f.endsWith('.json') && !f.endsWith('_input.json'));
    expect(audioFiles.length).toBe(18);
    for (const f of audioFiles) expect(checked.has(f), `${f} was not checked`).toBe(true);
  });
});
