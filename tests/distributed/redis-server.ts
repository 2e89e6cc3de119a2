// The real Redis server (Debian's redis-server) for the distributed tests: started on a free loopback port
// with its own temporary folder and no persistence (`--save ''`), stopped with `redis-cli shutdown nosave`
// afterwards. A watchdog shell ends the server within a second if the test process dies without stopping
// it, so no server outlives the tests.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Stop the server (`shutdown save` keeps its data for the next start, as a restart with persistence would). */
  shutdown(mode: 'save' | 'nosave'): Promise<void>;
  /** Start it again on the same port and folder (it loads the data a `shutdown save` wrote). */
  start(): Promise<void>;
  /** Stop for good and remove the folder. */
  stop(): Promise<void>;
}

/**
 * A loopback port with nothing listening on it, for "Redis is unreachable" cases: a port the OS just handed
 * out and took back, checked to refuse a connection. (A neighbour of a live server's port is not: parallel
 * test files start servers on nearby ports.)
 */
export async function closedPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    const refused = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); resolve(false); });
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('no closed loopback port found in 20 tries');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.setTimeout(1000);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { text += d.toString(); if (text.includes('\r\n')) { sock.destroy(); resolve(text.startsWith('+PONG')); } });
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => { sock.destroy(); resolve(false); });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, millis = 120_000): Promise<void> {
  const until = Date.now() + millis;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const live = new Set<number>();
process.on('exit', () => {
  for (const port of live) spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore', timeout: 2000 });
});

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', "''", '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', '--logfile', path.join(dir, 'redis.log')];
    // The watchdog: if this process (the parent) is gone, stop the server.
    const script = `redis-server ${args.join(' ')} & r=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1; done; kill $r 2>/dev/null; wait $r`;
    proc = spawn('bash', ['-c', script], { stdio: 'ignore' });
    live.add(port);
    await waitFor(() => ping(port), `redis-server on port ${port}`);
  };
  const shutdown = async (mode: 'save' | 'nosave'): Promise<void> => {
    const p = proc;
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', mode], { stdio: 'ignore', timeout: 10_000 });
    live.delete(port);
    if (p !== undefined && p.exitCode === null) await new Promise<void>((resolve) => { p.once('exit', () => resolve()); setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 10_000); });
    await waitFor(async () => !(await ping(port)), `redis-server on port ${port} to stop`);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    shutdown,
    start: launch,
    stop: async () => {
      if (live.has(port)) await shutdown('nosave');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Redis' answer to one command line, e.g. `redisCli(port, 'dbsize')`. */
export function redisCli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
}
