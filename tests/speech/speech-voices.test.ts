// The examples' voice split (examples/common/speech-voices.ts): training, validation and test speakers are
// disjoint, and the test clips use rates and pitches never used in training.
import { describe, expect, it } from 'vitest';
import { TEST_SPEAKERS, VALIDATION_SPEAKERS, isTestSpeaker, testVoices, trainVoices, validationVoices, voiceId } from '../../examples/common/speech-voices.js';

const speaker = (v: Parameters<typeof voiceId>[0]): string => voiceId(v).split(',')[0] as string;

describe('speech-voices split', () => {
  it('keeps training, validation and test speakers apart, with both engines in training and test', () => {
    const train = new Set(trainVoices().map(speaker));
    const valid = new Set(validationVoices().map(speaker));
    const test = new Set(testVoices().map(speaker));
    expect(train.size).toBeGreaterThan(20);
    for (const s of valid) expect(train.has(s), s).toBe(false);
    for (const s of test) { expect(train.has(s), s).toBe(false); expect(valid.has(s), s).toBe(false); }
    expect([...valid].sort()).toEqual([...VALIDATION_SPEAKERS].sort());
    expect([...test].sort()).toEqual([...TEST_SPEAKERS].sort());
    for (const engine of ['flite:', 'espeak-ng:']) {
      expect([...train].some((s) => s.startsWith(engine))).toBe(true);
      expect([...test].some((s) => s.startsWith(engine))).toBe(true);
    }
    const trainRates = new Set(trainVoices().map((v) => v.rate));
    const trainPitches = new Set(trainVoices().map((v) => v.pitch));
    for (const v of testVoices()) { expect(trainRates.has(v.rate)).toBe(false); expect(trainPitches.has(v.pitch)).toBe(false); }
    expect(isTestSpeaker(voiceId(testVoices()[0] as Parameters<typeof voiceId>[0]))).toBe(true);
    expect(isTestSpeaker(voiceId(trainVoices()[0] as Parameters<typeof voiceId>[0]))).toBe(false);
  });
});
