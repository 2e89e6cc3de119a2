/**
 * One error base class for all of mmfuse, with a string-union `code` (as trpc's TRPCError does), so callers
 * can branch on `err.code` instead of parsing messages. Messages name the sample, the field and the
 * offending value, and say how to fix it.
 */

/** Every error code mmfuse raises. */
export type MmfuseErrorCode =
  /** A sample's value is unusable (truncated file, NaN samples, wrong JSON type, path escape, ...). */
  | 'INVALID_INPUT'
  /** The data is well formed but of a kind mmfuse does not handle (e.g. a WAV codec, an image format). */
  | 'UNSUPPORTED_FORMAT'
  /** A configuration or option value is wrong. */
  | 'CONFIG'
  /** No usable TensorFlow.js engine, or an engine failed. */
  | 'ENGINE'
  /** A saved model folder is corrupt, incomplete or from an incompatible version. */
  | 'MODEL_FORMAT'
  /** A file could not be read or written. */
  | 'IO'
  /** A value exceeds a configured limit (duration, pixel count, body size, ...). */
  | 'LIMIT_EXCEEDED'
  /** A caller used the API in the wrong order (e.g. predict before fit). */
  | 'STATE'
  /** A training checkpoint is corrupt, edited or from another config. */
  | 'CHECKPOINT'
  /** A command line is malformed (unknown flag, missing argument). CLI exit code 2. */
  | 'USAGE'
  /** A bug in mmfuse (never caused by bad input). CLI exit code 1 with code INTERNAL, HTTP 500. */
  | 'INTERNAL';

/** Where in the data an error was found. Every field is optional; set what is known. */
export interface ErrorLocation {
  /** Sample identifier: an id, an index, or `file:line`. */
  sample?: string | number;
  /** The sample's field (manifest column / input name), e.g. `audio`. */
  field?: string;
  /** Source file (manifest, WAV, image, model folder). */
  file?: string;
  /** 1-based line number in a manifest. */
  line?: number;
}

export interface MmfuseErrorOptions extends ErrorLocation {
  cause?: unknown;
  /** Extra structured details for logs and JSON output. */
  details?: Record<string, unknown>;
}

function locationPrefix(loc: ErrorLocation): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(loc.line !== undefined ? `${loc.file}:${loc.line}` : loc.file);
  else if (loc.line !== undefined) parts.push(`line ${loc.line}`);
  if (loc.sample !== undefined) parts.push(`sample ${JSON.stringify(loc.sample)}`);
  if (loc.field !== undefined) parts.push(`field "${loc.field}"`);
  return parts.length > 0 ? `${parts.join(', ')}: ` : '';
}

/** Marks mmfuse error classes of every copy of @mmfuse/core (ESM, CJS, duplicate installs). */
const ERROR_CLASS = Symbol.for('@mmfuse/core:error-class');

export class MmfuseError extends Error {
  /** Static name used for serialization; never rely on `constructor.name` (minifiers rename it). */
  static readonly errorName: string = 'MmfuseError';
  static readonly [ERROR_CLASS] = true;

  /**
   * `err instanceof ConfigError` holds for a ConfigError of any copy of @mmfuse/core in the process (the
   * ESM and the CJS build of one install, or two installs): classes match by their static `errorName`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    // A subclass without its own errorName (a user's) is matched by identity only.
    const byName = Object.prototype.hasOwnProperty.call(this, 'errorName');
    for (let proto = Object.getPrototypeOf(value) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
      const ctor = (proto as { constructor?: unknown }).constructor as (typeof MmfuseError & { [ERROR_CLASS]?: boolean }) | undefined;
      if (ctor === this) return true;
      if (byName && ctor !== undefined && ctor[ERROR_CLASS] === true && Object.prototype.hasOwnProperty.call(ctor, 'errorName') && ctor.errorName === this.errorName) return true;
    }
    return false;
  }
  readonly code: MmfuseErrorCode;
  sample?: string | number;
  field?: string;
  file?: string;
  line?: number;
  readonly details?: Record<string, unknown>;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(code: MmfuseErrorCode, reason: string, options: MmfuseErrorOptions = {}) {
    super(locationPrefix(options) + reason, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = (new.target as typeof MmfuseError).errorName;
    this.code = code;
    this.reason = reason;
    if (options.sample !== undefined) this.sample = options.sample;
    if (options.field !== undefined) this.field = options.field;
    if (options.file !== undefined) this.file = options.file;
    if (options.line !== undefined) this.line = options.line;
    if (options.details !== undefined) this.details = options.details;
  }

  /** A plain object for JSON output (CLI `--json`, HTTP 400 bodies, eval `skipped` lists). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message, reason: this.reason };
    if (this.sample !== undefined) out.sample = this.sample;
    if (this.field !== undefined) out.field = this.field;
    if (this.file !== undefined) out.file = this.file;
    if (this.line !== undefined) out.line = this.line;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }

  /**
   * Fill in location fields that were unknown where the error was raised (a decoder knows the byte offset,
   * the caller knows the sample and field) and rebuild the message. Returns `this` for `throw err.locate(..)`.
   */
  locate(loc: ErrorLocation): this {
    if (this.sample === undefined && loc.sample !== undefined) this.sample = loc.sample;
    if (this.field === undefined && loc.field !== undefined) this.field = loc.field;
    if (this.file === undefined && loc.file !== undefined) this.file = loc.file;
    if (this.line === undefined && loc.line !== undefined) this.line = loc.line;
    this.message = locationPrefix(this) + this.reason;
    return this;
  }
}

/** A sample's value is unusable. */
export class InvalidInputError extends MmfuseError {
  static override readonly errorName: string = 'InvalidInputError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('INVALID_INPUT', reason, options);
  }
}

/** Well-formed data of a kind mmfuse does not handle. */
export class UnsupportedFormatError extends MmfuseError {
  static override readonly errorName: string = 'UnsupportedFormatError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('UNSUPPORTED_FORMAT', reason, options);
  }
}

/** A value exceeds a configured limit. */
export class LimitExceededError extends MmfuseError {
  static override readonly errorName: string = 'LimitExceededError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('LIMIT_EXCEEDED', reason, options);
  }
}

/** A configuration or option value is wrong. `path` is the key path, e.g. `fusion.heads`. */
export class ConfigError extends MmfuseError {
  static override readonly errorName: string = 'ConfigError';
  readonly path?: string;
  constructor(reason: string, options: MmfuseErrorOptions & { path?: string } = {}) {
    const { path, ...rest } = options;
    super('CONFIG', path !== undefined ? `${path}: ${reason}` : reason, rest);
    if (path !== undefined) this.path = path;
  }

  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    if (this.path !== undefined) out.path = this.path;
    return out;
  }
}

/** No usable engine, or an engine failed. */
export class EngineError extends MmfuseError {
  static override readonly errorName: string = 'EngineError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('ENGINE', reason, options);
  }
}

/** A saved model folder is corrupt or incompatible. */
export class ModelFormatError extends MmfuseError {
  static override readonly errorName: string = 'ModelFormatError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('MODEL_FORMAT', reason, options);
  }
}

/** The API was used in the wrong order (e.g. predict before fit). */
export class StateError extends MmfuseError {
  static override readonly errorName: string = 'StateError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('STATE', reason, options);
  }
}

/** A file or folder could not be read or written; `details.errno` holds the system code (EACCES, EROFS, ...). */
export class IoError extends MmfuseError {
  static override readonly errorName: string = 'IoError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('IO', reason, options);
  }
}

/** A training checkpoint is corrupt, edited, or was written for another config. */
export class CheckpointError extends MmfuseError {
  static override readonly errorName: string = 'CheckpointError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('CHECKPOINT', reason, options);
  }
}

/** A malformed command line (CLI exit code 2). `command` names the subcommand when known. */
export class UsageError extends MmfuseError {
  static override readonly errorName: string = 'UsageError';
  readonly command?: string;
  constructor(reason: string, options: MmfuseErrorOptions & { command?: string } = {}) {
    const { command, ...rest } = options;
    super('USAGE', reason, rest);
    if (command !== undefined) this.command = command;
  }

  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    if (this.command !== undefined) out.command = this.command;
    return out;
  }
}

/** A bug in mmfuse, wrapped so it still travels as an MmfuseError (HTTP 500, CLI code INTERNAL). */
export class InternalError extends MmfuseError {
  static override readonly errorName: string = 'InternalError';
  constructor(reason: string, options: MmfuseErrorOptions = {}) {
    super('INTERNAL', reason, options);
  }
}

/** True for any mmfuse error (works across duplicated module copies by checking the shape). */
export function isMmfuseError(err: unknown): err is MmfuseError {
  return err instanceof MmfuseError ||
    (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' &&
      typeof (err as { reason?: unknown }).reason === 'string');
}

/** Describe a value for an error message without dumping huge data. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value.length > 60 ? JSON.stringify(value.slice(0, 57) + '...') : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
  return `an object`;
}
