/**
 * One set of option checks for all of mmfuse:
 * - `check*` functions for the arguments of plain functions (DSP, tokenizers, layers), cheap enough for
 *   hot paths;
 * - `parseOptions(schema, value)` for declarative options (encoder options, model configs): a `zod` schema
 *   (re-exported here as `z`, so plugins and core share one copy) checks, fills in defaults and is turned
 *   into JSON Schema for editors.
 * Both throw `ConfigError` whose `path` is the key path (`tokenizer.maxLength`, `channels[1]`) and whose
 * message names the offending value; an unknown key gets "did you mean" the closest known key.
 */
import { z } from 'zod';
import { ConfigError, describeValue } from './errors.js';

export { z };

/** A declared options schema: any zod schema whose input is JSON (e.g. `z.strictObject({ ... })`). */
export type OptionsSchema<TOutput = unknown, TInput = unknown> = z.ZodType<TOutput, TInput>;

/** Where a checked value sits, for messages: a key path, and the file it came from. */
export interface OptionsLocation {
  /** Key path prefix, e.g. `inputs.text.encoder`; issue paths are appended to it. Default none. */
  path?: string;
  /** The file the options were read from, for the message prefix. */
  file?: string;
}

/** `a.b[0].c` from a path prefix and path segments. */
export function joinPath(prefix: string | undefined, segments: readonly PropertyKey[]): string {
  let out = prefix ?? '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? String(s) : `.${String(s)}`;
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/**
 * The known key closest to `key` for a "did you mean" hint: a key that starts with it (or that it starts
 * with, from 3 characters), else the nearest within edit distance 2 (case-insensitive); undefined if none.
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const prefix = known.find((k) => lower.length >= 3 && (k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase())));
  if (prefix !== undefined) return prefix;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestD) { bestD = d; best = k; }
  }
  return best;
}

/** The reason for an unknown key: "did you mean" the closest, else the list of known keys. */
export function unknownKeyReason(key: string, known: readonly string[], what = 'keys'): string {
  const hint = suggestKey(key, known);
  if (hint !== undefined) return `unknown key; did you mean "${hint}"?`;
  return known.length === 0 ? 'unknown key; no keys are allowed here' : `unknown key; allowed ${what} are ${known.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Argument checks

/** An integer in `min..max`. */
export function checkInteger(value: unknown, path: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`must be ${integerRange(min, max)}, got ${describeValue(value)}`, { path });
  }
  return value;
}

function integerRange(min: number, max: number): string {
  const hasMin = min > Number.MIN_SAFE_INTEGER;
  const hasMax = max < Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return `an integer in ${min}..${max}`;
  if (hasMin) return `an integer >= ${min}`;
  if (hasMax) return `an integer <= ${max}`;
  return 'an integer';
}

/** A finite number in `[min, max]` (`(min, max]` when `minExclusive`). */
export function checkNumber(value: unknown, path: string, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, minExclusive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (minExclusive && value === min)) {
    const parts: string[] = [];
    if (min > Number.NEGATIVE_INFINITY) parts.push(minExclusive ? `> ${min}` : `>= ${min}`);
    if (max < Number.POSITIVE_INFINITY) parts.push(`<= ${max}`);
    throw new ConfigError(`must be a finite number${parts.length > 0 ? ` ${parts.join(' and ')}` : ''}, got ${describeValue(value)}`, { path });
  }
  return value;
}

/** One of the listed values. */
export function checkOneOf<T extends string | number | boolean | null>(value: unknown, path: string, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new ConfigError(`must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(value)}`, { path });
  }
  return value as T;
}

/** `true` or `false`. */
export function checkBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`must be true or false, got ${describeValue(value)}`, { path });
  return value;
}

/** A plain object (not null, not an array); refuses keys outside `allowed` when given, with "did you mean". */
export function checkObject(value: unknown, path: string, allowed?: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : describeValue(value)}`, { path });
  }
  if (allowed !== undefined) {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) throw new ConfigError(unknownKeyReason(key, allowed), { path: joinPath(path, [key]) });
    }
  }
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// Declarative options through a schema

type AnySchema = z.core.$ZodType;
type Def = { type: string; [k: string]: unknown };

function defOf(schema: AnySchema): Def {
  return schema._zod.def as unknown as Def;
}

/** The schema without optional / nullable / default / readonly / pipe-input wrappers. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const def = defOf(s);
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'prefault' || def.type === 'readonly' || def.type === 'nonoptional' || def.type === 'catch') s = def.innerType as AnySchema;
    else if (def.type === 'pipe') s = def.in as AnySchema;
    else if (def.type === 'lazy') s = (def.getter as () => AnySchema)();
    else return s;
  }
  return s;
}

/** The sub-schema at a path (best effort: the first union member that has the key). */
function schemaAt(schema: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let s: AnySchema | undefined = schema;
  for (const key of path) {
    if (s === undefined) return undefined;
    s = childOf(unwrap(s), key);
  }
  return s === undefined ? undefined : unwrap(s);
}

function childOf(s: AnySchema, key: PropertyKey): AnySchema | undefined {
  const def = defOf(s);
  switch (def.type) {
    case 'object': return (def.shape as Record<string, AnySchema>)[String(key)] ?? (def.catchall as AnySchema | undefined);
    case 'array': return def.element as AnySchema;
    case 'record': return def.valueType as AnySchema;
    case 'tuple': return (def.items as AnySchema[])[Number(key)] ?? (def.rest as AnySchema | undefined);
    case 'union': {
      for (const option of def.options as AnySchema[]) {
        const child = childOf(unwrap(option), key);
        if (child !== undefined) return child;
      }
      return undefined;
    }
    case 'intersection': return childOf(unwrap(def.left as AnySchema), key) ?? childOf(unwrap(def.right as AnySchema), key);
    default: return undefined;
  }
}

/** The keys an object schema (or any object member of a union) allows. */
function knownKeys(schema: AnySchema | undefined): string[] {
  if (schema === undefined) return [];
  const def = defOf(schema);
  if (def.type === 'object') return Object.keys(def.shape as object);
  if (def.type === 'union') return [...new Set((def.options as AnySchema[]).flatMap((o) => knownKeys(unwrap(o))))];
  if (def.type === 'intersection') return [...knownKeys(unwrap(def.left as AnySchema)), ...knownKeys(unwrap(def.right as AnySchema))];
  return [];
}

interface Bound { value: number; inclusive: boolean }

function bounds(schema: AnySchema | undefined): { min?: Bound; max?: Bound; integer: boolean } {
  if (schema === undefined || defOf(schema).type !== 'number') return { integer: false };
  const def = defOf(schema);
  const out: { min?: Bound; max?: Bound; integer: boolean } = { integer: typeof def.format === 'string' && /int/.test(def.format) };
  for (const check of (def.checks as AnySchema[] | undefined) ?? []) {
    const c = (check._zod.def as unknown) as { check: string; value: number; inclusive: boolean };
    if (c.check === 'greater_than') out.min = { value: Number(c.value), inclusive: c.inclusive };
    if (c.check === 'less_than') out.max = { value: Number(c.value), inclusive: c.inclusive };
  }
  return out;
}

function numberRange(b: ReturnType<typeof bounds>, fallback: { min?: Bound; max?: Bound }): string {
  const min = b.min ?? fallback.min;
  const max = b.max ?? fallback.max;
  const noun = b.integer ? 'an integer' : 'a number';
  if (b.integer && min?.inclusive && max?.inclusive) return `${noun} in ${min.value}..${max.value}`;
  const parts: string[] = [];
  if (min !== undefined) parts.push(`${min.inclusive ? '>=' : '>'} ${min.value}`);
  if (max !== undefined) parts.push(`${max.inclusive ? '<=' : '<'} ${max.value}`);
  return parts.length > 0 ? `${noun} ${parts.join(' and ')}` : noun;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a finite number', int: 'an integer', string: 'a string', boolean: 'true or false', object: 'an object',
  array: 'an array', null: 'null', record: 'an object', bigint: 'an integer', literal: 'a literal value',
};

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': return TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'invalid_value': return issue.values.map((v) => JSON.stringify(v)).join(', ');
    default: return issue.message;
  }
}

interface Found { path: PropertyKey[]; reason: string }

/** A human reason for one issue, in the style of the `check*` functions. */
function reasonOf(issue: z.core.$ZodIssue, root: AnySchema, basePath: readonly PropertyKey[]): Found {
  const path = [...basePath, ...issue.path];
  const got = `got ${describeValue((issue as { input?: unknown }).input)}`;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] as string;
      return { path: [...path, key], reason: unknownKeyReason(key, knownKeys(schemaAt(root, path))) };
    }
    case 'invalid_type': {
      const input = (issue as { input?: unknown }).input;
      if (input === undefined) return { path, reason: 'is required' };
      if (issue.expected === 'number' && typeof input === 'number') return { path, reason: `must be a finite number, ${got}` };
      if (issue.expected === 'int' && typeof input === 'number') {
        const b = bounds(schemaAt(root, path));
        return { path, reason: `must be ${numberRange({ ...b, integer: true }, {})}, ${got}` };
      }
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return { path, reason: `must be ${expected}, ${got}` };
    }
    case 'too_small':
    case 'too_big': {
      const limit = issue.code === 'too_small' ? { min: { value: Number(issue.minimum), inclusive: issue.inclusive ?? true } } : { max: { value: Number(issue.maximum), inclusive: issue.inclusive ?? true } };
      if (issue.origin === 'number' || issue.origin === 'int') {
        const b = bounds(schemaAt(root, path));
        return { path, reason: `must be ${numberRange(b, limit)}, ${got}` };
      }
      const bound = issue.code === 'too_small' ? Number(issue.minimum) : Number(issue.maximum);
      const exact = (issue as { exact?: boolean }).exact === true;
      const cmp = exact ? 'exactly' : issue.code === 'too_small' ? 'at least' : 'at most';
      if (issue.origin === 'array' || issue.origin === 'set') return { path, reason: `must have ${cmp} ${bound} item${bound === 1 ? '' : 's'}, ${got}` };
      if (issue.origin === 'string') return { path, reason: bound === 1 && issue.code === 'too_small' ? `must not be empty, ${got}` : `must have ${cmp} ${bound} characters, ${got}` };
      return { path, reason: `${issue.message}, ${got}` };
    }
    case 'invalid_value':
      return { path, reason: `must be ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}, ${got}` };
    case 'invalid_union': {
      // A branch whose problems all lie deeper than the union itself matched the value's shape: report its
      // first problem. Otherwise no branch matched: list what each branch expects.
      const branches = issue.errors;
      const deep = branches.find((b) => b.length > 0 && b.every((i) => i.path.length > 0 || i.code === 'unrecognized_keys' || i.code === 'custom'));
      if (deep !== undefined) return reasonOf(deep[0] as z.core.$ZodIssue, root, path);
      const expected = [...new Set(branches.map((b) => (b[0] ? expectation(b[0]) : '')).filter((e) => e !== ''))];
      return { path, reason: `must be ${expected.join(' or ')}, ${got}` };
    }
    case 'invalid_format':
      return { path, reason: issue.format === 'regex' ? `must match ${String((issue as { pattern?: unknown }).pattern)}, ${got}` : `must be a valid ${issue.format}, ${got}` };
    case 'not_multiple_of':
      return { path, reason: `must be a multiple of ${String(issue.divisor)}, ${got}` };
    default:
      return { path, reason: issue.message };
  }
}

/**
 * Check `value` against an options schema and return the parsed value (defaults filled in). Throws a
 * `ConfigError` for the first problem, whose `path` is the key path (the location's `path` as prefix)
 * and whose message names the value, or, for an unknown key, "did you mean" the closest known key.
 */
export function parseOptions<S extends OptionsSchema>(schema: S, value: unknown, location: OptionsLocation = {}): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data as z.output<S>;
  throw optionsError(result.error.issues, schema, location);
}

/** The `ConfigError` for the first of a schema's issues (see `parseOptions`). */
export function optionsError(issues: readonly z.core.$ZodIssue[], schema: OptionsSchema, location: OptionsLocation = {}): ConfigError {
  // An unknown key first: a misspelt key also makes the real one missing, and "did you mean" says both.
  const first = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  if (first === undefined) return new ConfigError('is not valid', { ...(location.path !== undefined ? { path: location.path } : {}), ...(location.file !== undefined ? { file: location.file } : {}) });
  const { path, reason } = reasonOf(first, schema as AnySchema, []);
  const full = joinPath(location.path, path);
  return new ConfigError(reason, { ...(full !== '' ? { path: full } : {}), ...(location.file !== undefined ? { file: location.file } : {}), details: { issues: issues.length } });
}

/** The JSON Schema (draft 2020-12) of an options schema, as written by users (defaults optional). */
export function optionsJsonSchema(schema: OptionsSchema): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * The options schema of a raw-input byte limit (`maxBytes`), for encoders that let users change it:
 * a positive integer, default `defaultBytes`.
 */
export function maxBytesOption(defaultBytes: number): z.ZodDefault<z.ZodInt> {
  return z.int().min(1).default(defaultBytes).describe(`Largest raw value accepted, in bytes (file size, decoded bytes or UTF-8 length); larger values are refused with LimitExceededError. Default ${defaultBytes}.`) as unknown as z.ZodDefault<z.ZodInt>;
}

/**
 * `true` when a documented options interface and a schema's input type accept the same values, for a
 * compile-time check beside each declared schema:
 * `type _Check = ExpectTrue<OptionsMatch<MyEncoderConfig, z.input<typeof myOptionsSchema>>>;`
 */
export type OptionsMatch<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compiles only for `true` (see `OptionsMatch`). */
export type ExpectTrue<T extends true> = T;
