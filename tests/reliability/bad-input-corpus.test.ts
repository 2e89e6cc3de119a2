// The bad-input corpus (bad-input-corpus.ts) run three ways against one tiny text + audio + image model:
// the library (each encoder's `prepare` through the registry, and `FusionModel.predict`), the CLI
// (`mmfuse eval --json` on a manifest holding every bad case among good samples: each bad line is in
// `skipped` with its line, field and reason, the rest is scored) and the server (`POST /v1/predict` → 400
// with the code). Valid but unusual inputs are processed by all three.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, encoders, isMmfuseError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { FusionModel, encoderConfig, encoderKind } from '@mmfuse/fusion';
import { loadImage } from '@mmfuse/vision-cnn';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { writeProject } from '../cli/fixtures.js';
import type { Sample } from '../cli/fixtures.js';
import { repoRoot, startCli } from '../cli/helpers.js';
import { metricValue, runLoad } from '../../scripts/load/generator.js';
import { badCases, manifestValue, unusualCases, writeCorpus } from './bad-input-corpus.js';
import { mutate, mutation } from './mutate.js';
import type { BadCase, UnusualCase } from './bad-input-corpus.js';

const dir = path.join(repoRoot, 'tests/fixtures/bad-inputs/project');
let bad: BadCase[];
let unusual: UnusualCase[];
let valid: Sample[];
let model: FusionModel;
let server: Awaited<ReturnType<typeof startCli>> | undefined;

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
  return { code, stdout, stderr };
}

const codes = (c: BadCase): string[] => (Array.isArray(c.code) ? c.code : [c.code]);

function expectRefusal(err: unknown, c: BadCase, where: string): void {
  expect(isMmfuseError(err), `${where} ${c.name}: ${String(err)}`).toBe(true);
  const e = err as { code: string; field?: string; sample?: unknown; reason: string; message: string };
  expect(codes(c), `${where} ${c.name}: ${e.message}`).toContain(e.code);
  expect(e.reason, `${where} ${c.name}`).toMatch(c.reason);
  if (c.field !== null) expect(e.field, `${where} ${c.name}`).toBe(c.field);
}

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  ({ valid } = await writeProject(dir));
  [bad, unusual] = await Promise.all([badCases(), unusualCases()]);
  writeCorpus(dir, [...bad, ...unusual]);
  const trained = await cli(['train', 'model.yaml', '--out', 'model', '--epochs', '1', '--seed', '5', '--json']);
  if (trained.code !== 0) throw new Error(`train failed: ${trained.stderr}`);
  model = await FusionModel.load(path.join(dir, 'model'));
});

afterAll(() => {
  model?.dispose();
  // SIGTERM, which the mmfuse launcher passes on: SIGKILL would stop only the launcher and orphan the server.
  if (server !== undefined && server.child.exitCode === null) server.child.kill('SIGTERM');
});

describe('bad-input corpus through the library', () => {
  it('each encoder\'s prepare (from the registry) and FusionModel.predict refuse every case with a typed error', async () => {
    const enc = new Map<string, ModalityEncoder>();
    for (const [field, input] of Object.entries(model.config.inputs)) enc.set(field, encoders.create(encoderKind(input), encoderConfig(input)) as ModalityEncoder);
    const before = tf.memory().numTensors;
    const cases = bad.filter((c) => c.routes.includes('library'));
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      const field = c.field as string;
      const raw = c.bytes ?? c.value;
      const prepared = await (enc.get(field) as ModalityEncoder).prepare(raw, { sample: c.name, field, baseDir: dir }).then(() => undefined, (e: unknown) => e);
      expectRefusal(prepared, c, 'prepare');
      expect((prepared as { sample?: unknown }).sample, c.name).toBe(c.name);
      const input: Record<string, unknown> = { text: 'good day', [field]: manifestValue(c) };
      const predicted = await model.predict(input, { baseDir: dir }).then(() => undefined, (e: unknown) => e);
      expectRefusal(predicted, c, 'predict');
    }
    for (const e of enc.values()) e.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('processes the valid but unusual inputs', async () => {
    const before = tf.memory().numTensors;
    for (const u of unusual) {
      const p = await model.predict({ [u.field]: manifestValue(u) }, { baseDir: dir });
      expect(p.modalitiesUsed, u.name).toEqual([u.field]);
      expect(['no', 'yes'], u.name).toContain(p.label);
      expect(Object.values(p.probabilities ?? {}).every(Number.isFinite), u.name).toBe(true);
      expect(Object.keys(p.probabilities ?? {}).sort()).toEqual(['no', 'yes']);
    }
    // The EXIF orientation is applied: the 24×12 stored pixels are shown 12×24.
    const exif = unusual.find((u) => u.name === 'img-exif-rotated') as UnusualCase;
    const img = await loadImage(exif.bytes as Uint8Array);
    expect([img.width, img.height]).toEqual([12, 24]);
    // A lone surrogate is read as U+FFFD, as the text package documents.
    const lone = unusual.find((u) => u.name === 'text-lone-surrogate') as UnusualCase;
    const a = await model.predict({ text: lone.value as string });
    const b = await model.predict({ text: (lone.value as string).replace(/[\uD800-\uDFFF]/g, '\uFFFD') });
    expect(a.probabilities).toEqual(b.probabilities);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('bad-input corpus through `mmfuse eval --json`', () => {
  it('lists every bad line in skipped (line, sample, field, code, reason) and scores the rest', async () => {
    const good = valid.map((v) => JSON.stringify({ id: v.id, text: v.text, audio: v.audio, image: v.image, label: v.label }));
    const odd = unusual.map((u) => JSON.stringify({ id: u.name, [u.field]: manifestValue(u), label: 'yes' }));
    const lines: string[] = [...good.slice(0, 3)];
    const lineOf = new Map<string, number>();
    for (const c of bad) {
      let line: string;
      if (c.line !== undefined) line = c.line;
      else {
        const row: Record<string, unknown> = { id: c.name, text: 'good day', label: 'yes' };
        if (c.field !== null) row[c.field] = c.field === 'label' || c.bytes !== undefined || c.value !== undefined ? manifestValue(c) : undefined;
        if (c.name === 'label-missing') delete row.label;
        line = JSON.stringify(row);
      }
      lines.push(line);
      lineOf.set(c.name, lines.length);
    }
    lines.push(...odd, ...good.slice(3));
    writeFileSync(path.join(dir, 'corpus.jsonl'), `${lines.join('\n')}\n`);
    const r = await cli(['eval', '--model', 'model', '--data', 'corpus.jsonl', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(out.n).toBe(good.length + odd.length);
    expect(out.skipped.map((s: { line: number }) => s.line)).toEqual(bad.map((c) => lineOf.get(c.name)));
    for (const c of bad) {
      const s = out.skipped.find((x: { line: number }) => x.line === lineOf.get(c.name));
      expect(s.file).toBe(path.join(dir, 'corpus.jsonl'));
      expect(codes(c), `${c.name}: ${s.reason}`).toContain(s.code);
      expect(s.reason, c.name).toMatch(c.reason);
      if (c.field !== null) expect(s.field, c.name).toBe(c.field);
      if (c.line === undefined) expect(s.sample, c.name).toBe(c.name);
    }
    // People see each one on stderr too.
    for (const c of bad) expect(r.stderr).toContain(`corpus.jsonl:${lineOf.get(c.name)}`);
  });
});

describe('bad-input corpus through `mmfuse serve`', () => {
  it('answers 400 with the code, field and sample for each bad request, 200 for the unusual ones, and keeps serving under a mixed load', async () => {
    server = await startCli(['serve', '--model', 'model', '--port', '0', '--max-wait-ms', '1'], /listening on (http:\/\/127\.0\.0\.1:\d+)/, { cwd: dir });
    const base = server.match[1] as string;
    const post = async (body: unknown): Promise<{ status: number; json: any }> => {
      const res = await fetch(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: await res.json() };
    };
    const cases = bad.filter((c) => c.routes.includes('server'));
    for (const c of cases) {
      const field = c.field as string;
      const value = c.bytes !== undefined ? Buffer.from(c.bytes).toString('base64') : c.value;
      const r = await post({ id: c.name, ...(field === 'text' ? {} : { text: 'good day' }), [field]: value });
      expect(r.status, `${c.name}: ${JSON.stringify(r.json)}`).toBe(400);
      expectRefusal(r.json.error, c, 'server');
      expect(r.json.error.sample, c.name).toBe(c.name);
    }
    for (const u of unusual) {
      const value = u.bytes !== undefined ? Buffer.from(u.bytes).toString('base64') : u.value;
      const r = await post({ id: u.name, [u.field]: value });
      expect(r.status, `${u.name}: ${JSON.stringify(r.json)}`).toBe(200);
      expect(r.json.modalitiesUsed).toEqual([u.field]);
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/status="5\d\d"/);

    // Mutated valid files through the real decoders behind HTTP: only 200 or a typed 400, never a 5xx.
    const goodWav = readFileSync(path.join(dir, valid[0]?.audio as string));
    const goodPng = readFileSync(path.join(dir, valid[0]?.image as string));
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (audio, mutations) => {
        const bytes = Buffer.from(mutate(audio ? goodWav : goodPng, mutations)).toString('base64');
        const r = await post({ id: 'mutated', text: 'good day', [audio ? 'audio' : 'image']: bytes });
        expect([200, 400], JSON.stringify(r.json)).toContain(r.status);
        if (r.status === 400) expect(r.json.error).toMatchObject({ code: expect.stringMatching(/^(INVALID_INPUT|UNSUPPORTED_FORMAT|LIMIT_EXCEEDED)$/), field: audio ? 'audio' : 'image', sample: 'mutated' });
      }),
      { numRuns: 60, seed: 5150 },
    );

    // The fast variant of the load benchmark (bench/load.bench.ts): 4 keep-alive clients sending 15
    // requests each (a count, not a duration, so a loaded machine runs the same test), a mix of good
    // requests and the corpus's bad ones; every answer as expected, the tensor count unchanged.
    const tensorsBefore = metricValue(metrics, 'mmfuse_tensors');
    const rng = createRng(17);
    const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
    const goodBody = json({ text: valid[0]?.text, audio: readFileSync(path.join(dir, valid[0]?.audio as string)).toString('base64'), image: readFileSync(path.join(dir, valid[0]?.image as string)).toString('base64') });
    const badBodies = cases.map((c) => json({ id: c.name, [c.field as string]: c.bytes !== undefined ? Buffer.from(c.bytes).toString('base64') : c.value }));
    const load = await runLoad({
      baseUrl: base, clients: 4, durationSeconds: 3600, maxRequestsPerClient: 15, requestTimeoutMillis: 600_000,
      next: () => (rng.next() < 0.5
        ? { kind: 'good', method: 'POST', path: '/v1/predict', headers: { 'content-type': 'application/json' }, body: goodBody, expect: [200] }
        : { kind: 'bad', method: 'POST', path: '/v1/predict', headers: { 'content-type': 'application/json' }, body: badBodies[rng.int(badBodies.length)] as Buffer, expect: [400] }),
    });
    expect(load.errors).toEqual([]);
    expect(load.unexpectedSamples).toEqual([]);
    expect((load.kinds.good?.n ?? 0) + (load.kinds.bad?.n ?? 0)).toBe(60);
    expect(load.kinds.good?.n).toBeGreaterThan(4);
    expect(load.kinds.bad?.n).toBeGreaterThan(4);
    expect(load.socketsOpened).toBe(4);
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(metricValue(after, 'mmfuse_tensors')).toBe(tensorsBefore);
    expect(after).not.toMatch(/status="5\d\d"/);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
