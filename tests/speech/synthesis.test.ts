/**
 * @mmfuse/speech with the real engines: Flite (built in, WASI) and espeak-ng (the Debian program, listed in
 * .ci/apt-packages.txt), the phoneme inventory and normalizers, voice ids and sets, corpus synthesis and
 * the `mmfuse synthesize` command.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '@mmfuse/core';
import { decodeWav } from '@mmfuse/audio';
import {
  EspeakNgEngine, PHONEMES, getEngine, listVoices, normalizeArpabet, normalizeEspeakIpa, parseVoiceId, phonemeIds, phonemesOf,
  phonemize, splitVoices, synthesizeCorpus, voiceGrid, voiceId,
} from '@mmfuse/speech';
import { main } from 'mmfuse';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'mmfuse-speech-test-'));

function duration(samples: Float32Array, rate: number): number {
  return samples.length / rate;
}

describe('phoneme inventory', () => {
  it('has the 39 CMU phonemes; ids are 1..39 (0 is the CTC blank) and round-trip', () => {
    expect(PHONEMES).toHaveLength(39);
    expect(new Set(PHONEMES).size).toBe(39);
    const ids = phonemeIds(['hh', 'ah', 'l', 'ow']);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(1);
    expect(phonemesOf(ids)).toEqual(['hh', 'ah', 'l', 'ow']);
    expect(() => phonemeIds(['ax'])).toThrow(InvalidInputError);
    expect(() => phonemesOf([0])).toThrow(InvalidInputError);
  });

  it('normalizes espeak-ng IPA: stress and length dropped, accents and r-coloured vowels mapped', () => {
    expect(normalizeEspeakIpa('h ə l ˈoʊ  w ˈɜː l d')).toEqual(['hh', 'ah', 'l', 'ow', 'w', 'er', 'l', 'd']);
    expect(normalizeEspeakIpa('k ˈɑːɹ d')).toEqual(['k', 'aa', 'r', 'd']);
    expect(normalizeEspeakIpa('h ə l ˈəʊ')).toEqual(['hh', 'ah', 'l', 'ow']); // British
    expect(normalizeEspeakIpa('f ˈɔːɹ ɾ i')).toEqual(['f', 'ao', 'r', 't', 'iy']);
    expect(normalizeEspeakIpa('n ˈɪə')).toEqual(['n', 'ih', 'r']);
    expect(normalizeEspeakIpa('(fr)b ɔ̃(en)')).toEqual(['b', 'ao']);
    expect(() => normalizeEspeakIpa('ʈ ʂ')).toThrow(/does not map/);
  });

  it('normalizes Flite ARPAbet segments: pauses dropped, ax -> ah', () => {
    expect(normalizeArpabet('pau hh ax l ow w er l d pau')).toEqual(['hh', 'ah', 'l', 'ow', 'w', 'er', 'l', 'd']);
    expect(() => normalizeArpabet('hh xx')).toThrow(InvalidInputError);
  });
});

describe('phonemize', () => {
  it('flite (built in) and espeak-ng transcribe the same text to nearly the same phonemes', async () => {
    const text = 'I cannot find my card';
    const flite = await phonemize(text);
    const espeak = await phonemize(text, { phonemizer: 'espeak-ng' });
    expect(flite).toEqual(['ay', 'k', 'ae', 'n', 'aa', 't', 'f', 'ay', 'n', 'd', 'm', 'ay', 'k', 'aa', 'r', 'd']);
    expect(espeak).toEqual(flite);
    const scottish = await phonemize('where is my parcel', { phonemizer: 'espeak-ng', language: 'en-gb-scotland' });
    expect(scottish.every((p) => PHONEMES.includes(p))).toBe(true);
  });

  it('refuses an unknown phonemizer and an empty text', async () => {
    await expect(phonemize('hello', { phonemizer: 'festival' as 'flite' })).rejects.toThrow(ConfigError);
    await expect(phonemize('   ')).rejects.toThrow(ConfigError);
  });
});

describe('engines', () => {
  it('flite speaks with every bundled voice; rate shortens, pitch changes the audio', async () => {
    const flite = getEngine('flite');
    expect(flite.voices().map((v) => v.voice)).toEqual(['slt', 'rms', 'awb', 'kal16', 'kal']);
    const base = await flite.synthesize('where is my parcel', { engine: 'flite', voice: 'slt' });
    expect(base.sampleRateHz).toBe(16000);
    expect(duration(base.samples, 16000)).toBeGreaterThan(0.6);
    const fast = await flite.synthesize('where is my parcel', { engine: 'flite', voice: 'slt', rate: 1.5 });
    expect(duration(fast.samples, 16000)).toBeLessThan(duration(base.samples, 16000) * 0.8);
    const high = await flite.synthesize('where is my parcel', { engine: 'flite', voice: 'slt', pitch: 1.3 });
    expect(Array.from(high.samples.subarray(0, 4000))).not.toEqual(Array.from(base.samples.subarray(0, 4000)));
    const kal = await flite.synthesize('where is my parcel', { engine: 'flite', voice: 'kal' });
    expect(kal.sampleRateHz).toBe(8000);
    await expect(flite.synthesize('hi', { engine: 'flite', voice: 'nobody' })).rejects.toThrow(ConfigError);
    await expect(flite.synthesize('hi', { engine: 'flite', voice: 'slt', rate: 5 })).rejects.toThrow(/0\.5\.\.2/);
  });

  it('espeak-ng speaks through the external program; a text starting with "-" is spoken, not parsed as an option', async () => {
    const e = getEngine('espeak-ng');
    const a = await e.synthesize('-v is not an option here', { engine: 'espeak-ng', voice: 'en-gb+f3' });
    expect(a.sampleRateHz).toBe(22050);
    expect(duration(a.samples, a.sampleRateHz)).toBeGreaterThan(1);
    const slow = await e.synthesize('-v is not an option here', { engine: 'espeak-ng', voice: 'en-gb+f3', rate: 0.6 });
    expect(slow.samples.length).toBeGreaterThan(a.samples.length * 1.3);
    await expect(e.synthesize('hello', { engine: 'espeak-ng', voice: 'xx-nowhere' })).rejects.toThrow(/espeak-ng/);
  });

  it('a missing espeak-ng is a ConfigError naming the Debian package', async () => {
    const missing = new EspeakNgEngine({ program: '/nonexistent/espeak-ng' });
    await expect(missing.checkAvailable()).rejects.toThrow(ConfigError);
    await expect(missing.synthesize('hello', { engine: 'espeak-ng', voice: 'en-us' })).rejects.toThrow(/apt-get install espeak-ng/);
    await expect(missing.phonemize('hello')).rejects.toThrow(/apt-get install espeak-ng/);
  });
});

describe('voices', () => {
  it('ids round-trip; the grid is voices x rates x pitches; a split holds out whole speakers', () => {
    const v = parseVoiceId('espeak-ng:en-gb+f3,rate=1.2,pitch=0.9');
    expect(v).toEqual({ engine: 'espeak-ng', voice: 'en-gb+f3', rate: 1.2, pitch: 0.9 });
    expect(voiceId(v)).toBe('espeak-ng:en-gb+f3,rate=1.2,pitch=0.9');
    expect(voiceId({ engine: 'flite', voice: 'slt' })).toBe('flite:slt');
    expect(() => parseVoiceId('festival:kal')).toThrow(ConfigError);
    expect(() => parseVoiceId('flite slt')).toThrow(ConfigError);
    expect(() => parseVoiceId('flite:slt,rate=9')).toThrow(ConfigError);
    const voices = listVoices();
    expect(voices.filter((x) => x.engine === 'flite')).toHaveLength(5);
    expect(voices.filter((x) => x.engine === 'espeak-ng').length).toBeGreaterThanOrEqual(100);
    const grid = voiceGrid({ engines: ['flite'], rates: [0.9, 1.1], pitches: [1] });
    expect(grid).toHaveLength(10);
    const { train, heldOut } = splitVoices(voiceGrid(), { heldOutFraction: 0.2, seed: 1 });
    expect(train.length + heldOut.length).toBe(voiceGrid().length);
    const heldSpeakers = new Set(heldOut.map((s) => `${s.engine}:${s.voice}`));
    expect(train.some((s) => heldSpeakers.has(`${s.engine}:${s.voice}`))).toBe(false);
    expect(new Set(heldOut.map((s) => s.engine))).toEqual(new Set(['flite', 'espeak-ng']));
    expect(() => voiceGrid({ voices: ['nobody'] })).toThrow(ConfigError);
  });
});

describe('synthesizeCorpus', () => {
  const voices = ['flite:slt', 'flite:awb,rate=1.15', 'espeak-ng:en-us+f2', 'espeak-ng:en-gb-scotland,pitch=0.9'];

  it('writes clips and a manifest, resumes without re-synthesizing, and records a bad sample without losing the others', async () => {
    const dir = tmp();
    const manifest = path.join(dir, 'texts.jsonl');
    writeFileSync(manifest, [
      JSON.stringify({ id: 'a', text: 'I lost my card', label: 'card_lost' }),
      JSON.stringify({ id: 'b', label: 'no_text' }),
      JSON.stringify({ id: 'c', text: 'where is my parcel', label: 'track' }),
    ].join('\n'));
    const out = path.join(dir, 'speech');
    const r = await synthesizeCorpus({ manifest, out, voices, perText: 3, sampleRateHz: 8000 });
    expect(r).toMatchObject({ clips: 6, written: 6, reused: 0, samples: 3 });
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]).toMatchObject({ sample: 'b', field: 'text', code: 'INVALID_INPUT', line: 2 });
    const rows = readFileSync(r.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows).toHaveLength(6);
    const first = rows[0] as Record<string, string>;
    expect(first).toMatchObject({ id: 'a/0', sourceId: 'a', text: 'I lost my card', label: 'card_lost', phonemes: 'ay l ao s t m ay k aa r d' });
    expect(new Set(rows.filter((x) => x.sourceId === 'a').map((x) => x.voice)).size).toBe(3);
    for (const row of rows) {
      const wav = decodeWav(readFileSync(path.join(out, row.audio as string)));
      expect(wav.sampleRateHz).toBe(8000);
      expect(wav.durationSeconds).toBeGreaterThan(0.4);
      let peak = 0;
      for (const x of wav.channels[0] as Float32Array) peak = Math.max(peak, Math.abs(x));
      expect(peak).toBeCloseTo(0.9, 2);
    }
    const mtimes = readdirSync(path.join(out, 'clips')).map((f) => statSync(path.join(out, 'clips', f)).mtimeMs);
    const again = await synthesizeCorpus({ manifest, out, voices, perText: 3, sampleRateHz: 8000 });
    expect(again).toMatchObject({ clips: 6, written: 0, reused: 6 });
    expect(readdirSync(path.join(out, 'clips')).map((f) => statSync(path.join(out, 'clips', f)).mtimeMs)).toEqual(mtimes);
    // More voices per text: the three clips already made are reused, one new clip per text.
    const more = await synthesizeCorpus({ manifest, out, voices, perText: 4, sampleRateHz: 8000 });
    expect(more).toMatchObject({ clips: 8, written: 2, reused: 6 });
  });

  it('refuses a folder holding files it did not write, and leaves them untouched', async () => {
    const dir = tmp();
    const manifest = path.join(dir, 'texts.jsonl');
    writeFileSync(manifest, `${JSON.stringify({ text: 'hello' })}\n`);
    const foreign = path.join(dir, 'mine');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'manifest.jsonl'), 'precious\n');
    await expect(synthesizeCorpus({ manifest, out: foreign, voices: ['flite:slt'], perText: 1 })).rejects.toThrow(/did not write/);
    expect(readFileSync(path.join(foreign, 'manifest.jsonl'), 'utf8')).toBe('precious\n');
    expect(readdirSync(foreign)).toEqual(['manifest.jsonl']);
    await expect(synthesizeCorpus({ manifest, out: manifest, voices: ['flite:slt'], perText: 1 })).rejects.toThrow(/is a file/);
    await expect(synthesizeCorpus({ manifest, out: path.join(dir, 'o'), voices: ['flite:slt'], perText: 2 })).rejects.toThrow(ConfigError);
  });
});

describe('mmfuse synthesize', () => {
  it('runs in process: JSON result, usage errors exit 2', async () => {
    const dir = tmp();
    const manifest = path.join(dir, 'texts.csv');
    writeFileSync(manifest, 'words,label\nopen an account,open\nclose my account,close\n');
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => { stdout += t; }, stderr: (t: string) => { stderr += t; }, cwd: dir };
    const code = await main(['synthesize', '--data', 'texts.csv', '--field', 'words', '--out', 'speech', '--engine', 'flite', '--rates', '1,1.2', '--pitches', '1', '--per-text', '2', '--json'], io);
    expect(code, stderr).toBe(0);
    const json = JSON.parse(stdout.trim().split('\n').pop() as string) as { clips: number; voices: string[] };
    expect(json.clips).toBe(4);
    expect(json.voices.every((v) => v.startsWith('flite:'))).toBe(true);
    const rows = readFileSync(path.join(dir, 'speech', 'manifest.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(rows[0] as string)).toMatchObject({ words: expect.any(String), phonemes: expect.any(String), audio: expect.stringMatching(/^clips\//) });
    expect(await main(['synthesize', '--data', 'texts.csv', '--out', 'x', '--engine', 'festival'], io)).toBe(2);
    expect(await main(['synthesize', '--out', 'x'], io)).toBe(2);
  });
});
