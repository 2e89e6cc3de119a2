/**
 * A tiny static file server for the bot page (any static server works; this one only needs Node):
 *   node --import tsx examples/browser-bot/serve.ts [--dir examples/browser-bot/public] [--port 8000] [--host 127.0.0.1]
 * Serves files under `dir` only (no listing, no path outside it), with the MIME types the page needs
 * (`application/wasm` lets the browser compile onnxruntime-web's binary while it downloads).
 */
import { createReadStream, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream', '.map': 'application/json',
};

export interface StaticServer { url: string; close(): Promise<void> }

export function serveStatic(dir: string, options: { port?: number; host?: string } = {}): Promise<StaticServer> {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rel = decodeURIComponent(url.pathname) === '/' ? 'index.html' : decodeURIComponent(url.pathname).slice(1);
    const file = path.resolve(root, rel);
    let ok = false;
    try { ok = (file === root || file.startsWith(root + path.sep)) && statSync(file).isFile(); } catch { ok = false; }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return; }
    if (!ok) { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'); return; }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const a = server.address() as AddressInfo;
      resolve({ url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    });
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const s = await serveStatic(values.dir ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'public'), { port: Number(values.port ?? 8000), host: values.host ?? '127.0.0.1' });
  console.log(`bot page on ${s.url} (Ctrl-C stops)`);
}
