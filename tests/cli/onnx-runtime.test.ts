// `mmfuse export --format onnx` and `--runtime onnx` of predict, eval and serve, as a user runs them: the
// answers (JSON, contributions, per-line errors, evaluation report) equal those of the default tfjs runtime.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from 'mmfuse';
import { onnxChecker } from '../onnx/helpers.js';
import { MODALITIES, subsets, writeProject } from './fixtures.js';
import type { Sample } from './fixtures.js';
import { request, startCli } from './helpers.js';

let dir: string;
let sample: Sample;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: any }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  let json: any;
  try { json = JSON.parse(last); } catch { json = undefined; }
  return { code, stdout, stderr, json };
}

function expectClose(a: any, b: any): void {
  expect(b.label).toEqual(a.label);
  expect(b.modalitiesUsed).toEqual(a.modalitiesUsed);
  for (const [k, v] of Object.entries(a.probabilities as Record<string, number>)) expect(Math.abs(b.probabilities[k] - v)).toBeLessThan(1e-4);
  expect(Object.keys(b.contributions)).toEqual(Object.keys(a.contributions));
  for (const [k, v] of Object.entries(a.contributions as Record<string, number>)) expect(Math.abs(b.contributions[k] - v)).toBeLessThan(1e-4);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-onnx-'));
  const { valid } = await writeProject(dir);
  sample = valid[1] as Sample;
  const t = await run(['train', 'model.yaml', '--out', 'model', '--epochs', '1']);
  if (t.code !== 0) throw new Error(`train failed: ${t.stderr}`);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('mmfuse export --format onnx', () => {
  it('writes a checker-valid graph and describes its inputs and output', async () => {
    const r = await run(['export', '--model', 'model', '--format', 'onnx', '--out', 'model.onnx', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.inputs.map((i: any) => i.present)).toEqual(MODALITIES.map((m) => `${m}.present`));
    expect(r.json.output).toEqual({ name: 'logits', dims: ['batch', 2] });
    expect(onnxChecker(readFileSync(path.join(dir, 'model.onnx'))).ok).toBe(true);
    // Writing it again replaces mmfuse's own file; another file is never replaced.
    expect((await run(['export', '--model', 'model', '--format', 'onnx', '--out', 'model.onnx'])).code).toBe(0);
    writeFileSync(path.join(dir, 'notes.onnx'), 'my notes');
    const refused = await run(['export', '--model', 'model', '--format', 'onnx', '--out', 'notes.onnx', '--json']);
    expect(refused.code).toBe(1);
    expect(refused.json.error.code).toBe('IO');
    expect(readFileSync(path.join(dir, 'notes.onnx'), 'utf8')).toBe('my notes');
    expect((await run(['export', '--model', 'model', '--format', 'tflite', '--out', 'x.onnx'])).code).toBe(2);
    expect((await run(['export', '--model', 'model', '--format', 'onnx', '--out', 'x.onnx', '--quantize', 'int4'])).code).toBe(2);
  });
});

describe('--runtime onnx', () => {
  it('predict: the same answers as tfjs for every subset of inputs, from the folder and from the .onnx file', async () => {
    await run(['export', '--model', 'model', '--format', 'onnx', '--out', 'model.onnx']);
    for (const set of subsets(MODALITIES)) {
      const flags = set.flatMap((m) => [`--${m}`, m === 'text' ? sample.text : sample[m]]);
      const tfjs = await run(['predict', '--model', 'model', ...flags, '--json']);
      const folder = await run(['predict', '--model', 'model', '--runtime', 'onnx', '--threads', '2', ...flags, '--json']);
      const file = await run(['predict', '--model', 'model.onnx', ...flags, '--json']);
      expect(tfjs.code, tfjs.stderr).toBe(0);
      expect(folder.code, folder.stderr).toBe(0);
      expect(file.code, file.stderr).toBe(0);
      expect(file.stderr).toContain('runtime: onnxruntime-node');
      expectClose(tfjs.json, folder.json);
      expectClose(tfjs.json, file.json);
    }
  });

  it('predict --data and eval: the same lines, errors and report as tfjs', async () => {
    const a = await run(['predict', '--model', 'model', '--data', 'eval.jsonl']);
    const b = await run(['predict', '--model', 'model.onnx', '--data', 'eval.jsonl']);
    expect(b.code, b.stderr).toBe(a.code);
    const linesA = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const linesB = b.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(linesB.length).toBe(linesA.length);
    linesA.forEach((la, i) => {
      const lb = linesB[i];
      if (la.error !== undefined) expect(lb.error).toEqual(la.error);
      else expectClose(la, lb);
    });
    const ea = await run(['eval', '--model', 'model', '--data', 'eval.jsonl', '--json']);
    const eb = await run(['eval', '--model', 'model.onnx', '--data', 'eval.jsonl', '--json']);
    expect(eb.code).toBe(ea.code);
    expect(eb.json.accuracy).toBe(ea.json.accuracy);
    expect(eb.json.confusion).toEqual(ea.json.confusion);
    expect(eb.json.skipped).toEqual(ea.json.skipped);
    expect(eb.json.ablation).toEqual(ea.json.ablation);
  });

  it('usage errors: an unknown runtime, --threads with tfjs, a .onnx file with --runtime tfjs', async () => {
    expect((await run(['predict', '--model', 'model', '--runtime', 'torch', '--text', 'hi'])).code).toBe(2);
    expect((await run(['predict', '--model', 'model', '--threads', '2', '--text', 'hi'])).code).toBe(2);
    expect((await run(['predict', '--model', 'model.onnx', '--runtime', 'tfjs', '--text', 'hi'])).code).toBe(2);
  });

  it('serve: answers as predict does, refuses bad input the same way, and reports the runtime', async () => {
    const server = await startCli(['serve', '--model', 'model.onnx', '--threads', '2', '--host', '127.0.0.1', '--port', '0'], /listening on (http:\/\/127\.0\.0\.1:\d+)/, { cwd: dir });
    try {
      const base = server.match[1] as string;
      const health = (await request(`${base}/healthz`)).json();
      expect(health.model.runtime).toBe('onnx');
      const fields: Record<string, string> = { text: sample.text };
      for (const m of ['audio', 'image'] as const) fields[m] = readFileSync(path.join(dir, sample[m])).toString('base64');
      const r = await request(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) });
      expect(r.status, r.text).toBe(200);
      const cli = await run(['predict', '--model', 'model', '--text', sample.text, '--audio', sample.audio, '--image', sample.image, '--json']);
      expectClose(cli.json, r.json());
      const bad = await request(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: Buffer.from('not an image').toString('base64') }) });
      expect(bad.status).toBe(400);
      expect(bad.json().error).toMatchObject({ code: expect.any(String), field: 'image' });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
