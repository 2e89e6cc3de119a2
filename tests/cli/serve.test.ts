// `mmfuse serve` as a user runs it: a spawned server with a trained model on 127.0.0.1 and a free port;
// every endpoint, JSON and multipart uploads, each subset of modalities, bad input (400), oversized bodies
// (413), batching of concurrent requests, a stable tensor count, and graceful shutdown on SIGTERM.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from 'mmfuse';
import { MODALITIES, subsets, writeProject } from './fixtures.js';
import type { Sample } from './fixtures.js';
import { request, startCli } from './helpers.js';
import type { Reply } from './helpers.js';

let dir: string;
let base: string;
let server: Awaited<ReturnType<typeof startCli>> | undefined;
let sample: Sample;


const postJson = (body: unknown) => request(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** JSON request fields of a sample: text as is, files base64. */
function jsonFields(s: Sample, modalities: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of modalities) out[m] = m === 'text' ? s.text : readFileSync(path.join(dir, s[m as 'audio' | 'image'])).toString('base64');
  return out;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"/\\]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-serve-'));
  const { valid } = await writeProject(dir);
  sample = valid[1] as Sample;
  // Trained in this process (the spawned path of train is tested in e2e.test.ts); served by a spawned process.
  let stderr = '';
  const code = await main(['train', 'model.yaml', '--out', 'model', '--epochs', '1'], { stdout: () => {}, stderr: (t) => { stderr += t; }, cwd: dir });
  if (code !== 0) throw new Error(`train failed: ${stderr}`);
  server = await startCli(['serve', '--model', 'model', '--host', '127.0.0.1', '--port', '0', '--max-body-bytes', '200000', '--max-wait-ms', '150'], /listening on (http:\/\/127\.0\.0\.1:\d+)/, { cwd: dir });
  base = server.match[1] as string;
});

afterAll(async () => {
  if (server !== undefined && server.child.exitCode === null) {
    // SIGTERM reaches the real server through the launcher (which forwards it); SIGKILL alone would kill only
    // the launcher and leave the server running when a test failed before the shutdown test.
    const child = server.child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('mmfuse serve (spawned)', () => {
  it('leaves a core to the server: wasm on every core but one unless MMFUSE_THREADS says otherwise', async () => {
    const stop = async (srv: Awaited<ReturnType<typeof startCli>>): Promise<void> => {
      srv.child.kill('SIGTERM');
      await srv.exited;
    };
    const cores = availableParallelism();
    const expected = Math.min(9, Math.max(1, cores - 1)); // 9: the wasm engine's thread cap
    const auto = await startCli(['serve', '--model', 'model', '--host', '127.0.0.1', '--port', '0'], /listening on/, { cwd: dir, env: { MMFUSE_THREADS: '' } });
    await stop(auto);
    expect(auto.stderr()).toContain(`engine: wasm (${expected} thread${expected === 1 ? '' : 's'}`);
    const chosen = await startCli(['serve', '--model', 'model', '--host', '127.0.0.1', '--port', '0'], /listening on/, { cwd: dir, env: { MMFUSE_THREADS: '2' } });
    await stop(chosen);
    expect(chosen.stderr()).toContain('engine: wasm (2 threads');
  });

  it('answers /healthz and /metrics', async () => {
    const h = await request(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(h.json()).toMatchObject({ status: 'ok', fields: Object.fromEntries(MODALITIES.map((m) => [m, m])), model: { labels: ['no', 'yes'], engine: 'wasm' } });
    const m = await request(`${base}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metric(m.text, 'mmfuse_tensors')).toBeGreaterThan(0);
    expect(metric(m.text, 'process_resident_memory_bytes')).toBeGreaterThan(1e6);
  });

  it('predicts from JSON for each subset of modalities, as `mmfuse predict` does', async () => {
    for (const set of subsets(MODALITIES)) {
      const r = await postJson({ id: `subset-${set.join('+')}`, ...jsonFields(sample, set) });
      expect(r.status, r.text).toBe(200);
      const p = r.json();
      expect(p.id).toBe(`subset-${set.join('+')}`);
      expect(p.modalitiesUsed).toEqual(set);
      expect(Object.keys(p.contributions).sort()).toEqual([...set].sort());
      expect(p.probabilities[p.label]).toBe(Math.max(...(Object.values(p.probabilities) as number[])));
    }
    // Same model, same input, same answer as the command line.
    const all = (await postJson(jsonFields(sample, MODALITIES))).json();
    let stdout = '';
    const flags = MODALITIES.flatMap((m) => [`--${m}`, m === 'text' ? sample.text : sample[m]]);
    const code = await main(['predict', '--model', 'model', ...flags, '--json'], { stdout: (t) => { stdout += t; }, stderr: () => {}, cwd: dir });
    expect(code).toBe(0);
    const cli = JSON.parse(stdout);
    expect(all.label).toBe(cli.label);
    for (const label of ['no', 'yes']) expect(all.probabilities[label]).toBeCloseTo(cli.probabilities[label], 5);
  });

  it('accepts a multipart upload with the same result as JSON', async () => {
    const fromJson = (await postJson(jsonFields(sample, MODALITIES))).json();
    const form = new FormData();
    for (const m of MODALITIES) {
      if (m === 'text') form.append('text', sample.text);
      else form.append(m, new Blob([readFileSync(path.join(dir, sample[m]))]), path.basename(sample[m]));
    }
    const r = await fetch(`${base}/v1/predict`, { method: 'POST', body: form });
    expect(r.status).toBe(200);
    const p = (await r.json()) as any;
    expect(p.label).toBe(fromJson.label);
    for (const label of ['no', 'yes']) expect(p.probabilities[label]).toBeCloseTo(fromJson.probabilities[label], 6);
  });

  it('refuses bad input with 400 (code, field, sample), oversized bodies with 413, and keeps serving', async () => {
    const corrupt = Buffer.from('definitely not a PNG or a WAV file').toString('base64');
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ image: corrupt }, 'image', /expected jpeg, png/],
      [{ image: '###' }, 'image', /not valid base64/],
      [{ text: 12 }, 'text', /expected a string/],
      [{ sound: 'x' }, 'sound', /unknown input field/],
    ];
    if (MODALITIES.includes('audio')) cases.push([{ audio: corrupt }, 'audio', /./]);
    for (const [body, field, message] of cases) {
      const r = await postJson({ id: 'bad-one', ...body });
      expect(r.status, r.text).toBe(400);
      const e = r.json().error;
      expect(e).toMatchObject({ code: expect.stringMatching(/^(INVALID_INPUT|UNSUPPORTED_FORMAT)$/), field, sample: 'bad-one' });
      expect(e.message).toMatch(message);
    }
    const big = await postJson({ text: 'x'.repeat(300_000) });
    expect(big.status).toBe(413);
    expect(big.json().error.code).toBe('LIMIT_EXCEEDED');
    expect((await postJson({ text: sample.text })).status).toBe(200);
  });

  it('batches concurrent requests, answers each with its own result, and leaks no tensors', async () => {
    const before = await request(`${base}/metrics`);
    const requests = Array.from({ length: 8 }, (_, i) => (i === 3 ? { id: 'r3', image: 'AAAA' } : { id: `r${i}`, ...jsonFields(sample, i % 2 === 0 ? ['text'] : MODALITIES) }));
    const replies = await Promise.all(requests.map((b) => postJson(b)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 400, 200, 200, 200, 200]);
    replies.forEach((r, i) => { if (i !== 3) expect(r.json().id).toBe(`r${i}`); });
    expect(replies[3]?.json().error).toMatchObject({ sample: 'r3', field: 'image' });
    const after = await request(`${base}/metrics`);
    const calls = metric(after.text, 'mmfuse_predict_batch_size_count') - metric(before.text, 'mmfuse_predict_batch_size_count');
    const batched = metric(after.text, 'mmfuse_predict_batch_size_sum') - metric(before.text, 'mmfuse_predict_batch_size_sum');
    expect(batched).toBe(8);
    // How many calls the 8 took depends on when each arrived (a loaded machine may space them out); that
    // waiting requests go as one batch is shown without a clock in tests/cli/server.test.ts.
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(8);
    expect(metric(after.text, 'mmfuse_prediction_errors_total') - metric(before.text, 'mmfuse_prediction_errors_total')).toBe(1);
    // Serving more requests does not grow the number of live tensors.
    await Promise.all(requests.map((b) => postJson(b)));
    const again = await request(`${base}/metrics`);
    expect(metric(again.text, 'mmfuse_tensors')).toBe(metric(after.text, 'mmfuse_tensors'));
    expect(metric(again.text, 'mmfuse_http_requests_total{route="/v1/predict",method="POST",status="400"}')).toBeGreaterThanOrEqual(2);
  });

  it('fails with exit 1 and an IO error when the port is taken', async () => {
    const port = Number(new URL(base).port);
    let stderr = '';
    let stdout = '';
    const code = await main(['serve', '--model', 'model', '--port', String(port)], { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`error \\[IO\\]: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    expect(stdout).toBe('');
  });

  it('shuts down on SIGTERM after finishing the request in flight, exit code 0', async () => {
    const s = server as NonNullable<typeof server>;
    const body = Buffer.from(JSON.stringify({ id: 'last', text: sample.text }));
    const reply = new Promise<Reply>((resolve, reject) => {
      const req = http.request(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => { const text = Buffer.concat(chunks).toString('utf8'); resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }); });
      });
      req.on('error', reject);
      // Half the body now, the rest after SIGTERM: the request is in flight while the server stops. Each
      // step waits for the server to be there (its metrics, its log), not for a clock.
      req.write(body.subarray(0, 10));
      void (async () => {
        while (metric((await request(`${base}/metrics`)).text, 'mmfuse_http_requests_in_flight') < 2) await new Promise((r) => setTimeout(r, 20));
        s.child.kill('SIGTERM');
        while (!/SIGTERM: no new connections/.test(s.stderr())) await new Promise((r) => setTimeout(r, 20));
        req.end(body.subarray(10));
      })().catch(reject);
    });
    const r = await reply;
    expect(r.status).toBe(200);
    expect(r.json().id).toBe('last');
    expect(r.headers.connection).toBe('close');
    const exit = await s.exited;
    expect(exit.code).toBe(0);
    expect(s.stderr()).toMatch(/SIGTERM: no new connections; finishing in-flight requests\n.*stopped/);
    await expect(request(`${base}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
