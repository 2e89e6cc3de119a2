// A third-party plugin whose raw value is a file (examples/signal-plugin.ts: float32 sensor traces), through
// every route with no change outside the plugin: manifests (paths relative to the manifest, kept inside its
// folder), `mmfuse train / eval / predict` (paths relative to the working folder), and `mmfuse serve` (base64
// in JSON, a file part in multipart). The plugin's byte limit is enforced on every route before the file
// is read or the body decoded.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@mmfuse/core';
import { main } from 'mmfuse';
import { jsonl } from './fixtures.js';
import { repoRoot, request, startCli } from './helpers.js';

const plugin = path.join(repoRoot, 'examples/signal-plugin.ts');
const MAX_BYTES = 4096;
let dir: string;
let trained: any;

async function inProcess(argv: string[], cwd = dir): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd });
  return { code, stdout, stderr };
}

/** A rising or falling trace of 32 float32 samples with seeded noise. */
function trace(rising: boolean, seed: number): Buffer {
  const rng = createRng(seed);
  const out = Buffer.alloc(32 * 4);
  for (let i = 0; i < 32; i++) out.writeFloatLE((rising ? i : 31 - i) / 8 + rng.normal(0, 0.3), i * 4);
  return out;
}

const label = (i: number): string => (i % 2 === 0 ? 'rising' : 'falling');

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-file-plugin-'));
  mkdirSync(path.join(dir, 'traces'));
  for (let i = 0; i < 40; i++) writeFileSync(path.join(dir, 'traces', `t${i}.f32`), trace(i % 2 === 0, 100 + i));
  writeFileSync(path.join(dir, 'big.f32'), Buffer.alloc(2 * MAX_BYTES));
  writeFileSync(path.join(path.dirname(dir), `${path.basename(dir)}-outside.f32`), trace(true, 1));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(Array.from({ length: 32 }, (_, i) => ({ id: `t${i}`, trace: `traces/t${i}.f32`, label: label(i) }))));
  writeFileSync(path.join(dir, 'test.jsonl'), jsonl([
    ...Array.from({ length: 8 }, (_, k) => ({ id: `t${32 + k}`, trace: `traces/t${32 + k}.f32`, label: label(32 + k) })),
    { id: 'too-big', trace: 'big.f32', label: 'rising' },
    { id: 'outside', trace: `../${path.basename(dir)}-outside.f32`, label: 'rising' },
  ]));
  writeFileSync(path.join(dir, 'model.yaml'), [
    `plugins: [${JSON.stringify(path.relative(dir, plugin))}]`,
    'inputs:',
    `  trace: { type: signal, encoder: { kind: frames, frame: 8, dim: 8, maxBytes: ${MAX_BYTES} } }`,
    'output: { field: label }',
    'fusion: { dModel: 16, heads: 2, layers: 1, ffDim: 32, dropout: 0, modalityDropout: 0 }',
    'data: { train: train.jsonl, test: test.jsonl }',
    'training: { epochs: 12, batchSize: 8, learningRate: 0.01, validationSplit: 0, earlyStoppingPatience: null, seed: 3 }',
  ].join('\n'));
  const r = await inProcess(['train', 'model.yaml', '--out', 'model', '--json']);
  if (r.code !== 0) throw new Error(`train failed: ${r.stderr}`);
  trained = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}-outside.f32`, { force: true });
});

describe('a third-party plugin whose raw value is a file', () => {
  it('trains from a manifest of file paths, and the test manifest refuses an oversized file and a path outside its folder alone', () => {
    expect(trained.labels).toEqual(['falling', 'rising']);
    expect(trained.trainSamples).toBe(32);
    const test = trained.evaluations.find((e: { set: string }) => e.set === 'test');
    expect(test.n).toBe(8);
    // Rising vs falling is easy: the model learned it from the files.
    expect(test.accuracy).toBeGreaterThanOrEqual(0.75);
    const skipped = trained.skipped.map((s: any) => [s.set, s.sample, s.field, s.code]);
    expect(skipped).toEqual([['test', 'too-big', 'trace', 'LIMIT_EXCEEDED'], ['test', 'outside', 'trace', 'INVALID_INPUT']]);
    expect(trained.skipped[0].reason).toMatch(new RegExp(`is ${2 * MAX_BYTES} bytes, over the limit of ${MAX_BYTES} bytes of signal/frames`));
    expect(trained.skipped[1].reason).toMatch(/escapes the data folder/);
  });

  it('predicts from the command line and from a manifest; refuses an oversized file and a folder before reading them', async () => {
    const one = await inProcess(['predict', '--model', 'model', '--plugin', plugin, '--input', 'trace=traces/t32.f32', '--json']);
    expect(one.code, one.stderr).toBe(0);
    const p = JSON.parse(one.stdout);
    expect(p.modalitiesUsed).toEqual(['trace']);
    expect(Object.keys(p.probabilities).sort()).toEqual(['falling', 'rising']);
    const big = await inProcess(['predict', '--model', 'model', '--input', 'trace=big.f32', '--json']);
    expect(big.code).toBe(1);
    expect(JSON.parse(big.stdout).error).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'trace', details: { bytes: 2 * MAX_BYTES, maxBytes: MAX_BYTES } });
    const folder = await inProcess(['predict', '--model', 'model', '--input', 'trace=traces', '--json']);
    expect(folder.code).toBe(1);
    expect(JSON.parse(folder.stdout).error.message).toMatch(/field "trace": .*is not a regular file/);
    const lines = await inProcess(['predict', '--model', 'model', '--data', 'test.jsonl', '--json']);
    expect(lines.code, lines.stderr).toBe(0);
    const rows = lines.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.at(-1)).toEqual({ n: 10, predicted: 8, failed: 2 });
    expect(rows[0]).toMatchObject({ id: 't32', line: 1, label: p.label });
    expect(rows[8].error).toMatchObject({ name: 'LimitExceededError', code: 'LIMIT_EXCEEDED', sample: 'too-big', field: 'trace', file: path.join(dir, 'test.jsonl'), line: 9, dataFile: path.join(dir, 'big.f32') });
  });

  it('is served: base64 in JSON and a multipart file part give the CLI\'s answer; oversized uploads are refused (400), over-limit bodies 413', async () => {
    const server = await startCli(['serve', '--model', 'model', '--plugin', plugin, '--port', '0', '--max-body-bytes', String(8 * MAX_BYTES)], /listening on (http:\/\/127\.0\.0\.1:\d+)/, { cwd: dir });
    try {
      const base = server.match[1] as string;
      expect((await request(`${base}/healthz`)).json()).toMatchObject({ status: 'ok', fields: { trace: 'signal' } });
      const bytes = readFileSync(path.join(dir, 'traces', 't33.f32'));
      const cli = JSON.parse((await inProcess(['predict', '--model', 'model', '--input', 'trace=traces/t33.f32', '--json'])).stdout);
      const post = (body: unknown) => request(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const fromJson = await post({ id: 'j', trace: bytes.toString('base64') });
      expect(fromJson.status, fromJson.text).toBe(200);
      const form = new FormData();
      form.append('id', 'm');
      form.append('trace', new Blob([bytes]), 't33.f32');
      const res = await fetch(`${base}/v1/predict`, { method: 'POST', body: form });
      expect(res.status).toBe(200);
      const fromForm = (await res.json()) as any;
      for (const answer of [fromJson.json(), fromForm]) {
        expect(answer.label).toBe(cli.label);
        for (const l of ['falling', 'rising']) expect(answer.probabilities[l]).toBeCloseTo(cli.probabilities[l], 5);
      }
      const big = Buffer.alloc(2 * MAX_BYTES);
      const tooBig = await post({ id: 'big', trace: big.toString('base64') });
      expect(tooBig.status).toBe(400);
      expect(tooBig.json().error).toMatchObject({ code: 'LIMIT_EXCEEDED', sample: 'big', field: 'trace' });
      const bigForm = new FormData();
      bigForm.append('trace', new Blob([big]), 'big.f32');
      const bigPart = await fetch(`${base}/v1/predict`, { method: 'POST', body: bigForm });
      expect(bigPart.status).toBe(400);
      expect(((await bigPart.json()) as any).error).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'trace' });
      const huge = await post({ trace: Buffer.alloc(8 * MAX_BYTES).toString('base64') });
      expect(huge.status).toBe(413);
      expect(huge.json().error).toMatchObject({ name: 'RequestTooLargeError', code: 'LIMIT_EXCEEDED' });
      const wrong = await post({ trace: [1, 2, 3] });
      expect(wrong.status).toBe(400);
      expect(wrong.json().error.message).toMatch(/expected a base64 string, got an array/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
