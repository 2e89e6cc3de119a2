/** Shared by every executor and the worker: the error of a job kind nobody handles, and job keys. */
import { ConfigError } from '@mmfuse/core/base';

export function missingHandler(kind: string, known: readonly string[]): ConfigError {
  return new ConfigError(`no handler for job kind "${kind}" (this worker handles ${known.length > 0 ? known.map((k) => `"${k}"`).join(', ') : 'none'}); start workers of the same mmfuse version, with the same --plugin modules`, { path: 'kind' });
}

const KEY_RE = /^[A-Za-z0-9_-]{1,200}$/;

/** Check a job key (it becomes part of a BullMQ job id, which may not contain `:`). */
export function checkJobKey(key: string): void {
  if (!KEY_RE.test(key)) throw new ConfigError(`a job key is 1 to 200 letters, digits, "_" or "-", got ${JSON.stringify(key)}`, { path: 'key' });
}
