/**
 * The one Redis setting of every mmfuse command: `--redis URL`, else the `MMFUSE_REDIS_URL` environment
 * variable, else none (everything runs in this process). URLs are `redis://[user:password@]host[:port][/db]`
 * or `rediss://` for TLS.
 */
import { ConfigError } from '@mmfuse/core/base';

/** The environment variable read when `--redis` is not given. */
export const REDIS_ENV_VAR = 'MMFUSE_REDIS_URL';

/** Where to connect, parsed from a URL. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL without its password, for logs and errors. */
  display: string;
}

/**
 * The Redis URL a command uses: the option when given, else `MMFUSE_REDIS_URL`, else undefined. An empty
 * value (`--redis ''` is refused by the CLI; `MMFUSE_REDIS_URL=` is allowed) means none.
 */
export function resolveRedisUrl(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (option !== undefined && option.trim() !== '') return option.trim();
  const fromEnv = env[REDIS_ENV_VAR];
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : undefined;
}

/** Parse and check a Redis URL. Throws `ConfigError` (path `redis`) naming what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`must be a URL like redis://127.0.0.1:6379, got ${JSON.stringify(url)}`, { path: 'redis' });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError(`must start with redis:// (or rediss:// for TLS), got ${JSON.stringify(url)}`, { path: 'redis' });
  }
  if (u.hostname === '') throw new ConfigError(`names no host: ${JSON.stringify(url)}`, { path: 'redis' });
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`database must be a number >= 0 (redis://host:port/DB), got ${JSON.stringify(dbText)}`, { path: 'redis' });
  const target: RedisTarget = { host: u.hostname.replace(/^\[|\]$/g, ''), port, db, tls: u.protocol === 'rediss:', display: '' };
  if (u.username !== '') target.username = decodeURIComponent(u.username);
  if (u.password !== '') target.password = decodeURIComponent(u.password);
  const shown = new URL(url);
  if (shown.password !== '') shown.password = '***';
  target.display = shown.toString().replace(/\/$/, '');
  return target;
}
