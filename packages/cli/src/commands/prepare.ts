/**
 * `mmfuse prepare CONFIG [--cache DIR] [--redis URL] [--plugin MODULE ...] [--json]`: decode, compute
 * features and tokenize every sample of the config's train, validation and test manifests into the
 * content-keyed cache, in this process or on workers; `mmfuse train CONFIG --cache DIR` then prepares
 * nothing again.
 */
import { UsageError } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import { loadConfig, readCliConfig } from '../internal/config-file.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { loadPlugins, startEngine } from '../internal/model.js';
import { abortOnSignals } from '../distributed/interrupt.js';
import { prepareSets } from '../distributed/prepare-run.js';
import { cacheDirOf, loadDistributed, openExecutor, redisUrlOf } from '../distributed/setup.js';
import { describeSkipped, fromCwd, logger, pluginArgs, skippedJson } from './common.js';

export async function runPrepare(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'prepare');
  const started = Date.now();
  const cacheDir = cacheDirOf(args, io);
  if (cacheDir === undefined) throw new UsageError('needs --cache DIR (or MMFUSE_CACHE_DIR): the folder the prepared samples go to, then given to "mmfuse train --cache DIR"', { command: 'prepare' });
  const file = fromCwd(io, args.positionals.CONFIG as string);
  const plugins = pluginArgs(args, io);
  const redis = redisUrlOf(args);
  const d = await loadDistributed();
  await startEngine(log);
  // The config's plugins first: its encoder options are checked against their schemas.
  await loadPlugins([...(await readCliConfig(file)).plugins, ...plugins], log);
  const cli = await loadConfig(file);
  if (cli.data.train === undefined && cli.data.validation === undefined && cli.data.test === undefined) {
    throw new UsageError(`${file} names no manifest (data.train, data.validation, data.test)`, { command: 'prepare' });
  }
  const { mmfuseHandlers } = await import('../distributed/handlers.js');
  const executor = await openExecutor({ ...(redis !== undefined ? { redis } : {}), log, handlers: () => mmfuseHandlers({ plugins: [...cli.plugins, ...plugins], log }) });
  log(`preparing into ${cacheDir} on ${executor.description}`);
  const interrupt = abortOnSignals(log);
  try {
    const r = await prepareSets({
      d, executor, cli, cacheDir, plugins, log, signal: interrupt.signal,
      sets: ['train', 'validation', 'test'],
      onSkip: (set, manifest, s) => log(`${set}: ${describeSkipped(s, manifest)}`),
    });
    for (const s of r.sets) log(`${s.set}: ${s.prepared} of ${s.samples} samples prepared${s.skipped > 0 ? `, ${s.skipped} refused` : ''}`);
    log(`cache: ${r.cache.writes} entries written, ${r.cache.diskHits} found there`);
    const json = {
      cache: cacheDir,
      sets: r.sets,
      skipped: r.skipped.map((s) => ({ set: s.set, ...skippedJson(s.sample, s.manifest) })),
      entries: r.cache,
      failedJobs: r.failedJobs,
      executor: executor.description,
      seconds: (Date.now() - started) / 1000,
    };
    const human = r.sets.map((s) => `${s.set}: ${s.prepared}/${s.samples} prepared${s.skipped > 0 ? `, ${s.skipped} refused` : ''}`).join('\n');
    return { json, human, ...(r.failedJobs > 0 ? { exitCode: 1 } : {}) };
  } finally {
    interrupt.dispose();
    await executor.close();
  }
}
