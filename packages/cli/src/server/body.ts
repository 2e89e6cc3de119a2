/**
 * Request bodies to prediction requests: JSON (files as base64 or `data:` URLs) read whole up to the body
 * limit, or `multipart/form-data` streamed through busboy. Each field's value is converted by its input's
 * raw kind (`RawInputSpec.kind` of the encoder), never by its modality, and held to the input's byte limit
 * before it is decoded.
 */
import type * as http from 'node:http';
import { InvalidInputError, createRecord, isMmfuseError } from '@mmfuse/core';
import type { MmfuseError } from '@mmfuse/core';
import { decodeBase64 } from '@mmfuse/fusion';
import { parseMultipart } from '../internal/multipart.js';
import type { MultipartPart } from '../internal/multipart.js';
import { RequestTooLargeError, UnsupportedMediaTypeError } from './errors.js';
import type { PredictorField, PredictRequest } from './types.js';

function typeName(value: unknown): string {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Discard the rest of a refused body so the client reads the answer, but not forever. */
export function drain(req: http.IncomingMessage): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > 64 * 1024 * 1024) req.socket.destroy();
  });
  req.resume();
}

/**
 * Watch a body's size as it streams: past `maxBodyBytes`, `onTooLarge` runs once (the caller answers 413
 * and drains). A declared Content-Length over the limit fails at once.
 */
function watchSize(req: http.IncomingMessage, maxBodyBytes: number, onTooLarge: (err: RequestTooLargeError) => void): boolean {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) { onTooLarge(new RequestTooLargeError(maxBodyBytes, { sample: 'request' })); return false; }
  let size = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (!over && size > maxBodyBytes) { over = true; onTooLarge(new RequestTooLargeError(maxBodyBytes, { sample: 'request' })); }
  });
  return true;
}

/** Read a whole body up to the limit; past it, reject with 413 and drain what the client still sends. */
export function readBody(req: http.IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const chunks: Buffer[] = [];
    const fail = (err: Error): void => { if (failed) return; failed = true; chunks.length = 0; reject(err); };
    if (!watchSize(req, maxBodyBytes, (err) => { fail(err); drain(req); })) return;
    req.on('data', (chunk: Buffer) => { if (!failed) chunks.push(chunk); });
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)); });
    req.on('error', fail);
  });
}

/** Turns request bodies into prediction requests for a model's inputs. */
export class RequestReader {
  private counter = 0;

  constructor(private readonly fields: Readonly<Record<string, PredictorField>>, private readonly maxBodyBytes: number) {}

  private get known(): string {
    return Object.keys(this.fields).map((k) => `"${k}"`).join(', ');
  }

  private field(name: string, sample: string, seen: Record<string, unknown>): PredictorField {
    // Own keys only: a field may be named `constructor`, and `toString` is no field of any model.
    const f = Object.hasOwn(this.fields, name) ? this.fields[name] : undefined;
    if (f === undefined) throw new InvalidInputError(`unknown input field; this model takes ${this.known}`, { sample, field: name });
    if (Object.hasOwn(seen, name)) throw new InvalidInputError('is given more than once', { sample, field: name });
    return f;
  }

  /** Read and convert one request (`id` names it in errors; default `request-N`). */
  async read(req: http.IncomingMessage): Promise<PredictRequest> {
    const id = `request-${++this.counter}`;
    const contentType = req.headers['content-type'] ?? '';
    const mediaType = (contentType.split(';')[0] as string).trim().toLowerCase();
    let request: PredictRequest;
    if (mediaType === 'application/json' || mediaType === '' || mediaType.endsWith('+json')) {
      request = this.fromJson(await readBody(req, this.maxBodyBytes), id);
    } else if (mediaType === 'multipart/form-data') {
      request = await this.fromMultipart(req, contentType, id);
    } else {
      drain(req);
      throw new UnsupportedMediaTypeError(`Content-Type ${JSON.stringify(mediaType)} is not accepted; send application/json or multipart/form-data`, { sample: id });
    }
    if (Object.keys(request.fields).length === 0) {
      throw new InvalidInputError(`request has no input fields; send at least one of ${this.known}`, { sample: request.id });
    }
    return request;
  }

  private fromJson(body: Buffer, id: string): PredictRequest {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new InvalidInputError(`request body is not valid JSON (${(err as Error).message})`, { sample: id });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidInputError('request body must be a JSON object of input fields, e.g. {"text": "..."}', { sample: id });
    }
    const obj = parsed as Record<string, unknown>;
    let sample = id;
    if (Object.hasOwn(obj, 'id') && obj.id !== undefined) {
      if (typeof obj.id !== 'string' && typeof obj.id !== 'number') throw new InvalidInputError('"id" must be a string or a number', { sample, field: 'id' });
      sample = String(obj.id);
    }
    const fields = createRecord<unknown>();
    for (const [name, value] of Object.entries(obj)) {
      if (name === 'id' || value === null) continue;
      const { input } = this.field(name, sample, fields);
      const loc = { sample, field: name };
      switch (input.kind) {
        case 'json':
          fields[name] = value;
          break;
        case 'text':
          if (typeof value !== 'string') throw new InvalidInputError(`expected a string, got ${typeName(value)}`, loc);
          fields[name] = value;
          break;
        case 'file':
        case 'bytes':
          // Files and bytes travel as base64 (or a data: URL); the length is checked before decoding.
          if (typeof value !== 'string') throw new InvalidInputError(`expected a base64 string, got ${typeName(value)}`, loc);
          fields[name] = decodeBase64(value, input.maxBytes, loc);
          break;
      }
    }
    return { id: sample, fields };
  }

  private async fromMultipart(req: http.IncomingMessage, contentType: string, id: string): Promise<PredictRequest> {
    let sample = id;
    let parts: MultipartPart[];
    try {
      parts = await new Promise<MultipartPart[]>((resolve, reject) => {
        let over: MmfuseError | undefined;
        if (!watchSize(req, this.maxBodyBytes, (err) => { over = err; reject(err); drain(req); })) return;
        parseMultipart(req, contentType, {
          sample,
          maxPartBytes: (name) => (name === 'id' ? 1024 : this.field(name, sample, createRecord()).input.maxBytes),
        }).then((p) => { if (over === undefined) resolve(p); }, (err: unknown) => { drain(req); reject(err); });
      });
    } catch (err) {
      if (isMmfuseError(err)) throw err;
      throw new InvalidInputError(`cannot read the multipart body: ${(err as Error).message}`, { sample });
    }
    const fields = createRecord<unknown>();
    for (const part of parts) {
      if (part.name === 'id' && part.filename === undefined) { sample = part.data.toString('utf8'); continue; }
      const { modality, input } = this.field(part.name, sample, fields);
      const loc = { sample, field: part.name };
      switch (input.kind) {
        case 'text':
          fields[part.name] = part.data.toString('utf8');
          break;
        case 'json':
          // A JSON input's value is JSON, as in a manifest.
          try {
            fields[part.name] = JSON.parse(part.data.toString('utf8'));
          } catch {
            throw new InvalidInputError(`a ${modality} value must be JSON, got ${JSON.stringify(part.data.subarray(0, 40).toString('utf8'))}`, loc);
          }
          break;
        case 'file':
        case 'bytes':
          if (part.data.length === 0) throw new InvalidInputError('uploaded file is empty', loc);
          fields[part.name] = part.data;
          break;
      }
    }
    return { id: sample, fields };
  }
}
