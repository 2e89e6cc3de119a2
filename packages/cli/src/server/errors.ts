/**
 * Errors of the HTTP server and the one place that maps an error to an HTTP status and body. Every answer
 * body of a refused request is `{ error: err.toJSON() }`, the error's own serialization.
 */
import { InternalError, LimitExceededError, UnsupportedFormatError } from '@mmfuse/core';
import type { MmfuseError, MmfuseErrorCode, MmfuseErrorOptions } from '@mmfuse/core';

/** The request body is over `--max-body-bytes` (HTTP 413). */
export class RequestTooLargeError extends LimitExceededError {
  static override readonly errorName: string = 'RequestTooLargeError';
  static readonly httpStatus = 413;
  constructor(maxBodyBytes: number, options: MmfuseErrorOptions = {}) {
    super(`request body exceeds the limit of ${maxBodyBytes} bytes; send smaller files or raise --max-body-bytes`, { ...options, details: { maxBodyBytes } });
  }
}

/** The request's Content-Type is not one the server reads (HTTP 415). */
export class UnsupportedMediaTypeError extends UnsupportedFormatError {
  static override readonly errorName: string = 'UnsupportedMediaTypeError';
  static readonly httpStatus = 415;
}

/** Codes that mean the request itself is wrong (400); any other code is the server's fault (500). */
const CLIENT_CODES: ReadonlySet<MmfuseErrorCode> = new Set(['INVALID_INPUT', 'UNSUPPORTED_FORMAT', 'LIMIT_EXCEEDED', 'USAGE']);

/** The HTTP status of an error: its class's own `httpStatus`, else 400 for a client error code, else 500. */
export function httpStatusOf(err: MmfuseError): number {
  const own = (err.constructor as { httpStatus?: unknown }).httpStatus;
  if (typeof own === 'number') return own;
  return CLIENT_CODES.has(err.code) ? 400 : 500;
}

/** Status and body for an error. A 5xx answer says only that it happened: details stay in the server log. */
export function errorResponse(err: MmfuseError): { status: number; body: { error: Record<string, unknown> } } {
  const status = httpStatusOf(err);
  if (status >= 500) return { status, body: { error: new InternalError('internal error; the server log has the details').toJSON() } };
  return { status, body: { error: err.toJSON() } };
}
