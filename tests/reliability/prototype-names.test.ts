// Names users choose (input fields, labels, request fields) that Object.prototype also answers to:
// `constructor`, `toString`, `hasOwnProperty`, `__proto__`. A model whose input is named `constructor` and
// whose labels are `__proto__` and `toString` trains through `mmfuse train`, predicts through the library,
// `mmfuse predict` and `mmfuse serve`, and keeps both labels in `probabilities` and `perClass` (and in the
// JSON written for them). Request fields `__proto__`, `toString`, `hasOwnProperty` are refused as unknown
// fields (by name), never as "given more than once"; `output.field: constructor` is no input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import { FusionModel, normalizeConfig } from '@mmfuse/fusion';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import { jsonl } from '../cli/fixtures.js';
import { request, startCli } from '../cli/helpers.js';

let dir: string;
let model: FusionModel;
let server: Awaited<ReturnType<typeof startCli>> | undefined;

const LABELS = ['__proto__', 'toString'];
const rows = Array.from({ length: 16 }, (_, i) => ({ id: `s${i}`, constructor: i % 2 === 0 ? `good fine happy day ${i}` : `bad awful sad day ${i}`, label: LABELS[i % 2] }));

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
  return { code, stdout, stderr };
}

const lastLine = (s: string): any => JSON.parse(s.trim().split('\n').pop() as string);

/** Both labels are own keys with numbers, and nothing else is: no label vanished into a prototype. */
function expectLabelKeys(record: unknown): void {
  expect(record).toBeTypeOf('object');
  expect(Object.keys(record as object).sort()).toEqual([...LABELS].sort());
  for (const l of LABELS) expect(Object.hasOwn(record as object, l), l).toBe(true);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-proto-names-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows));
  writeFileSync(path.join(dir, 'model.yaml'), [
    'inputs:',
    '  constructor: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }',
    'fusion: { dModel: 8, layers: 1, heads: 2 }',
    'output: { field: label }',
    'training: { epochs: 2, batchSize: 8 }',
    'data: { train: train.jsonl, test: train.jsonl }',
    '',
  ].join('\n'));
  const trained = await cli(['train', 'model.yaml', '--out', 'model', '--json']);
  if (trained.code !== 0) throw new Error(`train failed: ${trained.stderr}`);
  model = await FusionModel.load(path.join(dir, 'model'));
});

afterAll(async () => {
  model?.dispose();
  if (server !== undefined && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('names inherited from Object.prototype', () => {
  it('an input named `constructor` and labels `__proto__`/`toString` train and predict through the library', async () => {
    expect(model.inputs.map((i) => i.field)).toEqual(['constructor']);
    expect([...model.labels].sort()).toEqual([...LABELS].sort());
    const p = await model.predict({ constructor: 'good fine happy day' });
    expectLabelKeys(p!.probabilities);
    expect(LABELS).toContain(p!.label);
    expect(p!.modalitiesUsed).toEqual(['constructor']);
    expect(Object.keys(p!.contributions ?? {})).toEqual(['constructor']);
    // JSON keeps the labels: `{"__proto__": 0.4, ...}` parses back to own keys.
    expectLabelKeys(JSON.parse(JSON.stringify(p!.probabilities)));
    const sum = LABELS.reduce((a, l) => a + (p!.probabilities as Record<string, number>)[l]!, 0);
    expect(sum).toBeCloseTo(1, 5);

    const report = await model.evaluate(rows.map((r) => ({ id: r.id, fields: r })));
    expect(report.n).toBe(rows.length);
    expectLabelKeys(report.perClass);
    expect(report.perClass['__proto__']!.support).toBe(8);
    expect(report.perClass['toString']!.support).toBe(8);
    expect(Object.keys(report.ablation ?? {})).toEqual(['constructor']);
  });

  it('`mmfuse predict --text`, `--input constructor=...` and `mmfuse eval --json` keep every name', async () => {
    const byShortcut = await cli(['predict', '--model', 'model', '--text', 'good fine day', '--json']);
    expect(byShortcut.code, byShortcut.stderr).toBe(0);
    const byName = await cli(['predict', '--model', 'model', '--input', 'constructor=good fine day', '--json']);
    expect(byName.code, byName.stderr).toBe(0);
    expect(lastLine(byName.stdout)).toEqual(lastLine(byShortcut.stdout));
    expect(JSON.stringify(lastLine(byName.stdout))).toContain('"__proto__"');

    const twice = await cli(['predict', '--model', 'model', '--text', 'a', '--input', 'constructor=b', '--json']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/input "constructor" is given twice/);
    for (const name of ['toString', '__proto__', 'hasOwnProperty']) {
      const r = await cli(['predict', '--model', 'model', '--input', `${name}=x`, '--json']);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(new RegExp(`this model has no input "${name}"; its inputs are constructor`));
    }

    const evaluated = await cli(['eval', '--model', 'model', '--data', 'train.jsonl', '--json']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const e = lastLine(evaluated.stdout);
    expect(e.n).toBe(rows.length);
    expectLabelKeys(e.perClass);
    expect(e.confusion.labels.sort()).toEqual([...LABELS].sort());
  });

  it('`mmfuse serve` takes the field `constructor` (JSON and multipart) and refuses `__proto__`, `toString`, `hasOwnProperty` as unknown fields', async () => {
    server = await startCli(['serve', '--model', path.join(dir, 'model'), '--port', '0'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const url = `http://127.0.0.1:${server.match[1]}/v1/predict`;
    const json = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"c1","constructor":"good fine happy day"}' });
    expect(json.status, json.text).toBe(200);
    expect(json.text).toContain('"__proto__"');
    expectLabelKeys(json.json().probabilities);

    const boundary = 'b0undary';
    const multipartBody = `--${boundary}\r\nContent-Disposition: form-data; name="constructor"\r\n\r\ngood fine happy day\r\n--${boundary}--\r\n`;
    const multipart = await request(url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipartBody });
    expect(multipart.status, multipart.text).toBe(200);
    expect(multipart.json().probabilities).toEqual(json.json().probabilities);

    for (const name of ['__proto__', 'toString', 'hasOwnProperty']) {
      const r = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"id":"x","${name}":"good day"}` });
      expect(r.status, `${name}: ${r.text}`).toBe(400);
      const err = r.json().error;
      expect(err.code, name).toBe('INVALID_INPUT');
      expect(err.field, name).toBe(name);
      expect(err.message, name).toMatch(/unknown input field; this model takes "constructor"/);
      expect(err.message, name).not.toMatch(/more than once/);
    }
    const twice = await request(url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: `--${boundary}\r\nContent-Disposition: form-data; name="constructor"\r\n\r\na\r\n--${boundary}\r\nContent-Disposition: form-data; name="constructor"\r\n\r\nb\r\n--${boundary}--\r\n` });
    expect(twice.status, twice.text).toBe(400);
    expect(twice.json().error.message).toMatch(/given more than once/);
    expect((await request(`http://127.0.0.1:${server.match[1]}/healthz`)).status).toBe(200);
  });

  it('a config keeps such names as ordinary keys: `output.field: constructor` is no input, `__proto__` is a field', () => {
    const text = { type: 'text', encoder: { kind: 'rnn' } };
    const asTarget = normalizeConfig({ inputs: { text }, output: { field: 'constructor' } });
    expect(asTarget.output.field).toBe('constructor');
    expect(Object.keys(asTarget.inputs)).toEqual(['text']);
    expect(() => normalizeConfig({ inputs: { constructor: text }, output: { field: 'constructor' } })).toThrow(ConfigError);
    expect(() => normalizeConfig({ inputs: { constructor: text }, output: { field: 'constructor' } })).toThrow(/is also an input/);
    // `__proto__` as written in a JSON config file (JSON.parse makes it an own key).
    const parsed = normalizeConfig(JSON.parse('{"inputs":{"__proto__":{"type":"text","encoder":{"kind":"rnn"}},"toString":{"type":"text","encoder":{"kind":"rnn"}}},"output":{"field":"label"},"training":{"classWeights":{"__proto__":2,"other":1}}}'));
    expect(Object.keys(parsed.inputs)).toEqual(['__proto__', 'toString']);
    expect(Object.hasOwn(parsed.inputs, '__proto__')).toBe(true);
    expect(Object.hasOwn(parsed.training.classWeights as object, '__proto__')).toBe(true);
    expect((parsed.training.classWeights as Record<string, number>)['__proto__']).toBe(2);
  });
});
