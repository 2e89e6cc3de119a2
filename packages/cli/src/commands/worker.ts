/**
 * `mmfuse worker [--redis URL] [--concurrency N] [--plugin MODULE ...] [--health-port N] ...`: take every
 * kind of mmfuse job (prepare, predict, hyperopt trials) from Redis until SIGTERM. Stateless apart from
 * caches; reads data, configs and model folders by the paths the jobs name (shared storage). Redis
 * unreachable: waits and retries with back-off (or gives up after --connect-timeout). SIGTERM / SIGINT:
 * stops taking jobs, finishes running chunk jobs, hands running trials back to the queue, exits 0; a
 * second signal exits at once (the worker's jobs then go to other workers when their locks expire).
 */
import { UsageError } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { loadPlugins, startEngine } from '../internal/model.js';
import { loadDistributed, redisUrlOf } from '../distributed/setup.js';
import { logger, pluginArgs } from './common.js';

export async function runWorker(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'worker');
  const ipc = args.options.ipc === true;
  const redis = redisUrlOf(args);
  if (!ipc && redis === undefined) throw new UsageError('needs --redis URL (or MMFUSE_REDIS_URL): the Redis the coordinating commands use', { command: 'worker' });
  const d = await loadDistributed();
  const plugins = pluginArgs(args, io);
  await startEngine(log);
  await loadPlugins(plugins, log);
  const { mmfuseHandlers } = await import('../distributed/handlers.js');
  const name = args.options.name as string | undefined;
  const handlers = mmfuseHandlers({ plugins, log, ...(name !== undefined ? { name } : {}) });

  if (ipc) {
    await d.serveIpc(handlers, { log });
    return { json: { ipc: true }, human: '' };
  }

  const worker = await d.startWorker({
    url: redis as string,
    handlers,
    log,
    concurrency: (args.options.concurrency as number | undefined) ?? 1,
    ...(args.options['lock-seconds'] !== undefined ? { lockMillis: Math.round((args.options['lock-seconds'] as number) * 1000) } : {}),
    ...(args.options['max-stalls'] !== undefined ? { maxStalls: args.options['max-stalls'] as number } : {}),
    ...(name !== undefined ? { name } : {}),
  });
  let health: { url: string; close(): Promise<void> } | undefined;
  const done = new Promise<string>((resolve) => {
    let signals = 0;
    const onSignal = (signal: string) => (): void => {
      signals++;
      if (signals > 1) {
        log(`${signal} again: exiting now; running jobs go to other workers when their locks expire`);
        process.exit(1);
      }
      log(`${signal}: stopping (finishing chunk jobs, handing trials back); ${signal} again to exit at once`);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal('SIGTERM'));
    process.on('SIGINT', onSignal('SIGINT'));
  });
  try {
    if (args.options['health-port'] !== undefined) {
      health = await d.serveHealth(worker, { port: args.options['health-port'] as number, ...(args.options['health-host'] !== undefined ? { host: args.options['health-host'] as string } : {}) });
      log(`health: ${health.url}`);
    }
    const timeout = args.options['connect-timeout'] as number | undefined;
    if (timeout !== undefined) {
      const connected = await Promise.race([worker.ready.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeout * 1000).unref())]);
      if (!connected) {
        const err = new d.RedisUnavailableError(`Redis at ${worker.health().redis.url} was not reachable within ${timeout} s (--connect-timeout); start redis-server there, or check --redis / MMFUSE_REDIS_URL`, { details: { url: worker.health().redis.url } });
        await worker.close('finish');
        throw err;
      }
    }
    await done;
    await worker.close('handback');
    const h = worker.health();
    return { json: { ...h }, human: `worker ${h.name}: ${h.done} jobs done, ${h.failed} failed, ${h.handedBack} handed back` };
  } finally {
    await health?.close();
  }
}
