/**
 * Data manifests: one sample per JSONL line (or CSV row with a header). Field names are free; the model
 * config says which field is which modality, and any field may be absent (a missing modality). Reading
 * streams record by record, so a manifest of a million lines is never held whole. CSV is parsed by
 * `csv-parse` (RFC 4180: quoted cells with delimiters, doubled quotes and line breaks; CRLF or LF).
 */
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import type { CsvError } from 'csv-parse';
import { ConfigError, InvalidInputError, IoError, LimitExceededError, MmfuseError, UnsupportedFormatError, isMmfuseError } from './errors.js';
import { resolveDataPath } from './paths.js';

/** How a manifest field is checked and converted. */
export type FieldKind =
  /** A path relative to the manifest folder; resolved to an absolute path. */
  | 'path'
  /** A string. */
  | 'string'
  /** A finite number (CSV cells are parsed). */
  | 'number'
  /** A string or a number, kept as written (labels). */
  | 'label'
  /** Anything JSON. */
  | 'any'
  /**
   * Bytes written as base64 text (standard alphabet, `=` padding optional); converted to a `Uint8Array`.
   * Refused when decoding would exceed `maxBytes` (checked before decoding).
   */
  | 'bytes';

/** Default `maxBytes` of `bytes` fields: 16 MiB decoded. */
export const DEFAULT_MANIFEST_MAX_BYTES = 16 * 1024 * 1024;

export interface ManifestOptions {
  /** `jsonl` or `csv`; default from the extension (`.csv` and `.tsv` → csv, else jsonl). */
  format?: 'jsonl' | 'csv';
  /** CSV cell delimiter (one or more characters). Default `,`, or a tab for `.tsv` files. */
  delimiter?: string;
  /** Largest decoded size of a `bytes` field, in bytes: one limit, or one per field. Default 16 MiB. */
  maxBytes?: number | Record<string, number>;
  /** Fields to check and convert; other fields pass through as written. */
  fields?: Record<string, FieldKind>;
  /** Fields that must be present on every line. Default none. */
  required?: string[];
  /** Folder that `path` fields resolve against. Default: the manifest's folder. */
  baseDir?: string;
  /** Allow absolute paths and paths escaping `baseDir`. Default `false`. */
  allowOutside?: boolean;
  /** `throw` (default) stops at the first bad line; `skip` reports it through `onSkip` and goes on. */
  onError?: 'throw' | 'skip';
  /** Called for each skipped line when `onError` is `skip`. */
  onSkip?: (skipped: SkippedSample) => void;
  /** Field holding a sample id; default `id`. Samples without one get `<file>:<line>`. */
  idField?: string;
}

/** One manifest sample. */
export interface ManifestSample {
  /** The sample's id (its `id` field, or `<file name>:<line>`). */
  id: string;
  /** 1-based line (JSONL) or row start line (CSV) in the manifest. */
  line: number;
  /**
   * Field values (a null-prototype object: a field may be named `constructor` or `__proto__`); `path` fields
   * are absolute paths. Absent and empty fields are not present.
   */
  fields: Record<string, unknown>;
  /**
   * The folder relative file paths of this sample resolve against (and stay inside): the manifest's folder,
   * or the `baseDir` option. `@mmfuse/fusion` resolves a file input that is still a relative path (a
   * manifest read without `fields`) against it, so `model.fit(readManifest('data/train.jsonl'))` finds
   * `data/clips/a.wav` from any working folder.
   */
  baseDir: string;
  /** Set when the manifest was read with `allowOutside`: this sample's paths may leave `baseDir`. */
  allowOutsideBaseDir?: boolean;
}

/** A line that was refused. */
export interface SkippedSample {
  file: string;
  line: number;
  sample?: string;
  field?: string;
  code: string;
  reason: string;
  message: string;
}

export function skippedFromError(err: MmfuseError, fallback: { file: string; line: number }): SkippedSample {
  const out: SkippedSample = {
    file: err.file ?? fallback.file,
    line: err.line ?? fallback.line,
    code: err.code,
    reason: err.reason,
    message: err.message,
  };
  if (err.sample !== undefined) out.sample = String(err.sample);
  if (err.field !== undefined) out.field = err.field;
  return out;
}

function detectFormat(file: string, explicit?: 'jsonl' | 'csv'): 'jsonl' | 'csv' {
  if (explicit !== undefined) return explicit;
  const ext = path.extname(file).toLowerCase();
  return ext === '.csv' || ext === '.tsv' ? 'csv' : 'jsonl';
}

interface RawRecord { line: number; value: unknown; }

async function* jsonlRecords(file: string): AsyncGenerator<RawRecord | { line: number; error: MmfuseError }> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (trimmed === '') continue;
    try {
      yield { line, value: JSON.parse(trimmed) };
    } catch (err) {
      yield { line, error: new InvalidInputError(`line is not valid JSON (${(err as Error).message})`, { file, line }) };
    }
  }
}

function countOf(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

async function* csvRecords(file: string, delimiter: string): AsyncGenerator<RawRecord | { line: number; error: MmfuseError }> {
  // Line numbers are computed on the parser's side, in parse order: csv-parse's `lines` is the line a
  // record ends on, except that it counts a CRLF inside a quoted cell as two lines (`crlfInCells` undoes
  // that); a record starts as many lines earlier as its cells hold line breaks.
  let crlfInCells = 0;
  let lastEnd = 0;
  const errors: Array<{ line: number; error: MmfuseError }> = [];
  const lines: number[] = []; // start line of each record the parser emitted, in order
  const parser = createReadStream(file).pipe(parseCsv({
    bom: true,
    delimiter,
    record_delimiter: ['\r\n', '\n'],
    skip_empty_lines: true,
    // Cell counts are checked here, per row, so one bad row is reported and the rest still read.
    relax_column_count: true,
    // A quote inside an unquoted cell is kept as text (as most CSV writers expect) instead of derailing
    // every later row.
    relax_quotes: true,
    skip_records_with_error: true,
    on_record: (record: string[], context: { lines?: number }) => {
      let breaks = 0;
      for (const c of record) {
        crlfInCells += countOf(c, '\r\n');
        breaks += countOf(c, '\n');
      }
      lastEnd = (context.lines ?? 0) - crlfInCells;
      lines.push(lastEnd - breaks);
      return record;
    },
  }));
  parser.on('skip', (err: CsvError & { raw?: string }) => {
    const blank = /^(?:\r?\n)*/.exec(err.raw ?? '')?.[0] ?? '';
    const line = lastEnd + 1 + countOf(blank, '\n');
    const reason = err.code === 'CSV_QUOTE_NOT_CLOSED' ? 'quoted cell is never closed' : `malformed CSV row (${err.code}: ${err.message})`;
    errors.push({ line, error: new InvalidInputError(reason, { file, line }) });
  });
  let header: string[] | undefined;
  for await (const cells of parser as AsyncIterable<string[]>) {
    const line = lines.shift() as number;
    // Refused rows come out in line order with the others (the parser reports them as it meets them).
    while (errors.length > 0 && (errors[0] as { line: number }).line < line) yield errors.shift() as { line: number; error: MmfuseError };
    if (header === undefined) {
      header = cells.map((c) => c.trim());
      const seen = new Set<string>();
      for (const h of header) {
        if (h === '') throw new InvalidInputError('CSV header has an empty column name', { file, line });
        if (seen.has(h)) throw new InvalidInputError(`CSV header repeats column "${h}"`, { file, line });
        seen.add(h);
      }
      continue;
    }
    if (cells.length !== header.length) {
      const hint = cells.length > header.length ? ` (a cell holding ${JSON.stringify(delimiter)} must be quoted)` : '';
      yield { line, error: new InvalidInputError(`row has ${cells.length} cells but the header has ${header.length}${hint}`, { file, line }) };
      continue;
    }
    const value: Record<string, string> = Object.create(null) as Record<string, string>;
    header.forEach((h, i) => { value[h] = cells[i] as string; });
    yield { line, value };
  }
  while (errors.length > 0) yield errors.shift() as { line: number; error: MmfuseError };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decode base64 text, refusing other characters and sizes over `maxBytes` (before decoding). */
function decodeBase64(text: string, maxBytes: number, loc: { file: string; line: number; sample: string; field: string }): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1) throw new InvalidInputError('expected base64 text (A-Z, a-z, 0-9, +, /, = padding)', loc);
  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  const size = Math.floor((compact.length * 3) / 4) - padding;
  if (size > maxBytes) {
    throw new LimitExceededError(`decodes to ${size} bytes, over the limit of ${maxBytes} bytes (maxBytes)`, { ...loc, details: { bytes: size, maxBytes } });
  }
  const buf = Buffer.from(compact, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function convertField(name: string, kind: FieldKind, value: unknown, fromCsv: boolean, ctx: { file: string; line: number; sample: string; baseDir: string; allowOutside: boolean; maxBytes: number }): unknown {
  const loc = { file: ctx.file, line: ctx.line, sample: ctx.sample, field: name };
  switch (kind) {
    case 'path':
      if (typeof value !== 'string') throw new InvalidInputError(`expected a path string, got ${typeName(value)}`, loc);
      return resolveDataPath(ctx.baseDir, value, { ...loc, allowOutside: ctx.allowOutside });
    case 'string':
      if (typeof value !== 'string') throw new InvalidInputError(`expected a string, got ${typeName(value)}`, loc);
      return value;
    case 'number': {
      const n = fromCsv && typeof value === 'string' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidInputError(`expected a finite number, got ${JSON.stringify(value)}`, loc);
      return n;
    }
    case 'label':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (Array.isArray(value) && value.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))) return value;
      throw new InvalidInputError(`expected a label (string, number, or array of them), got ${typeName(value)}`, loc);
    case 'any':
      return value;
    case 'bytes':
      if (typeof value !== 'string') throw new InvalidInputError(`expected base64 text, got ${typeName(value)}`, loc);
      return decodeBase64(value, ctx.maxBytes, loc);
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Stream the samples of a manifest. Bad lines throw an `InvalidInputError` naming the file, line and
 * field, or, with `onError: 'skip'`, are reported through `onSkip` while reading goes on.
 */
export async function* readManifest(file: string, options: ManifestOptions = {}): AsyncGenerator<ManifestSample> {
  const format = detectFormat(file, options.format);
  const baseDir = path.resolve(options.baseDir ?? path.dirname(path.resolve(file)));
  const idField = options.idField ?? 'id';
  const fields = options.fields ?? {};
  const required = options.required ?? [];
  const fileName = path.basename(file);
  const skip = options.onError === 'skip';
  const delimiter = options.delimiter ?? (path.extname(file).toLowerCase() === '.tsv' ? '\t' : ',');
  if (typeof delimiter !== 'string' || delimiter === '' || /[\r\n"]/.test(delimiter)) {
    throw new ConfigError(`must be a non-empty string without quotes or line breaks, got ${JSON.stringify(delimiter)}`, { path: 'delimiter' });
  }
  const maxBytesOf = (field: string): number => {
    const m = options.maxBytes;
    const v = typeof m === 'number' ? m : m?.[field] ?? DEFAULT_MANIFEST_MAX_BYTES;
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`must be a positive integer, got ${JSON.stringify(v)}`, { path: typeof m === 'number' ? 'maxBytes' : `maxBytes.${field}` });
    return v;
  };
  for (const [field, kind] of Object.entries(fields)) if (kind === 'bytes') maxBytesOf(field);

  let records: AsyncGenerator<RawRecord | { line: number; error: MmfuseError }>;
  try {
    records = format === 'csv' ? csvRecords(file, delimiter) : jsonlRecords(file);
  } catch (err) {
    throw new UnsupportedFormatError(`cannot read manifest: ${(err as Error).message}`, { file });
  }
  try {
    for await (const rec of records) {
      try {
        if ('error' in rec) throw rec.error;
        const value = rec.value;
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new InvalidInputError(`each line must be a JSON object, got ${typeName(value)}`, { file, line: rec.line });
        }
        const raw = value as Record<string, unknown>;
        const idRaw = Object.hasOwn(raw, idField) ? raw[idField] : undefined;
        const id = typeof idRaw === 'string' && idRaw !== '' ? idRaw : typeof idRaw === 'number' ? String(idRaw) : `${fileName}:${rec.line}`;
        // Field names are the user's: `constructor` or `__proto__` is a field like any other.
        const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (const [k, v] of Object.entries(raw)) {
          // An empty CSV cell or a JSON null means "absent" (a missing modality), not an empty value.
          if (v === null || v === undefined || (format === 'csv' && v === '')) continue;
          const kind = Object.hasOwn(fields, k) ? fields[k] : undefined;
          out[k] = kind === undefined ? v : convertField(k, kind, v, format === 'csv', { file, line: rec.line, sample: id, baseDir, allowOutside: options.allowOutside ?? false, maxBytes: kind === 'bytes' ? maxBytesOf(k) : 0 });
        }
        for (const r of required) {
          if (!Object.hasOwn(out, r)) throw new InvalidInputError('required field is missing', { file, line: rec.line, sample: id, field: r });
        }
        yield { id, line: rec.line, fields: out, baseDir, ...(options.allowOutside === true ? { allowOutsideBaseDir: true } : {}) };
      } catch (err) {
        if (!isMmfuseError(err)) throw err;
        const e = err.locate({ file, line: rec.line });
        if (!skip) throw e;
        options.onSkip?.(skippedFromError(e, { file, line: rec.line }));
      }
    }
  } catch (err) {
    if (isMmfuseError(err)) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new InvalidInputError('manifest file does not exist', { file, cause: err });
    if (e.code === 'EISDIR') throw new InvalidInputError('manifest path is a folder, not a file', { file, cause: err });
    throw new IoError(`cannot read manifest: ${e.message}`, { file, cause: err });
  }
}

/** Read a whole manifest into memory (for small data), collecting skipped lines when `onError` is `skip`. */
export async function loadManifest(file: string, options: ManifestOptions = {}): Promise<{ samples: ManifestSample[]; skipped: SkippedSample[] }> {
  const samples: ManifestSample[] = [];
  const skipped: SkippedSample[] = [];
  const userOnSkip = options.onSkip;
  for await (const s of readManifest(file, { ...options, onSkip: (x) => { skipped.push(x); userOnSkip?.(x); } })) samples.push(s);
  return { samples, skipped };
}
