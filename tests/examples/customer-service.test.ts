// The customer-service bot (examples/customer-service/bot.ts) hands a request over instead of answering it
// when the model calls it out of scope: a small text model trained here on the bot's typed English requests,
// asked through the bot as a user runs it (a spawned `bot.ts ask`).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { Sample } from '@mmfuse/fusion';
import { SpeechRecognizer } from '@mmfuse/speech';
import { askVoice, heardFields } from '../../examples/customer-service/heard.js';
import type { Transcript } from '@mmfuse/speech';

const root = path.resolve(import.meta.dirname, '../..');
const here = path.join(root, 'examples/customer-service');
const bot = path.join(here, 'bot.ts');
const ANSWERS = JSON.parse(readFileSync(path.join(here, 'answers.json'), 'utf8')) as Record<string, { en: string }>;
const HANDOVER = 'Let me pass you to a colleague who can help.';
const IN_SCOPE = 'where is my order';
const OUT_OF_SCOPE = 'can you recommend a good pizza place near the station';

/** The typed English requests of a split (without the `out_of_scope` intent's unless `withOutOfScope`). */
function typed(split: string, withOutOfScope = false): Sample[] {
  return readFileSync(path.join(here, 'data', `${split}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>)
    .filter((r) => r.text !== undefined && r.lang === 'en' && (withOutOfScope || r.label !== 'out_of_scope'))
    .map((r) => ({ id: r.id as string, fields: { text: r.text as string, label: r.label as string } }));
}

let dir: string;
let model: FusionModel;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-bot-'));
  model = FusionModel.create({
    inputs: { text: { type: 'text', encoder: { kind: 'ngram', dim: 32, buckets: 4000 } } },
    fusion: { strategy: 'late', dModel: 32, modalityDropout: 0 },
    output: { field: 'label' },
    training: { epochs: 10, batchSize: 32, learningRate: 0.02, seed: 5, earlyStoppingPatience: null },
  });
  await model.fit(typed('train'), { validation: typed('valid'), progress: 'none', log: () => {} });
  await model.save(path.join(dir, 'model'));
  // As the bot's config.json: the off-topic requests are one more intent, named in outOfScope.labels.
  const oos = FusionModel.create({
    inputs: { text: { type: 'text', encoder: { kind: 'ngram', dim: 32, buckets: 4000 } } },
    fusion: { strategy: 'late', dModel: 32, modalityDropout: 0 },
    output: { field: 'label', outOfScope: { threshold: 'auto', maxRejectedCorrect: 0.05, labels: ['out_of_scope'] } },
    training: { epochs: 10, batchSize: 32, learningRate: 0.02, seed: 5, earlyStoppingPatience: null },
  });
  await oos.fit(typed('train', true), { validation: typed('valid', true), progress: 'none', log: () => {} });
  await oos.save(path.join(dir, 'oos-model'));
  oos.dispose();
}, 600_000); // generous: a loaded machine must not fail the suite

afterAll(() => {
  model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function ask(text: string | null, extra: string[] = [], modelDir = 'model'): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=source', '--import', 'tsx', bot, 'ask', '--model', path.join(dir, modelDir), ...(text === null ? [] : ['--text', text]), ...extra], {
    cwd: root, env: { ...process.env, MMFUSE_ENGINE: 'wasm' }, maxBuffer: 1 << 20,
  });
  return stdout;
}

describe('the customer-service bot and out-of-scope requests', () => {
  // Each spawned bot loads TypeScript sources and the model: slow on a loaded machine, so generous limits.
  it('the model has a threshold chosen on the validation split; the bot follows it', { timeout: 600_000 }, async () => {
    expect(model.calibration?.thresholdSource).toBe('validation');
    const p = await model.predict({ text: OUT_OF_SCOPE });
    const out = await ask(OUT_OF_SCOPE);
    expect(out).toContain(`intent: ${String(p.label)}`);
    if (p.outOfScope === true) {
      expect(out).toContain('out of scope: handing over');
      expect(out).toContain(HANDOVER);
    } else {
      expect(out).toContain(ANSWERS[String(p.label)]?.en);
    }
  });

  it('answers an in-scope request and hands over an out-of-scope one, with a threshold between their confidences', { timeout: 600_000 }, async () => {
    const [inScope, outOfScope] = await Promise.all([model.predict({ text: IN_SCOPE }), model.predict({ text: OUT_OF_SCOPE })]);
    expect(inScope.label).toBe('order_status');
    const pIn = inScope.probabilities?.order_status as number;
    const pOut = outOfScope.probabilities?.[String(outOfScope.label)] as number;
    // A request from the training data is answered with more confidence than one no intent covers.
    expect(pOut).toBeLessThan(pIn);
    const threshold = String((pIn + pOut) / 2);
    const answered = await ask(IN_SCOPE, ['--oos-threshold', threshold]);
    expect(answered).toContain(ANSWERS.order_status?.en);
    expect(answered).not.toContain(HANDOVER);
    const handed = await ask(OUT_OF_SCOPE, ['--oos-threshold', threshold]);
    expect(handed).toContain('out of scope: handing over');
    expect(handed).toContain(HANDOVER);
    expect(handed).not.toContain(ANSWERS[String(outOfScope.label)]?.en);
  });

  it('hands over a request the model answers with the out-of-scope intent, whatever its confidence', { timeout: 600_000 }, async () => {
    const m = await FusionModel.load(path.join(dir, 'oos-model'));
    try {
      expect(m.calibration?.outOfScopeLabels).toEqual(['out_of_scope']);
      // Threshold 0: only the intent can make a request out of scope.
      const preds = await Promise.all(typed('test', true).map(async (s) => ({ s, p: await m.predict({ text: s.fields.text }, { outOfScopeThreshold: 0 }) })));
      for (const { p } of preds) expect(p.outOfScope).toBe(p.label === 'out_of_scope');
      const offTopic = preds.find(({ s, p }) => s.fields.label === 'out_of_scope' && p.label === 'out_of_scope');
      expect(offTopic).toBeDefined();
      const out = await ask(String(offTopic!.s.fields.text), ['--oos-threshold', '0'], 'oos-model');
      expect(out).toContain('intent: out_of_scope');
      expect(out).toContain('out of scope: handing over');
      expect(out).toContain(HANDOVER);
    } finally {
      m.dispose();
    }
  });

  it('refuses a threshold outside [0, 1]', { timeout: 600_000 }, async () => {
    await expect(ask(IN_SCOPE, ['--oos-threshold', '2'])).rejects.toThrow(/--oos-threshold must be a probability in \[0, 1\], got "2"/);
  });
});

describe('the customer-service bot and spoken requests', () => {
  it('sends the words heard instead of the clip, and the clip alone when nothing was heard', () => {
    const clip = { audio: 'a.wav', label: 'pin_change' };
    expect(heardFields(clip, 'change pin')).toEqual({ text: 'change pin', label: 'pin_change' });
    expect(heardFields(clip, '')).toBe(clip);
    expect(askVoice('bot', clip, 'change pin')).toEqual(heardFields(clip, 'change pin'));
    expect(askVoice('words+clip', clip, 'change pin')).toEqual({ ...clip, text: 'change pin' });
    expect(askVoice('words+clip', clip, '')).toEqual(clip);
    expect(askVoice('clip', clip, 'change pin')).toBe(clip);
  });

  it('hears an English voice request with the shipped recognizer and answers the words it heard', { timeout: 600_000 }, async () => {
    const clip = path.join(here, 'data', 'clips', '0084.wav'); // a voice-only English test request
    const rec = await SpeechRecognizer.load({ encoder: path.join(here, 'speech', 'encoder'), lexicon: path.join(here, 'speech', 'lexicon.json') });
    const [t] = await rec.transcribe([{ sample: 'clip', audio: clip }]);
    rec.dispose();
    const heard = ((t as Transcript).words ?? []).join(' ');
    const out = await ask(null, ['--audio', clip]);
    expect(out).toContain(`heard : ${heard === '' ? '(nothing: the clip goes to the model alone)' : `${heard} (the words go to the model instead of the clip)`}`);
    if (heard !== '') expect(out).toContain(`intent: ${String((await model.predict({ text: heard })).label)}`);
    // Without the recognizer the clip goes to the model alone, and this text-only model has no audio input.
    await expect(ask(null, ['--audio', clip, '--speech', 'none'])).rejects.toThrow(/none of the inputs "text" is present/);
  });
});

describe('the customer-service bot evaluating a manifest of requests (e.g. recordings of real people)', () => {
  it('answers each request as `ask` does, reports accuracy per kind, and names a request it cannot answer', { timeout: 600_000 }, async () => {
    const work = path.join(dir, 'evaluate');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(work, { recursive: true });
    copyFileSync(path.join(here, 'data', 'clips', '0084.wav'), path.join(work, 'spoken.wav'));
    const requests = typed('test').slice(0, 6);
    const rows = [
      ...requests.map((s) => ({ id: s.id, text: s.fields.text, label: s.fields.label })),
      { id: 'spoken', audio: 'spoken.wav', label: 'pin_change' },
      { id: 'gone', audio: 'missing.wav', label: 'pin_change' },
    ];
    writeFileSync(path.join(work, 'requests.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=source', '--import', 'tsx', bot, 'evaluate', '--model', path.join(dir, 'model'), '--data', path.join(work, 'requests.jsonl'), '--out', path.join(work, 'results.jsonl')], {
      cwd: root, env: { ...process.env, MMFUSE_ENGINE: 'wasm' }, maxBuffer: 1 << 20,
    });
    // What the library says for the same requests: typed ones as they are, the clip through the recognizer.
    const rec = await SpeechRecognizer.load({ encoder: path.join(here, 'speech', 'encoder'), lexicon: path.join(here, 'speech', 'lexicon.json') });
    const [t] = await rec.transcribe([{ sample: 'spoken', audio: path.join(work, 'spoken.wav') }]);
    rec.dispose();
    const heard = ((t as Transcript).words ?? []).join(' ');
    expect(heard).not.toBe('');
    const typedRight = (await Promise.all(requests.map(async (s) => (await model.predict({ text: s.fields.text })).label === s.fields.label))).filter(Boolean).length;
    const spokenRight = (await model.predict({ text: heard })).label === 'pin_change' ? 1 : 0;
    const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
    expect(stdout).toContain(`${pct((typedRight + spokenRight) / (requests.length + 1))} of ${requests.length + 1} requests answered with the right intent`);
    expect(stdout).toContain(`typed        ${pct(typedRight / requests.length)} of ${requests.length}`);
    expect(stdout).toContain(`voice only   ${pct(spokenRight)} of 1`);
    expect(stdout).toMatch(/gone: not answered: .*missing\.wav.*does not exist/);
    expect(stdout).toContain('1 could not be answered');
    const results = readFileSync(path.join(work, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(results.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(results.find((r) => r.id === 'spoken')).toMatchObject({ kind: 'voice', heard, intent: (await model.predict({ text: heard })).label });
    expect(results.find((r) => r.id === 'gone')?.error).toMatch(/does not exist/);
    // --out naming the manifest itself is refused before anything is written.
    const manifest = path.join(work, 'requests.jsonl');
    const before = readFileSync(manifest, 'utf8');
    await expect(promisify(execFile)(process.execPath, ['--conditions=source', '--import', 'tsx', bot, 'evaluate', '--model', path.join(dir, 'model'), '--data', manifest, '--out', manifest], { cwd: root, env: { ...process.env, MMFUSE_ENGINE: 'wasm' } }))
      .rejects.toThrow(/is the manifest itself/);
    expect(readFileSync(manifest, 'utf8')).toBe(before);
  });
});
