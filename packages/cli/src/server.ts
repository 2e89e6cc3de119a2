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
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InternalError, isMmfuseError } from '@mmfuse/core';
import type { MmfuseError } from '@mmfuse/core';
import { Batcher } from './internal/batcher.js';
import { ServerMetrics } from './internal/metrics.js';
import { RequestReader } from './server/body.js';
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
        send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${pathname}; routes are POST /v1/predict, GET /healthz, GET /metrics` } });
        return;
      case '/v1/predict':
        if (!allow(req, res, pathname, 'POST')) return;
        predict(req, res).catch((err: unknown) => {
          if (res.headersSent) return;
          const e = isMmfuseError(err) ? err : new InternalError(`unexpected error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          sendError(res, e, `${req.method} ${pathname}`);
        });
    }
  }

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const r: Route = (ROUTES as readonly string[]).includes(url.pathname) ? (url.pathname as Route) : 'other';
    const method = req.method ?? 'GET';
    metrics.inFlight++;
    let finished = false;
    const done = (status: number): void => {
      if (finished) return;
      finished = true;
      metrics.inFlight--;
      metrics.recordRequest(r, method, status, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.on('finish', () => done(res.statusCode));
    res.on('close', () => done(res.statusCode));
    route(req, res, url.pathname, r);
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
