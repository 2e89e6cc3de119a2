/**
 * `GET /healthz` for a worker (liveness and readiness probes of a process manager): 200 with the health
 * JSON while it takes jobs, 503 while Redis is unreachable or it is closing.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerHandle } from './worker.js';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export async function serveHealth(worker: Pick<WorkerHandle, 'health'>, options: { port: number; host?: string }): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/healthz') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found; GET /healthz' }));
      return;
    }
    const h = worker.health();
    const ok = h.status === 'ready' || h.status === 'connecting';
    res.writeHead(ok && h.redis.connected ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(h));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
