// Calibration and out-of-scope answers through the CLI: `train` fits a temperature and a threshold on the
// validation manifest and reports them, `eval` reports the calibration error before and after, `predict`
// and `serve` answer `outOfScope`, and `--oos-threshold` overrides the model's threshold.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCli } from './helpers.js';
import { runMain } from './in-process.js';
import type { InProcessResult } from './in-process.js';

// Three intents of typed requests, 10 wordings each: 7 train, 3 validate.
const INTENTS: Record<string, string[]> = {
  card_lost: ['i lost my card', 'my card was stolen', 'card missing', 'someone stole my card', 'lost card please block it', 'where did my card go i lost it', 'block my stolen card', 'my wallet and card are gone', 'i cannot find my card', 'report a lost card'],
  refund: ['i want a refund', 'give me my money back', 'refund my order', 'how do i get a refund', 'money back please', 'refund for the broken item', 'i was charged twice refund', 'request a refund now', 'where is my refund', 'refund status'],
  hours: ['when are you open', 'opening hours', 'are you open on sunday', 'what time do you close', 'store hours today', 'open late tonight', 'closing time', 'hours on holidays', 'when do you open tomorrow', 'what are your hours'],
};
const jsonl = (from: number, to: number): string => Object.entries(INTENTS).flatMap(([label, texts]) => texts.slice(from, to).map((text) => JSON.stringify({ text, label }))).join('\n') + '\n';

let dir: string;
let trained: any;

const cli = (argv: string[]): Promise<InProcessResult> => runMain(argv, dir);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-oos-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(0, 7));
  writeFileSync(path.join(dir, 'valid.jsonl'), jsonl(7, 10));
  writeFileSync(path.join(dir, 'model.yaml'), [
    'inputs:',
    '  text: { type: text, encoder: { kind: ngram, dim: 16, buckets: 500 } }',
    'fusion: { strategy: late, dModel: 16 }',
    'output: { field: label, type: category }',
    'data: { train: train.jsonl, validation: valid.jsonl }',
    'training: { epochs: 8, batchSize: 8, learningRate: 0.02, seed: 3, earlyStoppingPatience: null }',
  ].join('\n') + '\n');
  const r = await cli(['train', 'model.yaml', '--out', 'model', '--json']);
  if (r.code !== 0) throw new Error(`train failed (${r.code}): ${r.stderr}`);
  trained = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('out-of-scope answers through the CLI', () => {
  it('train fits a temperature and a threshold on the validation manifest, reports and saves them', () => {
    expect(trained.calibration).toMatchObject({ method: 'temperature', thresholdSource: 'validation' });
    expect(trained.calibration.temperature).toBeGreaterThan(0);
    expect(trained.calibration.validation.n).toBe(9);
    expect(typeof trained.calibration.outOfScopeThreshold).toBe('number');
    const saved = JSON.parse(readFileSync(path.join(dir, 'model', 'model.json'), 'utf8'));
    expect(saved.version).toBe(2);
    expect(saved.calibration).toEqual(trained.calibration);
  });

  it('eval reports the calibration error with and without the temperature', async () => {
    const r = await cli(['eval', '--model', 'model', '--data', 'valid.jsonl', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout.trim());
    expect(e.ece).toBeGreaterThanOrEqual(0);
    expect(e.eceUncalibrated).toBeGreaterThanOrEqual(0);
    // The temperature was fitted on these very samples to minimize their NLL; the ECE is reported, not ordered.
    expect(e.outOfScope).toBeGreaterThanOrEqual(0);
    const human = await cli(['eval', '--model', 'model', '--data', 'valid.jsonl']);
    expect(human.stdout).toMatch(/ECE: [\d.]+ \(uncalibrated [\d.]+\)\s+out of scope: [\d.]+%/);
  });

  it('predict answers outOfScope, and --oos-threshold overrides the model\'s threshold', async () => {
    const plain = await cli(['predict', '--model', 'model', '--text', 'my card was stolen', '--json']);
    expect(plain.code).toBe(0);
    const p = JSON.parse(plain.stdout);
    expect(p.outOfScope).toBe(p.probabilities[p.label] < trained.calibration.outOfScopeThreshold);
    const all = JSON.parse((await cli(['predict', '--model', 'model', '--text', 'my card was stolen', '--oos-threshold', '1', '--json'])).stdout);
    expect(all.outOfScope).toBe(true);
    expect(all.label).toBe(p.label);
    const none = await cli(['predict', '--model', 'model', '--text', 'what is the weather on mars', '--oos-threshold', '0']);
    expect(none.stdout).toMatch(/^out of scope: no$/m);
    const lines = (await cli(['predict', '--model', 'model', '--data', 'valid.jsonl', '--oos-threshold', '1', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const rows = lines.filter((l) => 'label' in l);
    expect(rows).toHaveLength(9);
    expect(rows.every((row) => row.outOfScope === true)).toBe(true);
    const bad = await cli(['predict', '--model', 'model', '--text', 'x', '--oos-threshold', '1.5', '--json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr + bad.stdout).toMatch(/oos-threshold/);
  });

  it('serve answers outOfScope with the threshold given on its command line, and shows it in /healthz', async () => {
    const server = await startCli(['serve', '--model', 'model', '--host', '127.0.0.1', '--port', '0', '--oos-threshold', '1'], /listening on (http:\/\/127\.0\.0\.1:\d+)/, { cwd: dir });
    try {
      const base = server.match[1] as string;
      const r = await request(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'refund please' }) });
      expect(r.status).toBe(200);
      expect(r.json().outOfScope).toBe(true);
      const health = (await request(`${base}/healthz`)).json();
      expect(JSON.stringify(health)).toContain('"outOfScopeThreshold":1');
    } finally {
      const exited = server.exited;
      server.child.kill('SIGTERM');
      await exited;
    }
  });
});
