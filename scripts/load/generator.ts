/**
 * A closed-loop HTTP load generator on node:http (no dependency): `clients` concurrent clients, each with
 * one keep-alive connection, send requests back to back until `durationSeconds` have passed (each client
 * also stops after `maxRequestsPerClient`), so every run is bounded in time and in count. Loopback only:
 * the target must be 127.0.0.1 / ::1 / localhost.
 */
import * as http from 'node:http';

export interface LoadRequest {
  /** Groups the figures (e.g. `text`, `voice`, `bad`). */
  kind: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Statuses this request may answer with; anything else is counted as unexpected. */
  expect: number[];
}

export interface LoadOptions {
  /** e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  clients: number;
  durationSeconds: number;
  /** Picks the next request of client `client` (seed your own randomness per client for reproducible mixes). */
  next: (client: number, i: number) => LoadRequest;
  maxRequestsPerClient?: number;
  /** A request taking longer than this fails (counted as an error, never retried). Default 30 s. */
  requestTimeoutMillis?: number;
}

export interface KindStats {
  n: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  byStatus: Record<string, number>;
  unexpected: number;
}

export interface LoadResult {
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  all: KindStats;
  kinds: Record<string, KindStats>;
  /** Socket errors and timeouts (no HTTP status). */
  errors: string[];
  /** First few unexpected answers, for the report. */
  unexpectedSamples: string[];
  /** Sockets opened in all: equal to `clients` when keep-alive held. */
  socketsOpened: number;
}

/** The p-th percentile (0..100) of sorted values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

function summarize(latencies: number[], statuses: Record<string, number>, unexpected: number): KindStats {
  const s = [...latencies].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length > 0 ? (s[s.length - 1] as number) : Number.NaN,
    mean: s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN,
    byStatus: statuses,
    unexpected,
  };
}

function assertLoopback(url: URL): void {
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)) throw new Error(`load generator: ${url.host} is not a loopback address`);
}

/** One request on `agent`; resolves with the status and the answer body, or rejects on socket error / timeout. */
export function send(agent: http.Agent, base: URL, r: LoadRequest, timeoutMillis: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
    if (r.body !== undefined) headers['content-length'] = r.body.length;
    const req = http.request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port, method: r.method, path: r.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMillis, () => req.destroy(new Error(`no answer in ${timeoutMillis} ms`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const base = new URL(options.baseUrl);
  assertLoopback(base);
  const timeout = options.requestTimeoutMillis ?? 30_000;
  const maxPerClient = options.maxRequestsPerClient ?? 1_000_000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
  let socketsOpened = 0;
  const lat: Record<string, number[]> = {};
  const statuses: Record<string, Record<string, number>> = {};
  const unexpected: Record<string, number> = {};
  const errors: string[] = [];
  const unexpectedSamples: string[] = [];
  const t0 = performance.now();
  const deadline = t0 + options.durationSeconds * 1000;
  const client = async (c: number): Promise<void> => {
    for (let i = 0; i < maxPerClient && performance.now() < deadline; i++) {
      const r = options.next(c, i);
      const started = performance.now();
      try {
        const { status, body } = await send(agent, base, r, timeout);
        const ms = performance.now() - started;
        (lat[r.kind] ??= []).push(ms);
        const st = (statuses[r.kind] ??= {});
        st[status] = (st[status] ?? 0) + 1;
        if (!r.expect.includes(status)) {
          unexpected[r.kind] = (unexpected[r.kind] ?? 0) + 1;
          if (unexpectedSamples.length < 5) unexpectedSamples.push(`${r.kind} ${r.method} ${r.path} → ${status}: ${body.slice(0, 300)}`);
        }
      } catch (err) {
        errors.push(`${r.kind}: ${(err as Error).message}`);
      }
    }
  };
  // Count new connections: with keep-alive each client should open one.
  const create = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof create>) => { socketsOpened++; return create(...args); }) as typeof create;
  await Promise.all(Array.from({ length: options.clients }, (_, c) => client(c)));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  const kinds: Record<string, KindStats> = {};
  for (const k of Object.keys(lat)) kinds[k] = summarize(lat[k] as number[], statuses[k] ?? {}, unexpected[k] ?? 0);
  const allStatuses: Record<string, number> = {};
  for (const st of Object.values(statuses)) for (const [s, n] of Object.entries(st)) allStatuses[s] = (allStatuses[s] ?? 0) + n;
  const all = summarize(Object.values(lat).flat(), allStatuses, Object.values(unexpected).reduce((a, b) => a + b, 0));
  return { seconds, requests: all.n, requestsPerSecond: all.n / seconds, all, kinds, errors, unexpectedSamples, socketsOpened };
}

/** Parse Prometheus text: `name{labels} value` → value (first match). */
export function metricValue(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp > 0 && line.slice(0, sp) === name) return Number(line.slice(sp + 1));
  }
  return Number.NaN;
}
