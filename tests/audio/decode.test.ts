/**
 * WAV decoding: every supported encoding (checked against wavefile's own decoder), channel downmix,
 * resampling on the fly, the speech fixture, each kind of bad input, and bounded memory on a 10-minute file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError, LimitExceededError, UnsupportedFormatError, isMmfuseError } from '@mmfuse/core';
import { decodeWav, decodeWavFile, resample, spectrogram } from '@mmfuse/audio';
import * as wavefileModule from 'wavefile';
import { loadSignal, vectorsDir } from './helpers.js';
import { float32Bytes, pcm16, rawWav, sine } from './wav-writer.js';

type WaveFileLike = {
  fromScratch(channels: number, rate: number, bitDepth: string, samples: ArrayLike<number> | ArrayLike<number>[]): void;
  fromBuffer(bytes: Uint8Array): void;
  toBuffer(): Uint8Array;
  toMuLaw(): void;
  toALaw(): void;
  toRIFX(): void;
  fromMuLaw(bits?: string): void;
  fromALaw(bits?: string): void;
  getSamples(interleaved?: boolean, ctor?: unknown): Float64Array | Float64Array[];
};
const WaveFile = ((wavefileModule as unknown as { WaveFile?: new () => WaveFileLike }).WaveFile ??
  (wavefileModule as unknown as { default: { WaveFile: new () => WaveFileLike } }).default.WaveFile);

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-audio-decode-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function scaled(signal: Float32Array, bits: number): number[] {
  const full = 2 ** (bits - 1);
  return Array.from(signal, (x) => (bits === 8 ? Math.round(x * 127) + 128 : Math.round(x * (full - 1))));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function expectError(fn: () => unknown, cls: abstract new (...args: never[]) => Error, pattern: RegExp): void {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught, `expected ${cls.name}`).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(pattern);
}

describe('decodeWav: formats', () => {
  const tone = sine(440, 8000, 0.25, 0.6);

  for (const bits of [8, 16, 24, 32]) {
    it(`PCM ${bits}-bit matches wavefile's decoded integers scaled by 2^(bits-1)`, () => {
      const wav = new WaveFile();
      wav.fromScratch(1, 8000, String(bits), scaled(tone, bits));
      const out = decodeWav(wav.toBuffer());
      expect(out.encoding).toBe('pcm');
      expect(out.bitsPerSample).toBe(bits);
      expect(out.sampleRateHz).toBe(8000);
      const ref = wav.getSamples(false, Float64Array) as Float64Array;
      const expected = Array.from(ref, (v) => (bits === 8 ? (v - 128) / 128 : v / 2 ** (bits - 1)));
      expect(maxDiff(out.channels[0] as Float32Array, expected)).toBeLessThan(1e-7);
      // and the tone itself survives to within the format's quantization step
      expect(maxDiff(out.channels[0] as Float32Array, tone)).toBeLessThan(bits === 8 ? 0.01 : 1e-4);
    });
  }

  for (const depth of ['32f', '64']) {
    it(`IEEE float ${depth} stereo: channels kept or averaged`, () => {
      const left = sine(300, 11025, 0.2, 0.5);
      const right = sine(700, 11025, 0.2, 0.25);
      const wav = new WaveFile();
      wav.fromScratch(2, 11025, depth, [Array.from(left), Array.from(right)]);
      const bytes = wav.toBuffer();
      const both = decodeWav(bytes, { mono: false });
      expect(both.encoding).toBe('float');
      expect(both.channels.length).toBe(2);
      expect(maxDiff(both.channels[0] as Float32Array, left)).toBeLessThan(1e-7);
      expect(maxDiff(both.channels[1] as Float32Array, right)).toBeLessThan(1e-7);
      const mono = decodeWav(bytes);
      expect(mono.channels.length).toBe(1);
      expect(maxDiff(mono.channels[0] as Float32Array, left.map((v, i) => (v + (right[i] as number)) / 2))).toBeLessThan(1e-7);
    });
  }

  for (const law of ['mu-law', 'A-law'] as const) {
    it(`${law}: G.711 expansion equals wavefile's and stays within the codec's error`, () => {
      const wav = new WaveFile();
      wav.fromScratch(1, 8000, '16', scaled(tone, 16));
      if (law === 'mu-law') wav.toMuLaw(); else wav.toALaw();
      const bytes = wav.toBuffer();
      const out = decodeWav(bytes);
      expect(out.encoding).toBe(law === 'mu-law' ? 'mulaw' : 'alaw');
      expect(out.bitsPerSample).toBe(8);
      const ref = new WaveFile();
      ref.fromBuffer(bytes);
      if (law === 'mu-law') ref.fromMuLaw('16'); else ref.fromALaw('16');
      const expected = Array.from(ref.getSamples(false, Float64Array) as Float64Array, (v) => v / 32768);
      expect(maxDiff(out.channels[0] as Float32Array, expected)).toBeLessThan(1e-7);
      // logarithmic quantization: error under ~3 % of full scale near the peaks
      expect(maxDiff(out.channels[0] as Float32Array, tone)).toBeLessThan(0.03);
    });
  }

  it('stereo 44.1 kHz decodes to mono 16 kHz through the streaming resampler, in small blocks', () => {
    const left = sine(1000, 44100, 0.5, 0.4);
    const right = sine(1000, 44100, 0.5, 0.4, 0.3);
    const bytes = rawWav({ channels: 2, sampleRate: 44100, bitsPerSample: 16, data: pcm16([left, right]) });
    const out = decodeWav(bytes, { sampleRateHz: 16000, blockFrames: 1000 });
    expect(out.sampleRateHz).toBe(16000);
    expect(out.sourceSampleRateHz).toBe(44100);
    expect(out.sourceChannels).toBe(2);
    expect(out.channels[0]?.length).toBe(Math.ceil((22050 * 16000) / 44100));
    // block-wise decoding equals resampling the whole downmix at once
    const whole = decodeWav(bytes);
    const once = resample(whole.channels[0] as Float32Array, 44100, 16000);
    expect(maxDiff(out.channels[0] as Float32Array, once)).toBeLessThan(1e-6);
    // and the tone is still at 1 kHz: bin 1000 / (16000 / 400) = 25
    const spec = spectrogram(out.channels[0] as Float32Array, { nFft: 400, hopLength: 160 });
    const mid = Math.floor(spec.frames / 2) * spec.bins;
    let best = 0;
    for (let b = 1; b < spec.bins; b++) if ((spec.data[mid + b] as number) > (spec.data[mid + best] as number)) best = b;
    expect(best).toBe(25);
  });

  it('RIFX (big-endian) and WAVE_FORMAT_EXTENSIBLE multichannel files decode', () => {
    const chans = [sine(200, 16000, 0.1, 0.3), sine(400, 16000, 0.1, 0.3), sine(800, 16000, 0.1, 0.3), sine(1600, 16000, 0.1, 0.3), sine(50, 16000, 0.1, 0.3), sine(3000, 16000, 0.1, 0.3)];
    const wav = new WaveFile();
    wav.fromScratch(6, 16000, '24', chans.map((c) => scaled(c, 24)));
    const ext = decodeWav(wav.toBuffer(), { mono: false });
    expect(ext.channels.length).toBe(6);
    chans.forEach((c, i) => expect(maxDiff(ext.channels[i] as Float32Array, c)).toBeLessThan(1e-6));
    const be = new WaveFile();
    be.fromScratch(1, 16000, '16', scaled(chans[0] as Float32Array, 16));
    const le = decodeWav(be.toBuffer());
    be.toRIFX();
    const bytes = be.toBuffer();
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('RIFX');
    expect(maxDiff(decodeWav(bytes).channels[0] as Float32Array, le.channels[0] as Float32Array)).toBe(0);
  });

  it('the espeak-ng fixture decodes to the int16 samples of its JSON twin', () => {
    const out = decodeWavFile(path.join(vectorsDir, 'audio_speech_input.wav'));
    const ref = loadSignal('audio_speech_input.json');
    expect(out.sampleRateHz).toBe(22050);
    expect(maxDiff(out.channels[0] as Float32Array, ref.samples)).toBe(0);
  });

  it('reads Buffers that are views into a larger pool (byteOffset > 0)', () => {
    const wav = rawWav({ sampleRate: 8000, data: pcm16([sine(500, 8000, 0.01)]) });
    const pool = new Uint8Array(wav.length + 13);
    pool.set(wav, 13);
    const view = Buffer.from(pool.buffer, 13, wav.length);
    expect(view.byteOffset).toBe(13);
    expect(maxDiff(decodeWav(view).channels[0] as Float32Array, decodeWav(wav).channels[0] as Float32Array)).toBe(0);
  });

  it('skips unknown chunks and odd-sized chunk padding', () => {
    const data = pcm16([sine(500, 8000, 0.05)]);
    const plain = decodeWav(rawWav({ sampleRate: 8000, data }));
    const withJunk = decodeWav(rawWav({ sampleRate: 8000, data, extraChunks: [{ id: 'LIST', body: new Uint8Array(7).fill(65) }, { id: 'junk', body: new Uint8Array(4) }] }));
    expect(maxDiff(withJunk.channels[0] as Float32Array, plain.channels[0] as Float32Array)).toBe(0);
  });
});

describe('decodeWav: bad input is refused with a typed error', () => {
  const good = rawWav({ sampleRate: 8000, data: pcm16([sine(500, 8000, 0.1)]) });

  it('zero-byte data', () => {
    expectError(() => decodeWav(new Uint8Array(0)), InvalidInputError, /empty \(0 bytes\)/);
  });

  it('a file cut short (RIFF size larger than the bytes that exist)', () => {
    expectError(() => decodeWav(good.subarray(0, 300)), InvalidInputError, /truncated WAV file: the RIFF header claims 1644 bytes but there are only 300/);
    expectError(() => decodeWav(good.subarray(0, 8)), InvalidInputError, /truncated/);
  });

  it('a data chunk that claims more bytes than exist', () => {
    const data = pcm16([sine(500, 8000, 0.1)]);
    expectError(() => decodeWav(rawWav({ data, dataSize: data.length + 1000 })), InvalidInputError, /chunk "data" at byte 36 claims 2600 bytes but only 1600 follow/);
  });

  it('a data chunk that is not a whole number of frames', () => {
    expectError(() => decodeWav(rawWav({ data: new Uint8Array(7) })), InvalidInputError, /not a whole number of 2-byte frames/);
  });

  it('zero channels, a zero sample rate, a wrong block align', () => {
    expectError(() => decodeWav(rawWav({ channels: 0, blockAlign: 0, data: new Uint8Array(4) })), InvalidInputError, /zero channels/);
    expectError(() => decodeWav(rawWav({ sampleRate: 0, data: new Uint8Array(4) })), InvalidInputError, /sample rate of 0 Hz/);
    expectError(() => decodeWav(rawWav({ channels: 2, blockAlign: 2, data: new Uint8Array(8) })), InvalidInputError, /block align is 2 bytes but 2 channel\(s\) of 16 bits need 4/);
  });

  it('non-WAV data, and other formats named', () => {
    expectError(() => decodeWav(new TextEncoder().encode('hello, this is not audio at all')), InvalidInputError, /not a WAV file: it starts with "hell"/);
    expectError(() => decodeWav(Uint8Array.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0])), UnsupportedFormatError, /MP3, not RIFF\/WAVE/);
    const notWave = good.slice();
    notWave.set([0x41, 0x56, 0x49, 0x20], 8); // AVI
    expectError(() => decodeWav(notWave), InvalidInputError, /form type is "AVI " instead of "WAVE"/);
  });

  it('missing fmt or data chunks and unsupported codecs', () => {
    expectError(() => decodeWav(rawWav({ data: new Uint8Array(4), omitFmt: true })), InvalidInputError, /no "fmt " chunk/);
    expectError(() => decodeWav(rawWav({ data: new Uint8Array(4), omitData: true })), InvalidInputError, /no "data" chunk/);
    expectError(() => decodeWav(rawWav({ formatTag: 2, bitsPerSample: 4, blockAlign: 1, data: new Uint8Array(4) })), UnsupportedFormatError, /Microsoft ADPCM is not supported/);
    expectError(() => decodeWav(rawWav({ bitsPerSample: 12, blockAlign: 2, data: new Uint8Array(4) })), UnsupportedFormatError, /PCM with 12 bits/);
  });

  it('NaN and Infinity samples in float files, with their position', () => {
    const x = sine(100, 8000, 0.1);
    x[123] = Number.NaN;
    expectError(() => decodeWav(rawWav({ formatTag: 3, bitsPerSample: 32, sampleRate: 8000, data: float32Bytes([x]) })), InvalidInputError, /sample 123 of channel 0 \(at 0\.015 s\) is NaN/);
    const y = sine(100, 8000, 0.1);
    y[7] = Number.POSITIVE_INFINITY;
    expectError(() => decodeWav(rawWav({ formatTag: 3, bitsPerSample: 32, channels: 2, data: float32Bytes([sine(1, 8000, 0.1), y]) })), InvalidInputError, /sample 7 of channel 1 .* is Infinity/);
  });

  it('durations over the configured cap, before decoding', () => {
    const long = rawWav({ sampleRate: 8000, data: new Uint8Array(8000 * 2 * 3) });
    expectError(() => decodeWav(long, { maxDurationSeconds: 2.5 }), LimitExceededError, /lasts 3\.00 s, over the limit of 2\.5 s/);
    expect(decodeWav(long, { maxDurationSeconds: 3 }).channels[0]?.length).toBe(24000);
  });

  it('a missing file names the path', () => {
    const missing = path.join(tmp, 'nope.wav');
    let caught: unknown;
    try { decodeWavFile(missing); } catch (err) { caught = err; }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect(isMmfuseError(caught) && caught.file).toBe(missing);
    // a truncated file on disk names the file too
    const cut = path.join(tmp, 'cut.wav');
    writeFileSync(cut, good.subarray(0, 100));
    expectError(() => decodeWavFile(cut), InvalidInputError, new RegExp(`${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated`));
  });
});

describe('decodeWavFile: long files', () => {
  it('decodes 10 minutes of 44.1 kHz stereo to 16 kHz mono with peak memory far below the file size', () => {
    const seconds = 600;
    const rate = 44100;
    const frames = seconds * rate;
    const header = rawWav({ channels: 2, sampleRate: rate, data: new Uint8Array(0), dataSize: frames * 4, riffSize: 36 + frames * 4 });
    const file = new Uint8Array(header.length + frames * 4);
    file.set(header, 0);
    // interleaved int16 (the platform is little-endian, as WAV)
    const pcm = new Int16Array(file.buffer, header.length, frames * 2);
    for (let i = 0; i < frames; i++) {
      const s = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
      pcm[2 * i] = s;
      pcm[2 * i + 1] = s;
    }
    const wavPath = path.join(tmp, 'long.wav');
    writeFileSync(wavPath, file);
    const run = (mode: string) => JSON.parse(execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(here, 'decode-memory.child.ts'), wavPath, '16000', mode], { encoding: 'utf8', cwd: path.resolve(here, '../..') })) as {
      peakGrowthBytes: number; outputBytes: number; length: number; durationSeconds: number; meanSquare: number; seconds: number;
    };
    const streamed = run('stream');
    expect(streamed.durationSeconds).toBe(600);
    expect(streamed.length).toBe(600 * 16000);
    // a sine of amplitude 8000/32768 has mean square a^2/2
    expect(streamed.meanSquare).toBeCloseTo((8000 / 32768) ** 2 / 2, 3);
    // Control: the same measurement on a whole-file read sees the 101 MiB copy.
    const whole = run('whole-file');
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(`[audio] 10-min decode in ${streamed.seconds.toFixed(1)} s: file ${mib(file.length)} MiB, output ${mib(streamed.outputBytes)} MiB, peak RSS growth ${mib(streamed.peakGrowthBytes)} MiB streamed vs ${mib(whole.peakGrowthBytes)} MiB reading the whole file`);
    expect(whole.peakGrowthBytes).toBeGreaterThan(streamed.peakGrowthBytes + file.length * 0.5);
    // Output (37 MiB) plus bounded working memory.
    expect(streamed.peakGrowthBytes).toBeLessThan(streamed.outputBytes + 24 * 2 ** 20);
  });
});
