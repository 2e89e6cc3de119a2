/**
 * What fusion does with a raw field value before the encoder's `prepare`, by the encoder's declared raw
 * input (`ModalityEncoder.input`, see `RawInputSpec` in @mmfuse/core), never by its modality:
 * - `file`: a path string is resolved (against `baseDir`, contained in it, symbolic links included: an
 *   absolute path is accepted only inside it; without `baseDir` against the working folder), `stat`ed (a
 *   regular file no larger than `maxBytes`) and handed over absolute; bytes (`Uint8Array`) are checked
 *   against `maxBytes`.
 * - `bytes`: a string is base64 (as manifests carry bytes) and is decoded; bytes are checked.
 * - `text`: a string's UTF-8 length is checked.
 * - `json`: the length of the value's JSON text is checked.
 * Any other value goes to `prepare` as given (a plugin may accept more in the library, e.g. decoded audio),
 * which refuses what it cannot read.
 */
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidInputError, LimitExceededError, resolveDataPath } from '@mmfuse/core';
import type { RawInputSpec } from '@mmfuse/core';

export interface RawInputContext {
  sample: string | number;
  field: string;
  /** Encoder kind, for messages. */
  encoder: string;
  /** Folder relative paths resolve against (and must stay in). */
  baseDir?: string;
  /** Paths may leave `baseDir`. Default false. */
  allowOutsideBaseDir?: boolean;
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** The byte length of base64 text (whitespace and a `data:` prefix removed) without decoding it. */
export function base64Length(text: string): number {
  const s = text.replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return Math.floor((s.length * 3) / 4) - pad;
}

/**
 * Decode base64 (standard or URL-safe, optionally a `data:...;base64,` URL) after checking the decoded
 * length against `maxBytes`. Throws `InvalidInputError` for text that is not base64, `LimitExceededError`
 * for too many bytes.
 */
export function decodeBase64(text: string, maxBytes: number, loc: { sample: string | number; field: string }): Buffer {
  const s = text.trim().replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  if (s.length === 0) throw new InvalidInputError('is empty; send the bytes as base64', loc);
  if (!BASE64_RE.test(s) || s.length % 4 === 1) throw new InvalidInputError('is not valid base64; send the bytes base64-encoded', loc);
  const n = base64Length(s);
  if (n > maxBytes) throw tooLarge(n, maxBytes, loc);
  return Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
}

function tooLarge(bytes: number, maxBytes: number, loc: { sample: string | number; field: string; encoder?: string; file?: string }): LimitExceededError {
  const { encoder, ...where } = loc;
  return new LimitExceededError(`the value is ${bytes} bytes, over the limit of ${maxBytes} bytes${encoder === undefined ? '' : ` of ${encoder}`}`, { ...where, details: { bytes, maxBytes } });
}

function jsonLength(raw: unknown): number | undefined {
  if (typeof raw === 'string') return Buffer.byteLength(raw, 'utf8') + 2;
  if (ArrayBuffer.isView(raw)) return raw.byteLength;
  try {
    const text = JSON.stringify(raw);
    return text === undefined ? undefined : Buffer.byteLength(text, 'utf8');
  } catch {
    return undefined; // not JSON (cycles, BigInt): prepare refuses it
  }
}

/** The value to hand to `prepare` for `raw`, after the checks of the encoder's raw-input kind. */
export async function checkRawInput(spec: RawInputSpec, raw: unknown, ctx: RawInputContext): Promise<unknown> {
  const loc = { sample: ctx.sample, field: ctx.field };
  const max = spec.maxBytes;
  switch (spec.kind) {
    case 'file': {
      if (raw instanceof Uint8Array) {
        if (raw.byteLength > max) throw tooLarge(raw.byteLength, max, { ...loc, encoder: ctx.encoder });
        return raw;
      }
      if (typeof raw !== 'string') return raw;
      let file: string;
      if (ctx.baseDir === undefined) {
        file = resolveDataPath(process.cwd(), raw, { ...loc, allowOutside: true });
      } else {
        // An absolute path inside the data folder (a manifest reader resolved it already) is checked as
        // the relative path it is; any other absolute path is refused unless allowed.
        const root = path.resolve(ctx.baseDir);
        const rel = path.isAbsolute(raw) ? path.relative(root, raw) : raw;
        const inside = path.isAbsolute(raw) && rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
        file = resolveDataPath(root, inside ? rel : raw, { ...loc, allowOutside: ctx.allowOutsideBaseDir ?? false });
      }
      let st;
      try {
        st = await stat(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new InvalidInputError(code === 'ENOENT' || code === 'ENOTDIR' ? `file ${JSON.stringify(raw)} does not exist (looked for ${file})` : `cannot read file ${JSON.stringify(raw)}: ${(err as Error).message}`, { ...loc, file, cause: err });
      }
      if (!st.isFile()) throw new InvalidInputError(`${JSON.stringify(file)} is not a regular file`, { ...loc, file });
      if (st.size > max) throw tooLarge(st.size, max, { ...loc, encoder: ctx.encoder, file });
      return file;
    }
    case 'bytes':
      if (typeof raw === 'string') return new Uint8Array(decodeBase64(raw, max, loc));
      if (raw instanceof Uint8Array && raw.byteLength > max) throw tooLarge(raw.byteLength, max, { ...loc, encoder: ctx.encoder });
      return raw;
    case 'text':
      if (typeof raw === 'string') {
        const n = Buffer.byteLength(raw, 'utf8');
        if (n > max) throw tooLarge(n, max, { ...loc, encoder: ctx.encoder });
      }
      return raw;
    case 'json': {
      const n = jsonLength(raw);
      if (n !== undefined && n > max) throw tooLarge(n, max, { ...loc, encoder: ctx.encoder });
      return raw;
    }
  }
}
