// One request must never kill the server. Raw bytes over loopback sockets (no HTTP client that would clean
// them up first): the request lines that used to end `mmfuse serve` (`GET //[`, `//a:99999/`,
// `http://[/`), then a fast-check fuzz of request lines, headers and bodies, first against the server in
// process, then against a spawned `mmfuse serve` with a real model. Every case is answered with a status
// below 500 (or the connection closes when the request itself was cut short), and the server answers
// /healthz after each. A plugin that throws from a timer and leaves a rejection unawaited is logged and
// survived; a client that leaves mid-body is counted as `aborted` in /metrics, never as a success.
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '@mmfuse/core';
import { createPredictionServer, main } from 'mmfuse';
import type { Outcome, PredictionServer, PredictRequest, PredictResponse, Predictor } from 'mmfuse';
import { jsonl, writeSamples } from '../cli/fixtures.js';
import { repoRoot, request, startCli } from '../cli/helpers.js';

/** What came back on one raw connection: the status line's code (if any answer came) and the raw text. */
interface RawReply { status: number | undefined; text: string }

/** How long one exchange may take before it counts as a hang (hang detection only; generous on purpose). */
const HANG_MILLIS = 300_000;

/**
 * Write `bytes` on a fresh connection, half-close it, and read until the server closes it or one whole
 * answer (head + Content-Length body) has arrived.
 */
function rawExchange(port: number, bytes: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text });
    };
    const timer = setTimeout(() => { settled = true; socket.destroy(); reject(new Error(`no answer within ${HANG_MILLIS} ms to ${JSON.stringify(bytes.subarray(0, 120).toString('latin1'))}`)); }, HANG_MILLIS);
    socket.on('connect', () => { socket.end(bytes); });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head));
      if (length !== null && Buffer.byteLength(text, 'latin1') >= head + 4 + Number(length[1])) finish();
    });
    socket.on('error', () => finish());
    socket.on('close', () => finish());
  });
}

/** A predictor that answers every request from its text and refuses one word, as a model refuses bad input. */
const fake: Predictor = {
  fields: { text: { modality: 'text', input: { kind: 'text', maxBytes: 4096 } }, image: { modality: 'image', input: { kind: 'file', maxBytes: 4096 } } },
  async predictBatch(requests: PredictRequest[]): Promise<Outcome<PredictResponse>[]> {
    return requests.map((r) => (r.fields.text === 'bad'
      ? { ok: false, error: new InvalidInputError('refused', { sample: r.id, field: 'text' }) }
      : { ok: true, value: { label: 'ok', modalitiesUsed: Object.keys(r.fields) } }));
  },
};

/**
 * The request lines of the report: each used to throw `TypeError: Invalid URL` outside every catch. A target
 * that is no valid URI is a 400; `//a:99999/` is a valid (unknown) path in origin form, so a 404.
 */
const KILLERS: Array<[string, number]> = [
  ['GET //[ HTTP/1.1', 400], ['GET //a:99999/ HTTP/1.1', 404], ['GET http://[/ HTTP/1.1', 400], ['POST //[/v1/predict HTTP/1.1', 400],
  ['GET http://a:99999/healthz HTTP/1.1', 400], ['GET //%zz HTTP/1.1', 400], ['GET /v1/predict?q=[x] HTTP/1.1', 400],
];

const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*+'.split('')), minLength: 1, maxLength: 12 });
const anyText = (maxLength: number) => fc.string({ unit: fc.oneof(fc.constantFrom(...'/[]:@%?#\\.-_~!$&\'()*+,;= \t"<>{}|^`'.split('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\u00e9', '\u4e2d', '\u0000', '\r', '\n', '\u007f')), maxLength });

/** A request as raw bytes: a request line, headers and a body, each well or badly formed. */
const rawRequest = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'BREW', ''), token),
  target: fc.oneof(
    fc.constantFrom('/v1/predict', '/healthz', '/metrics', '//[', '//a:99999/', 'http://[/', '*', 'http://127.0.0.1/healthz', '/v1/predict?x=[', '/%', ''),
    fc.tuple(fc.constantFrom('/', '//', 'http://', 'http://[', 'https://a:', '', '/v1/'), anyText(40)).map(([a, b]) => a + b),
  ),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', '', 'http/1.1', 'HTTP/9.9'),
  headers: fc.array(fc.tuple(
    fc.oneof(fc.constantFrom('host', 'content-type', 'content-length', 'transfer-encoding', 'origin', 'expect', 'connection', 'x-a', 'content-type '), token, anyText(8)),
    fc.oneof(fc.constantFrom('application/json', 'multipart/form-data; boundary=b', 'chunked', '0', '5', '-1', '99999999999', 'close', '100-continue', 'text/plain'), anyText(30)),
  ), { maxLength: 6 }),
  body: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('{"text":"hi"}', '{"text":"bad"}', '{"image":"iVBORw0KGgo="}', '--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi\r\n--b--\r\n').map((s) => new Uint8Array(Buffer.from(s)))),
  eol: fc.constantFrom('\r\n', '\n'),
  host: fc.boolean(),
}).map((r) => {
  const lines = [`${r.method} ${r.target} ${r.version}`.trim(), ...(r.host ? ['Host: 127.0.0.1'] : []), ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  return Buffer.concat([Buffer.from(lines.join(r.eol) + r.eol + r.eol, 'utf8'), Buffer.from(r.body)]);
});

/** Send one raw request; the answer is below 500 (or none, for a request the client cut short), and the server still answers. */
async function survive(port: number, bytes: Buffer): Promise<RawReply> {
  const reply = await rawExchange(port, bytes);
  if (reply.status !== undefined) expect(reply.status, reply.text.slice(0, 300)).toBeLessThan(500);
  const health = await request(`http://127.0.0.1:${port}/healthz`);
  expect(health.status).toBe(200);
  return reply;
}

function metricsLines(text: string, pattern: RegExp): string[] {
  return text.split('\n').filter((l) => pattern.test(l));
}

describe('the prediction server under hostile request lines, headers and bodies (in process)', () => {
  let server: PredictionServer;
  let port: number;
  const logged: string[] = [];
  beforeAll(async () => {
    server = createPredictionServer({ predictor: fake, maxWaitMillis: 0, log: (l) => logged.push(l) });
    port = (await server.listen(0, '127.0.0.1')).port;
  });
  afterAll(async () => { await server.shutdown(); });

  it('answers the request lines that used to kill it with 400, and keeps serving', async () => {
    for (const [line, status] of KILLERS) {
      const r = await survive(port, Buffer.from(`${line}\r\nHost: 127.0.0.1\r\n\r\n`));
      expect(r.status, `${line}: ${r.text}`).toBe(status);
      expect(r.text, line).toMatch(status === 400 ? /"code":"INVALID_INPUT"/ : /"code":"NOT_FOUND"/);
    }
    // The same path as an ordinary client sends it is still routed.
    expect((await rawExchange(port, Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))).status).toBe(200);
    expect((await rawExchange(port, Buffer.from('GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n'))).status).toBe(200);
    expect(logged.filter((l) => /internal error/.test(l))).toEqual([]);
  });

  it('survives a fuzz of request lines, headers and bodies: every answer < 500, /healthz after each', async () => {
    let answered = 0;
    await fc.assert(fc.asyncProperty(rawRequest, async (bytes) => {
      if ((await survive(port, bytes)).status !== undefined) answered++;
    }), { numRuns: 300, seed: 1414 });
    // Most cases get an answer (a request cut short may only see the connection close).
    expect(answered).toBeGreaterThan(200);
    const metrics = (await request(`http://127.0.0.1:${port}/metrics`)).text;
    expect(metricsLines(metrics, /^mmfuse_http_requests_total\{.*status="5\d\d"/)).toEqual([]);
    expect(logged.filter((l) => /internal error/.test(l))).toEqual([]);
  });
});

describe('`mmfuse serve` (spawned, a real model) under hostile requests', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startCli>> | undefined;
  let port: number;
  const plugin = path.join(repoRoot, 'tests/fixtures/plugins/chaos-plugin.ts');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-server-fuzz-'));
    const rows = await writeSamples(dir, 's', 16);
    writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows.map((r, i) => ({ id: r.id, text: r.text, stats: [i % 2 === 0 ? 1 : -1, i / 16], label: r.label }))));
    writeFileSync(path.join(dir, 'model.yaml'), [
      'inputs:',
      '  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }',
      '  stats: { type: chaos, encoder: { kind: linear, columns: 2, dim: 4 } }',
      'fusion: { dModel: 8, layers: 1, heads: 2 }',
      'output: { field: label }',
      'training: { epochs: 1, batchSize: 8 }',
      'data: { train: train.jsonl }',
      `plugins: [${JSON.stringify(plugin)}]`,
    ].join('\n'));
    let stderr = '';
    const code = await main(['train', 'model.yaml', '--out', 'model'], { stdout: () => {}, stderr: (t) => { stderr += t; }, cwd: dir });
    if (code !== 0) throw new Error(`train failed: ${stderr}`);
    server = await startCli(['serve', '--model', 'model', '--port', '0', '--max-wait-ms', '0', '--plugin', plugin, '--cors', 'https://app.example'], /listening on http:\/\/127\.0\.0\.1:(\d+)/, { cwd: dir });
    port = Number(server.match[1]);
  });

  afterAll(async () => {
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the killer request lines with 400 and a fuzz of raw requests with < 500, and is still up', async () => {
    for (const [line, status] of KILLERS) expect((await survive(port, Buffer.from(`${line}\r\nHost: 127.0.0.1\r\n\r\n`))).status, line).toBe(status);
    await fc.assert(fc.asyncProperty(rawRequest, async (bytes) => { await survive(port, bytes); }), { numRuns: 120, seed: 2718 });
    const ok = await request(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'good day', stats: [1, 0.5] }) });
    expect(ok.status, ok.text).toBe(200);
    expect(['no', 'yes']).toContain(ok.json().label);
    expect(server?.child.exitCode).toBeNull();
    expect(server?.stderr()).not.toMatch(/internal error/);
  });

  it('logs an exception thrown from a plugin\'s timer and a rejection nobody awaited, and keeps serving', async () => {
    const post = (stats: number[]) => request(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'good day', stats }) });
    const replies = await Promise.all([post([666, 1]), post([1, 2]), post([666, 3])]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    // Both reach the log (poll: the timer fires after the answer).
    while (!(/uncaught exception \(the server keeps running\): Error: chaos: thrown from a timer/.test(server?.stderr() ?? '') && /unhandled rejection \(the server keeps running\): Error: chaos: a rejection nobody awaits/.test(server?.stderr() ?? ''))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(server?.stderr()).toMatch(/uncaught exception \(the server keeps running\): Error: chaos: thrown from a timer/);
    expect(server?.stderr()).toMatch(/unhandled rejection \(the server keeps running\): Error: chaos: a rejection nobody awaits/);
    expect(server?.child.exitCode).toBeNull();
    expect((await post([2, 2])).status).toBe(200);
    expect((await request(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('counts a client that leaves mid-body as aborted in /metrics, not as a success', async () => {
    const before = (await request(`http://127.0.0.1:${port}/metrics`)).text;
    const count = (text: string, status: string): number => Number(new RegExp(`^mmfuse_http_requests_total\\{route="/v1/predict",method="POST",status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    // Half a declared body, then the connection is reset.
    await new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.write('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"text": "half');
        setTimeout(() => { socket.destroy(); resolve(); }, 200);
      });
      socket.on('error', () => resolve());
    });
    let after = before;
    while (count(after, 'aborted') === count(before, 'aborted')) {
      await new Promise((r) => setTimeout(r, 100));
      after = (await request(`http://127.0.0.1:${port}/metrics`)).text;
    }
    expect(count(after, 'aborted')).toBe(count(before, 'aborted') + 1);
    expect(count(after, '200')).toBe(count(before, '200'));
    expect(after).toMatch(/^mmfuse_http_requests_in_flight 1$/m); // only the /metrics request itself
  });

  it('answers browsers of the --cors origin (preflight and answers) and no other origin', async () => {
    const preflight = await request(`http://127.0.0.1:${port}/v1/predict`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/content-type/);
    const answer = await request(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { origin: 'https://app.example', 'content-type': 'application/json' }, body: JSON.stringify({ text: 'good day' }) });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(answer.headers.vary).toMatch(/Origin/);
    const other = await request(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ text: 'good day' }) });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const otherPreflight = await request(`http://127.0.0.1:${port}/v1/predict`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(otherPreflight.status).toBe(405);
  });
});
