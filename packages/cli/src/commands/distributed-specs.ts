/**
 * The declarations of the commands that can use workers (`worker`, `prepare`, `hyperopt`) and of the one
 * Redis setting every command shares. Kept free of heavy imports so `--help` answers at once.
 */
import type { CommandSpec, OptionSpec } from '../internal/args.js';

/** `--redis URL`: the same on every command; `MMFUSE_REDIS_URL` when absent. */
export const redisOption: OptionSpec = { type: 'string', valueName: 'URL', description: 'Run the work on mmfuse workers through this Redis (redis://host:port[/db]); default: MMFUSE_REDIS_URL, else in this process' };

/** `--cache DIR`: the on-disk cache of prepared inputs (shared storage when workers fill it). */
export const cacheOption: OptionSpec = { type: 'string', valueName: 'DIR', description: 'Cache of prepared inputs (decoded audio, features, tokens), keyed by content; with --redis a folder every worker can read and write. Default: MMFUSE_CACHE_DIR' };

const plugin = { type: 'string', valueName: 'MODULE', description: 'Import a module that registers encoders (a third-party modality) first', repeatable: true } as const;
const json = { type: 'boolean', description: 'Print one JSON object as the last line of stdout' } as const;

export const workerSpec: CommandSpec = {
  name: 'worker',
  summary: 'Run a worker: take prepare, predict and hyperopt jobs from Redis until SIGTERM (stateless; data and models are read by path from shared storage).',
  positionals: [],
  options: {
    redis: redisOption,
    concurrency: { type: 'integer', valueName: 'N', description: 'Jobs run at once (default 1; more helps only while jobs wait for files)', min: 1, max: 64 },
    plugin,
    'lock-seconds': { type: 'number', valueName: 'S', description: 'A job of a worker that stops responding goes to another worker after about this long (default 30)', min: 0.5, max: 3600 },
    'max-stalls': { type: 'integer', valueName: 'N', description: 'Times a job may be taken over from a dead worker before it fails (default 2)', min: 0, max: 100 },
    'health-port': { type: 'integer', valueName: 'N', description: 'Serve GET /healthz on this port (0 picks one); default: none', min: 0, max: 65535 },
    'health-host': { type: 'string', valueName: 'H', description: 'Address of the health endpoint (default 127.0.0.1)' },
    name: { type: 'string', valueName: 'NAME', description: 'Worker name in logs and health (default HOST-PID)' },
    'connect-timeout': { type: 'number', valueName: 'S', description: 'Give up (exit 1) when Redis is not reachable within S seconds; default: retry with back-off until it is', min: 1 },
    ipc: { type: 'boolean', description: 'Internal: take jobs from the parent process (hyperopt --parallel) instead of Redis' },
    json,
  },
  epilog: 'SIGTERM or SIGINT: stop taking jobs, finish the running chunk jobs, hand running hyperopt trials back to the queue, exit 0; a second signal exits at once.\nExample: MMFUSE_THREADS=1 mmfuse worker --redis redis://10.0.0.5:6379 --health-port 9464',
};

export const prepareSpec: CommandSpec = {
  name: 'prepare',
  summary: 'Prepare (decode, features, tokenize) every sample of a config\'s train/validation/test manifests into the cache, here or on workers; "mmfuse train --cache DIR" then finds them.',
  positionals: [{ name: 'CONFIG', description: 'Config file (.json, .yaml or .yml); data paths are relative to it' }],
  options: {
    cache: cacheOption,
    redis: redisOption,
    plugin,
    json,
  },
  epilog: 'Bad samples are reported as "mmfuse train" reports them (manifest, line, field, reason) and the rest go on.\nExample: mmfuse prepare model.yaml --cache /shared/cache --redis redis://10.0.0.5:6379 && mmfuse train model.yaml --out models/m --cache /shared/cache',
};

export const hyperoptSpec: CommandSpec = {
  name: 'hyperopt',
  summary: 'Search hyperparameters: random configurations from a search space, weak ones stopped early (ASHA); results as JSON and HTML, best model kept.',
  positionals: [{ name: 'CONFIG', description: 'Config file to start from (its data.validation, or training.validationSplit, scores the trials)' }],
  options: {
    space: { type: 'string', valueName: 'SPACE.yaml', description: 'Search space: config key paths with choices or ranges, seed, metric, method', required: true },
    trials: { type: 'integer', valueName: 'N', description: 'Configurations to try', required: true, min: 1, max: 10000 },
    out: { type: 'string', valueName: 'DIR', description: 'New or empty folder for results.json, report.html, best-model/ and trial logs (default hyperopt-CONFIGNAME)' },
    parallel: { type: 'integer', valueName: 'N', description: 'Without --redis: trials at once, each in a child process (default 1: one after another in this process)', min: 1, max: 64 },
    cache: { type: 'string', valueName: 'DIR', description: 'Cache of prepared inputs shared by the trials (default OUT/cache)' },
    redis: redisOption,
    plugin,
    json,
  },
  epilog: 'Example: mmfuse hyperopt bot.json --space bot-space.yaml --trials 12 --out search --parallel 2',
};
