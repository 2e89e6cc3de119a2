/**
 * @mmfuse/distributed: jobs for mmfuse beyond one process. Coordinators hand jobs to an executor — this
 * process (`LocalExecutor`), child processes (`ChildExecutor`) or workers anywhere through BullMQ on Redis
 * (`RedisExecutor`, `startWorker`) — and `runOrdered` delivers the results in order, each exactly once. The
 * hyperparameter search (random search + ASHA) runs on any of them. BullMQ and ioredis load only when
 * Redis is used.
 */
export type { ExecutorStats, JobContext, JobExecutor, JobHandler, JobHandlers, JobRequest, SharedTable } from './types.js';
export { emptyStats } from './types.js';
export { RedisUnavailableError, asMmfuseError, errorFromJson, errorToJson, isRetryable } from './errors.js';
export { REDIS_ENV_VAR, parseRedisUrl, resolveRedisUrl } from './redis-url.js';
export type { RedisTarget } from './redis-url.js';
export { fieldsFromWire, fieldsToWire } from './wire.js';
export type { WireFields } from './wire.js';
export { runOrdered } from './ordered.js';
export type { OrderedOptions } from './ordered.js';
export { MemoryTable } from './shared-table.js';
export { LocalExecutor } from './local-executor.js';
export type { LocalExecutorOptions } from './local-executor.js';
export { ChildExecutor, serveIpc } from './child-executor.js';
export type { ChildExecutorOptions } from './child-executor.js';
export { DEFAULT_PREFIX, DEFAULT_QUEUE, RedisExecutor } from './redis-executor.js';
export type { JobPayload, RedisExecutorOptions } from './redis-executor.js';
export { startWorker } from './worker.js';
export type { StartWorkerOptions, WorkerHandle, WorkerHealth, WorkerStatus } from './worker.js';
export { serveHealth } from './health.js';
export type { HealthServer } from './health.js';
export { FanOutProgress, countLines } from './progress.js';
export type { FanOutProgressOptions } from './progress.js';
export { maximizes, parseSearchSpace, readSearchSpace, searchSpaceSchema } from './hyperopt/space.js';
export type { ParamSpec, SearchSpace, SearchSpaceInput } from './hyperopt/space.js';
export { sampleParam, sampleParams } from './hyperopt/sample.js';
export { applyParams, describeParams } from './hyperopt/params.js';
export { AshaRungs, ashaContinues, ashaRungs, quantile } from './hyperopt/asha.js';
export type { AshaOptions } from './hyperopt/asha.js';
