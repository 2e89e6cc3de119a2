// The HTTP server with a fake predictor, in process: routing, JSON and multipart parsing, error answers,
// body limits, batching, metrics and graceful shutdown. tests/cli/serve.test.ts runs it with a real model.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { InternalError, InvalidInputError, LimitExceededError } from '@mmfuse/core';
import { request } from './helpers.js';
import { createPredictionServer, multipartBoundary, parseMultipart } from 'mmfuse';
import type { Outcome, PredictionServer, PredictRequest, PredictResponse, Predictor } from 'mmfuse';

/** A predictor whose answers reveal what it received, and which refuses inputs the way a model does. */
class FakePredictor implements Predictor {
  readonly fields = {
    text: { modality: 'text', input: { kind: 'text', maxBytes: 1 << 20 } },
    audio: { modality: 'audio', input: { kind: 'file', maxBytes: 1 << 20 } },
    image: { modality: 'image', input: { kind: 'file', maxBytes: 1 << 20 } },
  } as const;
  batches: string[][] = [];
  /** While set, a model call waits for it (the test decides when calls finish, not a clock). */
  gate: Promise<void> | undefined;
  async predictBatch(requests: PredictRequest[]): Promise<Outcome<PredictResponse>[]> {
    this.batches.push(requests.map((r) => r.id));
    if (this.gate !== undefined) await this.gate;
    return requests.map((r) => {
      const text = r.fields.text;
      if (typeof text === 'string' && text.includes('crash')) return { ok: false, error: new InternalError('a bug in the model') };
      if (typeof text === 'string' && text.includes('bad')) return { ok: false, error: new InvalidInputError('text is not allowed to say bad', { sample: r.id, field: 'text' }) };
      const audio = r.fields.audio;
      if (audio !== undefined && (!Buffer.isBuffer(audio) || audio.subarray(0, 4).toString('latin1') !== 'RIFF')) {
        return { ok: false, error: new InvalidInputError('not a WAV file (no RIFF header)', { sample: r.id, field: 'audio' }) };
      }
      const image = r.fields.image;
      return {
        ok: true,
        value: {
          label: typeof text === 'string' ? text.toUpperCase() : 'none',
          probabilities: { a: 0.25, b: 0.75 },
          modalitiesUsed: Object.keys(r.fields).sort(),
          audioBytes: Buffer.isBuffer(audio) ? audio.length : 0,
          imageHex: Buffer.isBuffer(image) ? image.toString('hex') : null,
        },
      };
    });
  }
  describe() { return { labels: ['a', 'b'] }; }
}

let running: PredictionServer | undefined;

/** Wait until `check` holds (polled; the test's own timeout catches a hang). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
}
afterEach(async () => { await running?.shutdown(); running = undefined; });

async function start(predictor: Predictor, options: { maxBodyBytes?: number; maxWaitMillis?: number; maxBatchSize?: number } = {}): Promise<string> {
  running = createPredictionServer({ predictor, numTensors: () => 7, ...options });
  const addr = await running.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${addr.port}`;
}

const postJson = (url: string, body: unknown) => request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(40, 1)]);
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]);

function multipartBody(boundary: string, parts: Array<{ name: string; value: Buffer | string; filename?: string; type?: string }>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type !== undefined) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

describe('prediction server (fake predictor)', () => {
  it('answers /healthz, /metrics, unknown routes and wrong methods', async () => {
    const url = await start(new FakePredictor());
    const health = await request(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok', fields: { text: 'text', audio: 'audio', image: 'image' }, model: { labels: ['a', 'b'] } });
    const metrics = await request(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.text).toMatch(/^mmfuse_http_requests_total\{route="\/healthz",method="GET",status="200"\} 1$/m);
    expect(metrics.text).toMatch(/^mmfuse_tensors 7$/m);
    expect(metrics.text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect((await request(`${url}/nope`)).status).toBe(404);
    const wrong = await request(`${url}/v1/predict`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect((await request(`${url}/healthz`, { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('predicts from JSON with text and base64 audio/image, and from a multipart upload', async () => {
    const url = await start(new FakePredictor());
    const r = await postJson(url, { id: 'q1', text: 'hello', audio: wav.toString('base64'), image: `data:image/png;base64,${png.toString('base64')}` });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ id: 'q1', label: 'HELLO', probabilities: { a: 0.25, b: 0.75 }, modalitiesUsed: ['audio', 'image', 'text'], audioBytes: wav.length, imageHex: png.toString('hex') });
    const textOnly = await postJson(url, { text: 'hi' });
    expect(textOnly.json()).toMatchObject({ label: 'HI', modalitiesUsed: ['text'], audioBytes: 0 });
    expect(textOnly.json().id).toMatch(/^request-\d+$/);

    const boundary = '----mmfuse-test-boundary';
    const body = multipartBody(boundary, [
      { name: 'text', value: 'multi part' },
      { name: 'audio', value: wav, filename: 'a.wav', type: 'audio/wav' },
      { name: 'image', value: png, filename: 'x.png', type: 'image/png' },
    ]);
    const m = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    expect(m.status).toBe(200);
    expect(m.json()).toMatchObject({ label: 'MULTI PART', audioBytes: wav.length, imageHex: png.toString('hex') });
    // What a browser / fetch FormData sends parses the same way.
    const form = new FormData();
    form.append('text', 'from fetch');
    form.append('image', new Blob([png], { type: 'image/png' }), 'x.png');
    const f = await fetch(`${url}/v1/predict`, { method: 'POST', body: form });
    expect(f.status).toBe(200);
    expect(await f.json()).toMatchObject({ label: 'FROM FETCH', imageHex: png.toString('hex'), modalitiesUsed: ['image', 'text'] });
  });

  it('passes a plugin modality\'s value through as JSON (JSON body or multipart part)', async () => {
    const seen: unknown[] = [];
    const tabular: Predictor = {
      fields: { stats: { modality: 'tabular', input: { kind: 'json', maxBytes: 1024 } }, text: { modality: 'text', input: { kind: 'text', maxBytes: 1024 } } },
      async predictBatch(requests) {
        return requests.map((r) => {
          seen.push(r.fields.stats);
          const v = r.fields.stats;
          if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) return { ok: false, error: new InvalidInputError('expected an array of numbers', { sample: r.id, field: 'stats' }) };
          return { ok: true, value: { label: String(v.reduce((a: number, b: number) => a + b, 0)) } };
        });
      },
    };
    const url = await start(tabular);
    expect((await postJson(url, { stats: [1, 2, 3] })).json().label).toBe('6');
    const body = multipartBody('tb', [{ name: 'stats', value: '[4, 5]' }]);
    const m = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=tb' }, body });
    expect(m.json().label).toBe('9');
    const bad = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=tb' }, body: multipartBody('tb', [{ name: 'stats', value: 'not json' }]) });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatchObject({ field: 'stats', code: 'INVALID_INPUT' });
    expect(bad.json().error.message).toMatch(/a tabular value must be JSON/);
    const wrong = await postJson(url, { stats: 'abc' });
    expect(wrong.status).toBe(400);
    expect(seen).toEqual([[1, 2, 3], [4, 5], 'abc']);
  });

  it('answers bad input with 400 naming the code, field and sample; never 500', async () => {
    const url = await start(new FakePredictor());
    const cases: Array<[unknown, RegExp, string | undefined]> = [
      ['{"text": ', /request body is not valid JSON/, undefined],
      [[1, 2], /must be a JSON object/, undefined],
      [{}, /request has no input fields; send at least one of "text", "audio", "image"/, undefined],
      [{ txt: 'x' }, /unknown input field; this model takes "text", "audio", "image"/, 'txt'],
      [{ text: 42 }, /expected a string, got a number/, 'text'],
      [{ audio: ['x'] }, /expected a base64 string, got an array/, 'audio'],
      [{ audio: 'not base64 !!' }, /not valid base64/, 'audio'],
      [{ image: '' }, /is empty/, 'image'],
      [{ text: 'a bad word' }, /text is not allowed to say bad/, 'text'],
      [{ audio: Buffer.from('OGGS....').toString('base64') }, /no RIFF header/, 'audio'],
    ];
    for (const [body, message, field] of cases) {
      const r = await postJson(url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      const err = r.json().error;
      expect(err.code).toBe('INVALID_INPUT');
      expect(err.message).toMatch(message);
      expect(err.field).toBe(field);
      expect(String(err.sample)).toMatch(/^request-\d+$/);
    }
    const named = await postJson(url, { id: 'sample-7', text: 'bad' });
    expect(named.json().error).toMatchObject({ sample: 'sample-7', field: 'text' });
    expect(named.json().error.message).toMatch(/^sample "sample-7", field "text": /);
    const wrongType = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.json().error.code).toBe('UNSUPPORTED_FORMAT');
    const noBoundary = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' });
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.json().error.message).toMatch(/no valid boundary/);
    const nameless = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=zz' }, body: '--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--zz--\r\n' });
    expect(nameless.status).toBe(400);
    expect(nameless.json().error.message).toMatch(/request has no input fields/);
    const truncated = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=zz' }, body: '--zz\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello' });
    expect(truncated.status).toBe(400);
    expect(truncated.json().error.message).toMatch(/without its closing boundary/);
    // A bug in the model is the one thing that answers 500, without leaking internals.
    const bug = await postJson(url, { text: 'crash' });
    expect(bug.status).toBe(500);
    expect(bug.json().error.message).not.toMatch(/a bug in the model/);
    // The server is still serving.
    expect((await postJson(url, { text: 'still up' })).json().label).toBe('STILL UP');
  });

  it('refuses bodies over the limit with 413, declared or streamed, and keeps serving', async () => {
    const url = await start(new FakePredictor(), { maxBodyBytes: 1024 });
    const big = JSON.stringify({ text: 'x'.repeat(5000) });
    const declared = await postJson(url, big);
    expect(declared.status).toBe(413);
    expect(declared.json().error.code).toBe('LIMIT_EXCEEDED');
    expect(declared.json().error.message).toMatch(/exceeds the limit of 1024 bytes/);
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(512, 0x61));
    const streamed = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, chunks });
    expect(streamed.status).toBe(413);
    expect((await postJson(url, { text: 'small' })).status).toBe(200);
  });

  it('batches concurrent requests into one model call, and a bad sample fails alone', async () => {
    const fake = new FakePredictor();
    // The first request's model call is held until the other five are waiting: they must then go as one
    // batch, whatever the speed of the machine.
    let release: () => void = () => undefined;
    fake.gate = new Promise((r) => { release = r; });
    const url = await start(fake, { maxWaitMillis: 0, maxBatchSize: 16 });
    const first = postJson(url, { text: 'one' });
    await until(() => fake.batches.length === 1);
    const texts = ['two', 'bad three', 'four', 'five', 'six'];
    const rest = texts.map((text) => postJson(url, { text }));
    await until(async () => /^mmfuse_http_requests_in_flight 7$/m.test((await request(`${url}/metrics`)).text));
    fake.gate = undefined;
    release();
    const replies = await Promise.all([first, ...rest]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 400, 200, 200, 200]);
    expect(replies.map((r) => r.json().label ?? r.json().error.field)).toEqual(['ONE', 'TWO', 'text', 'FOUR', 'FIVE', 'SIX']);
    expect(fake.batches.map((b) => b.length)).toEqual([1, 5]);
    expect(fake.batches.flat()).toHaveLength(6);
    const metrics = (await request(`${url}/metrics`)).text;
    expect(metrics).toMatch(/^mmfuse_predictions_total 5$/m);
    expect(metrics).toMatch(/^mmfuse_prediction_errors_total 1$/m);
    expect(metrics).toMatch(/^mmfuse_http_requests_total\{route="\/v1\/predict",method="POST",status="200"\} 5$/m);
    expect(metrics).toMatch(/^mmfuse_http_requests_total\{route="\/v1\/predict",method="POST",status="400"\} 1$/m);
    expect(metrics).toMatch(/^mmfuse_http_request_duration_seconds_count\{route="\/v1\/predict"\} 6$/m);
    expect(metrics).toMatch(/^mmfuse_predict_batch_size_count 2$/m);
    expect(metrics).toMatch(/^mmfuse_predict_batch_size_count \d+$/m);
    // With a batch size of 2 the six requests need at least three calls.
    const fake2 = new FakePredictor();
    await running?.shutdown();
    const url2 = await start(fake2, { maxWaitMillis: 100, maxBatchSize: 2 });
    await Promise.all(texts.map((text) => postJson(url2, { text })));
    expect(fake2.batches.every((b) => b.length <= 2)).toBe(true);
    expect(fake2.batches.length).toBeGreaterThanOrEqual(3);
  });

  it('shuts down gracefully: in-flight requests finish, new ones are refused', async () => {
    const fake = new FakePredictor();
    let release: () => void = () => undefined;
    fake.gate = new Promise((r) => { release = r; });
    const url = await start(fake, { maxWaitMillis: 0 });
    const inFlight = postJson(url, { text: 'slow' });
    await until(() => fake.batches.length === 1); // the request is in the model
    const server = running as PredictionServer;
    const closed = server.shutdown();
    expect(server.shuttingDown).toBe(true);
    release();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.json().label).toBe('SLOW');
    await closed;
    await expect(request(`${url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('prediction server under random input', () => {
  it('answers any body with 200 or a 4xx error object, never 500, and keeps serving', async () => {
    const url = await start(new FakePredictor(), { maxBodyBytes: 4096, maxWaitMillis: 0 });
    const field = fc.constantFrom('text', 'audio', 'image', 'id', 'other', '');
    const value = fc.oneof(fc.string(), fc.base64String(), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
    const jsonBody = fc.oneof(
      fc.dictionary(field, value).map((o) => JSON.stringify(o)),
      fc.json(),
      fc.string(),
    ).map((t) => ({ type: 'application/json', body: Buffer.from(t) }));
    const multipart = fc.tuple(fc.constantFrom('b', 'XyZ'), fc.array(fc.tuple(field, fc.uint8Array({ maxLength: 64 }), fc.boolean()), { maxLength: 4 }), fc.boolean())
      .map(([boundary, parts, close]) => {
        const chunks = parts.map(([name, data, file]) => Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="f.bin"' : ''}\r\n\r\n`), Buffer.from(data), Buffer.from('\r\n')]));
        return { type: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([...chunks, Buffer.from(close ? `--${boundary}--\r\n` : '')]) };
      });
    const raw = fc.tuple(fc.constantFrom('application/json', 'multipart/form-data; boundary=q', 'text/plain', ''), fc.uint8Array({ maxLength: 6000 }))
      .map(([type, bytes]) => ({ type, body: Buffer.from(bytes) }));
    await fc.assert(fc.asyncProperty(fc.oneof(jsonBody, multipart, raw), async ({ type, body }) => {
      const headers: Record<string, string> = type === '' ? {} : { 'content-type': type };
      const r = await request(`${url}/v1/predict`, { method: 'POST', headers, body });
      expect([200, 400, 413, 415]).toContain(r.status);
      const json = r.json();
      if (r.status === 200) expect(typeof json.label).toBe('string');
      else expect(typeof json.error.code).toBe('string');
    }), { numRuns: 150, seed: 4242 });
    expect((await postJson(url, { text: 'alive' })).json().label).toBe('ALIVE');
  });
});

describe('multipart parser (busboy, streaming)', () => {
  it('reads names, filenames, content types and binary data with CRLFs inside', async () => {
    const data = Buffer.from([0x0d, 0x0a, 0x2d, 0x2d, 0x00, 0xff, 0x0d, 0x0a]);
    const body = multipartBody('b0und', [
      { name: 'text', value: 'héllo' },
      { name: 'image', value: data, filename: 'we\\"ird.png', type: 'Image/PNG; foo=bar' },
    ]);
    const type = 'multipart/form-data; boundary="b0und"';
    expect(multipartBoundary(type)).toBe('b0und');
    // From a stream that delivers the body a few bytes at a time, as a socket does.
    const parts = await parseMultipart(Readable.from(Array.from({ length: Math.ceil(body.length / 7) }, (_, i) => body.subarray(i * 7, i * 7 + 7))), type);
    expect(parts).toHaveLength(2);
    expect(parts[0]).toMatchObject({ name: 'text', contentType: 'text/plain' });
    expect(parts[0]?.data.toString('utf8')).toBe('héllo');
    expect(parts[1]).toMatchObject({ name: 'image', contentType: 'image/png', filename: 'we"ird.png' });
    expect(Buffer.compare(parts[1]!.data, data)).toBe(0);
  });

  it('refuses malformed bodies with InvalidInputError and oversized parts with LimitExceededError', async () => {
    const type = 'multipart/form-data; boundary=b';
    const bad = [
      'no boundary at all',
      '--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--',
      '--b\r\nnot a header\r\n\r\nx\r\n--b--',
      '--bXX',
      '--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello',
    ];
    for (const text of bad) await expect(parseMultipart(Buffer.from(text), type), text).rejects.toThrow(InvalidInputError);
    expect(() => multipartBoundary('multipart/form-data')).toThrow(/no valid boundary/);
    // A part without Content-Disposition has no field name: it is ignored (RFC 7578 4.2), leaving no fields.
    expect(await parseMultipart(Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--'), type)).toEqual([]);
    const many = multipartBody('b', Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, value: 'x' })));
    await expect(parseMultipart(many, type)).rejects.toThrow(/more than 32 parts/);
    const big = multipartBody('b', [{ name: 'audio', value: Buffer.alloc(5000, 1), filename: 'a.wav' }]);
    const err = await parseMultipart(big, type, { maxPartBytes: () => 4096 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err).toMatchObject({ field: 'audio', code: 'LIMIT_EXCEEDED' });
  });
});
