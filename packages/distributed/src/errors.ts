/**
 * Errors across process boundaries. A job's error travels as its `toJSON()` (through Redis or IPC) and is
 * rebuilt as the same @mmfuse/core class on the other side, so a coordinator reports a worker's
 * `InvalidInputError` exactly as a local run would. Which errors are worth another attempt is decided here.
 */
import {
  CheckpointError, ConfigError, EngineError, InternalError, InvalidInputError, IoError, LimitExceededError,
  ModelFormatError, MmfuseError, StateError, UnsupportedFormatError, UsageError, isMmfuseError,
} from '@mmfuse/core/base';
import type { MmfuseErrorCode, MmfuseErrorOptions } from '@mmfuse/core/base';

/** Redis cannot be reached (or was unreachable for longer than allowed). `details.url` names it (no password). */
export class RedisUnavailableError extends IoError {
  static override readonly errorName: string = 'RedisUnavailableError';
}

type ErrorClass = new (reason: string, options?: MmfuseErrorOptions) => MmfuseError;

const CLASSES: Record<MmfuseErrorCode, ErrorClass> = {
  INVALID_INPUT: InvalidInputError,
  UNSUPPORTED_FORMAT: UnsupportedFormatError,
  CONFIG: ConfigError,
  ENGINE: EngineError,
  MODEL_FORMAT: ModelFormatError,
  IO: IoError,
  LIMIT_EXCEEDED: LimitExceededError,
  STATE: StateError,
  CHECKPOINT: CheckpointError,
  USAGE: UsageError,
  INTERNAL: InternalError,
};

/**
 * Codes that another attempt may cure: a file system or engine hiccup, a bug that depends on the worker, a
 * model folder read while it was being replaced. Bad input and bad configs fail at once.
 */
const RETRYABLE: ReadonlySet<MmfuseErrorCode> = new Set<MmfuseErrorCode>(['IO', 'ENGINE', 'INTERNAL', 'STATE', 'MODEL_FORMAT']);

/** Any thrown value as an MmfuseError (a plain `Error` becomes an `InternalError` with its message). */
export function asMmfuseError(err: unknown): MmfuseError {
  if (isMmfuseError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}

/** True when a failed job is worth another attempt. */
export function isRetryable(err: MmfuseError): boolean {
  return RETRYABLE.has(err.code);
}

/** An error as JSON for the wire: the error's own `toJSON()` (name, code, reason, location, details). */
export function errorToJson(err: unknown): Record<string, unknown> {
  return asMmfuseError(err).toJSON();
}

/** Rebuild an error sent as `errorToJson`: the @mmfuse/core class of its code, with its location and details. */
export function errorFromJson(json: unknown): MmfuseError {
  if (typeof json !== 'object' || json === null) return new InternalError(`a job failed with ${JSON.stringify(json)}`);
  const j = json as Record<string, unknown>;
  const code = (typeof j.code === 'string' && j.code in CLASSES ? j.code : 'INTERNAL') as MmfuseErrorCode;
  const reason = typeof j.reason === 'string' ? j.reason : typeof j.message === 'string' ? j.message : 'a job failed';
  const options: MmfuseErrorOptions = {};
  if (typeof j.sample === 'string' || typeof j.sample === 'number') options.sample = j.sample;
  if (typeof j.field === 'string') options.field = j.field;
  if (typeof j.file === 'string') options.file = j.file;
  if (typeof j.line === 'number') options.line = j.line;
  if (typeof j.details === 'object' && j.details !== null) options.details = j.details as Record<string, unknown>;
  const Cls = j.name === RedisUnavailableError.errorName ? RedisUnavailableError : CLASSES[code];
  const err = new Cls(reason, options);
  // ConfigError carries its key path, UsageError its command: both are in toJSON and worth keeping.
  if (typeof j.path === 'string') Object.assign(err, { path: j.path });
  if (typeof j.command === 'string') Object.assign(err, { command: j.command });
  // A subclass of another package (e.g. the CLI's RequestTooLargeError) keeps its name in the JSON output.
  if (typeof j.name === 'string' && j.name !== '') err.name = j.name;
  return err;
}

/** Prefix of a BullMQ failure reason that carries an error's JSON. */
const WIRE_PREFIX = 'mmfuse-error ';

/** The message a failed BullMQ job stores: readable in a dashboard, and decodable by `errorFromFailedReason`. */
export function failedReasonOf(err: MmfuseError): string {
  return `${WIRE_PREFIX}${JSON.stringify(err.toJSON())}`;
}

/** The typed error of a failed BullMQ job (BullMQ's own reasons, e.g. a job stalled too often, become `InternalError`s). */
export function errorFromFailedReason(reason: string | undefined): MmfuseError {
  if (reason !== undefined && reason.startsWith(WIRE_PREFIX)) {
    try {
      return errorFromJson(JSON.parse(reason.slice(WIRE_PREFIX.length)));
    } catch {
      // fall through: not our JSON after all
    }
  }
  return new InternalError(reason ?? 'the job failed without a reason');
}
