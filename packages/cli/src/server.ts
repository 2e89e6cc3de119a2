/**
 * The prediction HTTP server (`mmfuse serve`), on `node:http` only:
 * - `POST /v1/predict`: a JSON object of input fields (text as a string, audio/image as base64 or a
 *   `data:` URL), or a `multipart/form-data` upload (text fields as form values, files as file parts).
 * - `GET /healthz`: `{ status: "ok", model }`, or 503 while shutting down.
 * - `GET /metrics`: Prometheus text.
 * Bad input answers 400 with `{ error: { code, message, field, sample } }`, a body over the limit 413, an
 * unsupported content type 415; only a bug answers 500. Concurrent requests are batched into one model call.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidInputError, LimitExceededError, MmfuseError, isMmfuseError } from '@mmfuse/core';
import { Batcher } from './internal/batcher.js';
import type { Outcome } from './internal/batcher.js';
import { ServerMetrics } from './internal/metrics.js';
import { multipartBoundary, parseMultipart } from './internal/multipart.js';

/** One sample to predict: field name → value (strings for text, `Buffer`s for binary modalities). */
export interface PredictRequest {
  /** Sample name for error messages: the request's `id`, or `request-N`. */
  id: string;
  /** `text`: a string; `audio`/`image`: the file bytes; other (plugin) modalities: the JSON value as sent. */
  fields: Record<string, unknown>;
}

/** What a prediction answers; serialized as JSON as it is. */
export interface PredictResponse {
  label: unknown;
  probabilities?: Record<string, number> | number[];
  contributions?: Record<string, number>;
  modalitiesUsed?: string[];
  [key: string]: unknown;
}

/**
 * The model behind the server. The server only needs the input fields and a batch call, so it can be
 * tested with a fake and run with `FusionModel`.
 */
export interface Predictor {
  /**
   * Input field → modality type. `text` arrives as a string, `audio` and `image` as bytes (`Buffer`), any
   * other (plugin) modality as the JSON value sent, like a manifest cell.
   */
  readonly fields: Readonly<Record<string, string>>;
  /**
   * Predict a batch. Returns one outcome per request, in order; an `MmfuseError` outcome refuses that
   * request alone (400), the others are answered normally.
   */
  predictBatch(requests: PredictRequest[]): Promise<Outcome<PredictResponse>[]>;
  /** Shown by `/healthz` (labels, engine, ...). */
  describe?(): Record<string, unknown>;
}

export interface ServerOptions {
  predictor: Predictor;
  /** Largest accepted request body. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Most samples per model call. Default 16. */
  maxBatchSize?: number;
  /** How long a request waits for others to batch with. Default 5 ms. */
  maxWaitMillis?: number;
  /** Live tensor count for `/metrics` (e.g. `() => tf.memory().numTensors`). */
  numTensors?: () => number;
  /** How long shutdown waits for in-flight requests before closing connections. Default 10 s. */
  shutdownTimeoutMillis?: number;
  /** Log lines (stderr in the CLI). Default silent. */
  log?: (line: string) => void;
}

export interface PredictionServer {
  readonly server: http.Server;
  readonly metrics: ServerMetrics;
  /** Listen; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stop accepting connections, finish in-flight requests, then close. Idempotent. */
  shutdown(): Promise<void>;
  readonly shuttingDown: boolean;
}

/** A client error with its HTTP status. */
class HttpError extends Error {
  constructor(readonly status: number, readonly error: MmfuseError) {
    super(error.message);
  }
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Modalities whose values are files: base64 in JSON, file parts in multipart. */
const BINARY_TYPES = new Set(['audio', 'image']);
function isBinary(type: string): boolean {
  return BINARY_TYPES.has(type);
}

function decodeBase64(value: string, field: string, sample: string): Buffer {
  let s = value.trim();
  const dataUrl = /^data:[^,]*;base64,/i.exec(s);
  if (dataUrl) s = s.slice(dataUrl[0].length);
  s = s.replace(/\s+/g, '');
  if (s.length === 0) throw new InvalidInputError('is empty; send the file as base64', { sample, field });
  if (!BASE64_RE.test(s) || s.length % 4 === 1) throw new InvalidInputError('is not valid base64; send the file bytes base64-encoded (or use a multipart upload)', { sample, field });
  return Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
}

function errorBody(err: MmfuseError): { error: Record<string, unknown> } {
  const out: Record<string, unknown> = { code: err.code, message: err.message, reason: err.reason };
  if (err.field !== undefined) out.field = err.field;
  if (err.sample !== undefined) out.sample = err.sample;
  return { error: out };
}

export function createPredictionServer(options: ServerOptions): PredictionServer {
  const { predictor } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const log = options.log ?? (() => {});
  const metrics = new ServerMetrics(options.numTensors ? { numTensors: options.numTensors } : {});
  const batcher = new Batcher<PredictRequest, PredictResponse>(
    async (reqs) => predictor.predictBatch(reqs),
    {
      ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      ...(options.maxWaitMillis !== undefined ? { maxWaitMillis: options.maxWaitMillis } : {}),
      onBatch: (size, failed) => metrics.recordBatch(size, failed),
    },
  );
  let requestCounter = 0;
  let shuttingDown = false;
  let shutdownPromise: Promise<void> | undefined;

  function send(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', Buffer.byteLength(text));
    if (shuttingDown) res.setHeader('connection', 'close');
    res.end(text);
  }

  /** Read the body up to the limit; past it, answer 413 and drain what the client still sends. */
  function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      const tooLarge = () => new HttpError(413, new LimitExceededError(`request body exceeds the limit of ${maxBodyBytes} bytes; send smaller files or raise --max-body-bytes`, { sample: 'request', details: { maxBodyBytes } }));
      if (Number.isFinite(declared) && declared > maxBodyBytes) {
        drain(req);
        reject(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          failed = true;
          chunks.length = 0;
          drain(req);
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)); });
      req.on('error', (err) => { if (!failed) { failed = true; reject(err); } });
    });
  }

  /** Discard the rest of a refused body so the client reads our answer, but not forever. */
  function drain(req: http.IncomingMessage): void {
    let discarded = 0;
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > 64 * 1024 * 1024) req.socket.destroy();
    });
    req.resume();
  }

  function parseRequest(body: Buffer, contentType: string): PredictRequest {
    const id = `request-${++requestCounter}`;
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const fields: Record<string, unknown> = {};
    let sample = id;
    const known = Object.keys(predictor.fields);
    const checkField = (name: string): string => {
      const type = predictor.fields[name];
      if (type === undefined) {
        throw new InvalidInputError(`unknown input field; this model takes ${known.map((k) => `"${k}"`).join(', ')}`, { sample, field: name });
      }
      if (name in fields) throw new InvalidInputError('is given more than once', { sample, field: name });
      return type;
    };
    if (mediaType === 'application/json' || mediaType === '' || mediaType.endsWith('+json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new InvalidInputError(`request body is not valid JSON (${(err as Error).message})`, { sample });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new InvalidInputError('request body must be a JSON object of input fields, e.g. {"text": "..."}', { sample });
      }
      const obj = parsed as Record<string, unknown>;
      if (obj.id !== undefined) {
        if (typeof obj.id !== 'string' && typeof obj.id !== 'number') throw new InvalidInputError('"id" must be a string or a number', { sample, field: 'id' });
        sample = String(obj.id);
      }
      for (const [name, value] of Object.entries(obj)) {
        if (name === 'id' || value === null) continue;
        const type = checkField(name);
        if (!isBinary(type) && type !== 'text') { fields[name] = value; continue; }
        if (typeof value !== 'string') {
          throw new InvalidInputError(`expected ${type === 'text' ? 'a string' : 'a base64 string'}, got ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`}`, { sample, field: name });
        }
        fields[name] = type === 'text' ? value : decodeBase64(value, name, sample);
      }
    } else if (mediaType === 'multipart/form-data') {
      const parts = parseMultipart(body, multipartBoundary(contentType));
      for (const part of parts) {
        if (part.name === 'id' && part.filename === undefined) { sample = part.data.toString('utf8'); continue; }
        const type = checkField(part.name);
        if (type === 'text') fields[part.name] = part.data.toString('utf8');
        else if (!isBinary(type)) {
          // A plugin modality's value is JSON, as in a manifest.
          try {
            fields[part.name] = JSON.parse(part.data.toString('utf8'));
          } catch {
            throw new InvalidInputError(`a ${type} value must be JSON, got ${JSON.stringify(part.data.subarray(0, 40).toString('utf8'))}`, { sample, field: part.name });
          }
        } else {
          if (part.data.length === 0) throw new InvalidInputError('uploaded file is empty', { sample, field: part.name });
          fields[part.name] = Buffer.from(part.data);
        }
      }
    } else {
      throw new HttpError(415, new MmfuseError('UNSUPPORTED_FORMAT', `Content-Type ${JSON.stringify(mediaType)} is not accepted; send application/json or multipart/form-data`, { sample }));
    }
    if (Object.keys(fields).length === 0) {
      throw new InvalidInputError(`request has no input fields; send at least one of ${known.map((k) => `"${k}"`).join(', ')}`, { sample });
    }
    return { id: sample, fields };
  }

  async function handlePredict(req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    const body = await readBody(req);
    const request = parseRequest(body, req.headers['content-type'] ?? '');
    const outcome = await batcher.submit(request);
    if (outcome.ok) {
      send(res, 200, { id: request.id, ...outcome.value });
      return 200;
    }
    throw outcome.error;
  }

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = ['/v1/predict', '/healthz', '/metrics'].includes(url.pathname) ? url.pathname : 'other';
    const method = req.method ?? 'GET';
    metrics.inFlight++;
    let finished = false;
    const done = (status: number): void => {
      if (finished) return;
      finished = true;
      metrics.inFlight--;
      metrics.recordRequest(route, method, status, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.on('finish', () => done(res.statusCode));
    res.on('close', () => done(res.statusCode));

    const allow = (methods: string): boolean => {
      if (methods.split(',').includes(method)) return true;
      res.setHeader('allow', methods);
      send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${url.pathname}; use ${methods}` } });
      return false;
    };

    if (route === '/healthz') {
      if (!allow('GET,HEAD')) return;
      if (shuttingDown) send(res, 503, { status: 'shutting-down' });
      else send(res, 200, { status: 'ok', fields: predictor.fields, ...(predictor.describe ? { model: predictor.describe() } : {}) });
      return;
    }
    if (route === '/metrics') {
      if (!allow('GET,HEAD')) return;
      send(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
      return;
    }
    if (route === 'other') {
      send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${url.pathname}; routes are POST /v1/predict, GET /healthz, GET /metrics` } });
      return;
    }
    if (!allow('POST')) return;
    handlePredict(req, res).catch((err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof HttpError) { send(res, err.status, errorBody(err.error)); return; }
      if (isMmfuseError(err)) { send(res, 400, errorBody(err)); return; }
      log(`internal error on ${method} ${url.pathname}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      send(res, 500, { error: { code: 'INTERNAL', message: 'internal error; the server log has the details' } });
    });
  });
  // A stalled client must not hold a slot forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;

  return {
    server,
    metrics,
    get shuttingDown() { return shuttingDown; },
    listen(port: number, host: string): Promise<AddressInfo> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    shutdown(): Promise<void> {
      if (shutdownPromise !== undefined) return shutdownPromise;
      shuttingDown = true;
      shutdownPromise = new Promise<void>((resolve) => {
        const timeout = setTimeout(() => {
          log(`shutdown: closing connections still open after ${options.shutdownTimeoutMillis ?? 10_000} ms`);
          server.closeAllConnections();
        }, options.shutdownTimeoutMillis ?? 10_000);
        timeout.unref();
        // close() stops accepting and resolves once every connection has ended; in-flight requests finish
        // and their keep-alive sockets close after the response (Connection: close during shutdown).
        server.close(() => { clearTimeout(timeout); resolve(); });
        server.closeIdleConnections();
      });
      return shutdownPromise;
    },
  };
}
