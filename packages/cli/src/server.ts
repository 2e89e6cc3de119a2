/**
 * The prediction HTTP server (`mmfuse serve`), on `node:http`:
 * - `POST /v1/predict`: a JSON object of input fields (text as a string, files and bytes as base64 or a
 *   `data:` URL, JSON inputs as JSON), or a `multipart/form-data` upload (text and JSON as form values,
 *   files as file parts); how each field is read comes from its encoder's raw-input kind (`server/body.ts`).
 * - `GET /healthz`: `{ status: "ok", fields, model }`, or 503 while shutting down.
 * - `GET /metrics`: Prometheus text.
 * A refused request is answered `{ error: <the error's toJSON()> }` with the status of its code
 * (`server/errors.ts`): bad input 400, a body over the limit 413, an unsupported content type 415; only a
 * bug answers 500. Concurrent requests are batched into one model call.
 *
 * Every request goes through one catch: a request line the server cannot read (`//[`, `http://[/`) is a
 * 400, anything else thrown on a handler path is a 500 that is logged; neither ends the server. Requests
 * whose client went away before the answer are counted under `status="aborted"` in `/metrics`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InternalError, InvalidInputError, isMmfuseError } from '@mmfuse/core';
import type { MmfuseError } from '@mmfuse/core';
import { Batcher } from './internal/batcher.js';
import { ServerMetrics } from './internal/metrics.js';
import { RequestReader, drain } from './server/body.js';
import { errorResponse } from './server/errors.js';
import type { Predictor, PredictRequest, PredictResponse } from './server/types.js';

export type { Predictor, PredictorField, PredictRequest, PredictResponse } from './server/types.js';

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
  /**
   * Origins allowed to call the server from a browser (CORS): each answer to such an origin carries
   * `Access-Control-Allow-Origin`, and `OPTIONS /v1/predict` answers the preflight. `*` allows any origin.
   * Default none (no CORS headers; browsers refuse cross-origin calls).
   */
  corsOrigins?: readonly string[];
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

const ROUTES = ['/v1/predict', '/healthz', '/metrics'] as const;
type Route = (typeof ROUTES)[number] | 'other';

/** RFC 3986 characters of an origin-form target (path and query): unreserved, sub-delims, `:@/?`, `%XX`. */
const ORIGIN_FORM = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;

/**
 * The path of a request target: origin form (`/v1/predict?x=1`, RFC 3986 characters only) as written up to
 * `?`, absolute form (`http://host/v1/predict`) through the URL parser; undefined when the target is not
 * one (`//[`, `/%zz`, `http://[/`). Routing compares paths as written, so nothing here can throw.
 */
export function requestPath(target: string | undefined): string | undefined {
  if (target === undefined || target === '') return undefined;
  if (target.startsWith('/')) {
    if (!ORIGIN_FORM.test(target)) return undefined;
    const end = target.indexOf('?');
    return end < 0 ? target : target.slice(0, end);
  }
  if (target === '*') return '*';
  if (!/^https?:\/\//i.test(target)) return undefined;
  try {
    return new URL(target).pathname;
  } catch {
    return undefined;
  }
}

/** The status of a client-level error Node reports before a request exists (unparsable request line, headers). */
function clientErrorStatus(err: NodeJS.ErrnoException): number {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

export function createPredictionServer(options: ServerOptions): PredictionServer {
  const { predictor } = options;
  const log = options.log ?? (() => {});
  const metrics = new ServerMetrics(options.numTensors ? { numTensors: options.numTensors } : {});
  const reader = new RequestReader(predictor.fields, options.maxBodyBytes ?? 10 * 1024 * 1024);
  const batcher = new Batcher<PredictRequest, PredictResponse>(
    async (reqs) => predictor.predictBatch(reqs),
    {
      ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      ...(options.maxWaitMillis !== undefined ? { maxWaitMillis: options.maxWaitMillis } : {}),
      onBatch: (size, failed) => metrics.recordBatch(size, failed),
    },
  );
  let shuttingDown = false;
  let shutdownPromise: Promise<void> | undefined;

  function send(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
    if (res.headersSent || res.destroyed) return; // the client went away (counted as aborted)
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', Buffer.byteLength(text));
    if (shuttingDown) res.setHeader('connection', 'close');
    res.end(text);
  }

  function sendError(res: http.ServerResponse, err: MmfuseError, where: string): void {
    const { status, body } = errorResponse(err);
    if (status >= 500) log(`internal error on ${where}: ${err.stack ?? err.message}${err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : ''}`);
    send(res, status, body);
  }

  async function predict(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const request = await reader.read(req);
    const outcome = await batcher.submit(request);
    if (!outcome.ok) throw outcome.error;
    send(res, 200, { id: request.id, ...outcome.value });
  }

  /** Answer a route's method check; false (after a 405) when the method is not allowed. */
  function allow(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, methods: string): boolean {
    const method = req.method ?? 'GET';
    if (methods.split(',').includes(method)) return true;
    res.setHeader('allow', methods);
    send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${pathname}; use ${methods}` } });
    return false;
  }

  function route(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, r: Route): void {
    switch (r) {
      case '/healthz':
        if (!allow(req, res, pathname, 'GET,HEAD')) return;
        if (shuttingDown) send(res, 503, { status: 'shutting-down' });
        else send(res, 200, { status: 'ok', fields: Object.fromEntries(Object.entries(predictor.fields).map(([k, f]) => [k, f.modality])), ...(predictor.describe ? { model: predictor.describe() } : {}) });
        return;
      case '/metrics':
        if (!allow(req, res, pathname, 'GET,HEAD')) return;
        send(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
        return;
      case 'other':
        drain(req);
        send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${JSON.stringify(pathname.slice(0, 200))}; routes are POST /v1/predict, GET /healthz, GET /metrics` } });
        return;
      case '/v1/predict':
        if (req.method === 'OPTIONS' && cors.allowed(req) !== undefined) {
          drain(req);
          res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
          res.setHeader('access-control-allow-headers', 'content-type');
          res.setHeader('access-control-max-age', '600');
          res.statusCode = 204;
          res.end();
          return;
        }
        if (!allow(req, res, pathname, 'POST')) return;
        predict(req, res).catch((err: unknown) => fail(req, res, err, `${req.method} ${pathname}`));
    }
  }

  /** The one answer to anything thrown on a handler path: the error's status (500 for a bug, logged). */
  function fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown, where: string): void {
    if (res.headersSent || res.destroyed) {
      if (!isMmfuseError(err)) log(`error on ${where} after the answer began: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      res.destroy();
      return;
    }
    const e = isMmfuseError(err) ? err : new InternalError(`unexpected error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    drain(req);
    sendError(res, e, where);
  }

  /** CORS: which origin (if any) a request may be answered to. */
  const cors = {
    origins: new Set(options.corsOrigins ?? []),
    allowed(req: http.IncomingMessage): string | undefined {
      const origin = req.headers.origin;
      if (this.origins.size === 0 || typeof origin !== 'string') return undefined;
      if (this.origins.has('*')) return '*';
      return this.origins.has(origin) ? origin : undefined;
    },
  };

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    let r: Route = 'other';
    metrics.inFlight++;
    let finished = false;
    const done = (status: number | 'aborted'): void => {
      if (finished) return;
      finished = true;
      metrics.inFlight--;
      metrics.recordRequest(r, method, status, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.on('finish', () => done(res.statusCode));
    // A client that went away before the whole answer was written is not a success, whatever was planned.
    res.on('close', () => done(res.writableFinished ? res.statusCode : 'aborted'));
    // A reset connection surfaces as an 'error' on the request or response; it must never become uncaught.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      const pathname = requestPath(req.url);
      if (pathname === undefined) {
        drain(req);
        sendError(res, new InvalidInputError(`cannot read the request target ${JSON.stringify((req.url ?? '').slice(0, 200))}; send a path such as /v1/predict`, { sample: 'request' }), 'request line');
        return;
      }
      r = (ROUTES as readonly string[]).includes(pathname) ? (pathname as Route) : 'other';
      if (cors.origins.size > 0) {
        const origin = cors.allowed(req);
        if (origin !== undefined) res.setHeader('access-control-allow-origin', origin);
        if (!cors.origins.has('*')) res.setHeader('vary', 'Origin');
      }
      route(req, res, pathname, r);
    } catch (err) {
      fail(req, res, err, `${method} ${(req.url ?? '').slice(0, 200)}`);
    }
  });
  // Requests Node cannot parse (bad request line, bad header, oversized headers) never reach the handler:
  // answer them here, count them, and close only that connection.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    const status = clientErrorStatus(err);
    metrics.recordRequest('other', 'invalid', status, 0);
    const body = JSON.stringify({ error: new InvalidInputError(`malformed HTTP request (${err.code ?? err.message})`, { sample: 'request' }).toJSON() });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
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
