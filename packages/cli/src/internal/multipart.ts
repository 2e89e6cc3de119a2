/**
 * A `multipart/form-data` body parser (RFC 7578) over a whole, size-limited body buffer. Enough for form
 * uploads from browsers and `curl -F`: parts with `Content-Disposition: form-data; name=...; filename=...`
 * and an optional `Content-Type`. Malformed bodies throw `InvalidInputError` saying what is wrong.
 */
import { InvalidInputError } from '@mmfuse/core';

export interface MultipartPart {
  /** The form field name. */
  name: string;
  /** Set for file uploads. */
  filename?: string;
  /** The part's `Content-Type`, lower-cased; default `text/plain`. */
  contentType: string;
  data: Buffer;
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

/** Parse header lines of one part into a lower-cased map. */
function parseHeaders(block: string, index: number): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new InvalidInputError(`multipart part ${index} has a malformed header line ${JSON.stringify(line.slice(0, 60))}`, { sample: 'request' });
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** A `key="value"` or `key=value` parameter of a header value. */
function headerParam(value: string, key: string): string | undefined {
  const re = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, 'i');
  const m = re.exec(value);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string).trim();
}

/** Split a multipart body into parts. */
export function parseMultipart(body: Buffer, boundary: string, limits: { maxParts?: number } = {}): MultipartPart[] {
  const maxParts = limits.maxParts ?? 32;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new InvalidInputError('multipart body does not contain its boundary', { sample: 'request' });
  for (;;) {
    pos += delimiter.length;
    // `--` right after a delimiter closes the body.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new InvalidInputError('multipart boundary is not followed by CRLF', { sample: 'request' });
    pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), pos);
    if (next < 0) throw new InvalidInputError('multipart body ends without its closing boundary', { sample: 'request' });
    let headers: Map<string, string>;
    let dataStart: number;
    if (headerEnd < 0 || headerEnd > next) {
      // A part with no headers at all is legal but useless here: it has no name.
      throw new InvalidInputError(`multipart part ${parts.length} has no headers`, { sample: 'request' });
    } else {
      headers = parseHeaders(body.subarray(pos, headerEnd).toString('utf8'), parts.length);
      dataStart = headerEnd + 4;
    }
    const disposition = headers.get('content-disposition');
    if (disposition === undefined || !/^form-data\b/i.test(disposition)) {
      throw new InvalidInputError(`multipart part ${parts.length} has no "Content-Disposition: form-data" header`, { sample: 'request' });
    }
    const name = headerParam(disposition, 'name');
    if (name === undefined || name === '') throw new InvalidInputError(`multipart part ${parts.length} has no field name`, { sample: 'request' });
    const part: MultipartPart = {
      name,
      contentType: (headers.get('content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase(),
      data: body.subarray(dataStart, next),
    };
    const filename = headerParam(disposition, 'filename');
    if (filename !== undefined) part.filename = filename;
    parts.push(part);
    if (parts.length > maxParts) throw new InvalidInputError(`multipart body has more than ${maxParts} parts`, { sample: 'request' });
    pos = next + 2; // at the delimiter
  }
}
