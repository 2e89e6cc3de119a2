/**
 * `multipart/form-data` (RFC 7578) parsing on `busboy`, streaming: parts are read as the body arrives, each
 * held to its own byte limit, so an oversized upload is refused without buffering it. Malformed bodies
 * reject with `InvalidInputError`, a part over its limit with `LimitExceededError` naming the field. Parts
 * without a `Content-Disposition: form-data` header carry no field name and are ignored (as busboy does).
 */
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { InvalidInputError, LimitExceededError, isMmfuseError } from '@mmfuse/core';
import type { MmfuseError } from '@mmfuse/core';

export interface MultipartPart {
  /** The form field name. */
  name: string;
  /** Set for file uploads. */
  filename?: string;
  /** The part's `Content-Type`, lower-cased, without parameters; default `text/plain`. */
  contentType: string;
  data: Buffer;
}

export interface MultipartLimits {
  /** Most parts. Default 32. */
  maxParts?: number;
  /**
   * Largest part of field `name` in bytes (default 10 MiB). May throw an `MmfuseError` to refuse the field
   * (e.g. an unknown input) before its bytes are read.
   */
  maxPartBytes?: (name: string) => number;
  /** Sample name in errors. Default `request`. */
  sample?: string;
}

/** The boundary of a `multipart/form-data` content type, or throws. */
export function multipartBoundary(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (boundary === undefined || boundary.length === 0 || boundary.length > 200) {
    throw new InvalidInputError('multipart/form-data request has no valid boundary parameter in its Content-Type', { sample: 'request' });
  }
  return boundary;
}

/** Parse a multipart body (a stream, e.g. the request, or a whole buffer) into its parts, in order. */
export function parseMultipart(source: Readable | Buffer, contentType: string, limits: MultipartLimits = {}): Promise<MultipartPart[]> {
  const sample = limits.sample ?? 'request';
  const maxParts = limits.maxParts ?? 32;
  const boundary = multipartBoundary(contentType);
  return new Promise((resolve, reject) => {
    const parts: (MultipartPart | undefined)[] = [];
    let failed = false;
    let count = 0;
    // Parts keep their order; a file part is complete only when its stream ends, which may follow 'close'.
    let open = 0;
    let closed = false;
    const finish = (): void => { if (!failed && closed && open === 0) resolve(parts.filter((p): p is MultipartPart => p !== undefined)); };
    const bb = busboy({
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      // Our own per-part limits apply below; busboy's only keep it from truncating silently.
      limits: { parts: maxParts, files: maxParts, fields: maxParts, fieldSize: Number.MAX_SAFE_INTEGER, fileSize: Number.MAX_SAFE_INTEGER, headerPairs: 64 },
    });
    const fail = (err: MmfuseError): void => {
      if (failed) return;
      failed = true;
      if (source instanceof Readable) source.unpipe(bb);
      reject(err);
    };
    const check = (name: string | undefined): number | undefined => {
      if (name === undefined || name === null || name === '') { fail(new InvalidInputError(`multipart part ${count} has no field name`, { sample })); return undefined; }
      if (++count > maxParts) { fail(new InvalidInputError(`multipart body has more than ${maxParts} parts`, { sample })); return undefined; }
      try {
        return limits.maxPartBytes?.(name) ?? 10 * 1024 * 1024;
      } catch (err) {
        fail(isMmfuseError(err) ? err : new InvalidInputError(String(err), { sample, field: name }));
        return undefined;
      }
    };
    const tooLarge = (name: string, max: number): LimitExceededError =>
      new LimitExceededError(`the uploaded part is over the limit of ${max} bytes for this input`, { sample, field: name, details: { maxBytes: max } });
    bb.on('field', (name, value, info) => {
      if (failed) return;
      const max = check(name);
      if (max === undefined) return;
      const data = Buffer.from(value, 'utf8');
      if (data.length > max) { fail(tooLarge(name, max)); return; }
      parts.push({ name, contentType: (info.mimeType || 'text/plain').toLowerCase(), data });
    });
    bb.on('file', (name, stream, info) => {
      // busboy also reports a cut-off file on its stream; the form's own 'error' below says what happened.
      stream.on('error', () => undefined);
      if (failed) { stream.resume(); return; }
      const max = check(name);
      if (max === undefined) { stream.resume(); return; }
      const chunks: Buffer[] = [];
      let size = 0;
      const slot = parts.length;
      parts.push(undefined);
      open++;
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > max) { fail(tooLarge(name, max)); return; }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        if (failed) return;
        const part: MultipartPart = { name, contentType: (info.mimeType || 'application/octet-stream').toLowerCase(), data: Buffer.concat(chunks) };
        if (info.filename !== undefined) part.filename = info.filename;
        parts[slot] = part;
        open--;
        finish();
      });
    });
    bb.on('partsLimit', () => fail(new InvalidInputError(`multipart body has more than ${maxParts} parts`, { sample })));
    bb.on('filesLimit', () => fail(new InvalidInputError(`multipart body has more than ${maxParts} parts`, { sample })));
    bb.on('fieldsLimit', () => fail(new InvalidInputError(`multipart body has more than ${maxParts} parts`, { sample })));
    bb.on('error', (err: Error) => {
      fail(new InvalidInputError(err.message === 'Unexpected end of form' ? 'multipart body ends without its closing boundary' : `multipart body is malformed (${err.message})`, { sample }));
    });
    bb.on('close', () => { closed = true; finish(); });
    if (source instanceof Readable) source.pipe(bb);
    else bb.end(source);
  });
}
