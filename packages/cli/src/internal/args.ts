/**
 * Command-line arguments on `node:util.parseArgs`. Each command declares its positionals and options once;
 * the same declaration drives parsing, validation and `--help`. Usage mistakes throw `UsageError` (from
 * @mmfuse/core), which the CLI turns into exit code 2 with the command's usage line.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { UsageError } from '@mmfuse/core';

export { UsageError };

/** The value kinds an option can take. */
export type OptionType = 'string' | 'integer' | 'number' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  /** One line for `--help`; name the default there. */
  description: string;
  /** Placeholder shown in help, e.g. `DIR`. Default: the upper-cased type. */
  valueName?: string;
  /** The option must be given. Default `false`. */
  required?: boolean;
  /** The option may repeat; values are collected in order. Default `false`. */
  repeatable?: boolean;
  /** Smallest accepted value for numeric options. */
  min?: number;
  /** Largest accepted value for numeric options. */
  max?: number;
  /**
   * A shortcut for the model's one input of this modality (e.g. `--text T`): the value is read by that
   * input's raw kind, as `--input FIELD=VALUE` would.
   */
  modality?: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
  /** Default `true`. */
  required?: boolean;
  /** The last positional only: it also takes every further argument (`ParsedArgs.rest`). Default false. */
  variadic?: boolean;
}

export interface CommandSpec {
  name: string;
  /** One line for the command list. */
  summary: string;
  positionals: PositionalSpec[];
  options: Record<string, OptionSpec>;
  /** Extra paragraphs printed after the option list (examples, notes). */
  epilog?: string;
}

export type OptionValue = string | number | boolean | string[] | number[];

export interface ParsedArgs {
  /** Positional values by name (absent when optional and not given). */
  positionals: Record<string, string>;
  /** Option values by name (absent when not given); repeatable options are arrays. */
  options: Record<string, OptionValue>;
  /** `--help` / `-h` was given: print help and exit 0, whatever else is wrong. */
  help: boolean;
  /** The arguments after a variadic last positional's first value. */
  rest?: string[];
}

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[]; const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The closest of `names` within edit distance 2 (for "did you mean"), if any. */
export function closest(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const dist = distance(name, n);
    if (dist < bestD) { best = n; bestD = dist; }
  }
  return best;
}

function usage(reason: string, spec: CommandSpec): UsageError {
  return new UsageError(reason, { command: spec.name });
}

function parseValue(spec: CommandSpec, name: string, opt: OptionSpec, raw: string): string | number {
  if (opt.type === 'string') {
    if (raw === '') throw usage(`--${name} needs a non-empty value`, spec);
    return raw;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) {
    throw usage(`--${name} expects ${opt.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`, spec);
  }
  if (opt.type === 'integer' && !Number.isInteger(n)) {
    throw usage(`--${name} expects an integer, got ${JSON.stringify(raw)}`, spec);
  }
  if (opt.min !== undefined && n < opt.min) throw usage(`--${name} must be at least ${opt.min}, got ${raw}`, spec);
  if (opt.max !== undefined && n > opt.max) throw usage(`--${name} must be at most ${opt.max}, got ${raw}`, spec);
  return n;
}

/** The `node:util.parseArgs` option table of a spec: booleans as flags (and their `--no-` forms), the rest as strings. */
function nodeOptions(spec: CommandSpec): Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, opt] of Object.entries(spec.options)) {
    out[name] = opt.type === 'boolean' ? { type: 'boolean', multiple: true } : { type: 'string', multiple: true };
    if (opt.type === 'boolean') out[`no-${name}`] = { type: 'boolean', multiple: true };
  }
  return out;
}

/**
 * Parse `argv` (the arguments after the command name) against `spec`. Accepts `--name value`,
 * `--name=value`, `--flag`, `--no-flag` for booleans, and `--` to end options.
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  // `--help` anywhere before `--` wins over every other mistake on the line.
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help')) return { positionals: {}, options: {}, help: true };
  // Not strict: unknown options and missing values come back as tokens, so the messages below are ours.
  const { tokens } = nodeParseArgs({ args: [...argv], options: nodeOptions(spec), strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const options: Record<string, OptionValue> = {};
  const known = Object.keys(spec.options);
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') { positionals.push(token.value); continue; }
    const written = argv[token.index] as string;
    if (!token.rawName.startsWith('--')) throw usage(`unknown option ${written.split('=')[0]}`, spec);
    let name = token.name;
    let inline = token.inlineValue === true ? token.value : undefined;
    // Own options only: `--constructor` or `--toString` is an unknown option, not Object's member.
    const optionOf = (n: string): OptionSpec | undefined => (Object.hasOwn(spec.options, n) ? spec.options[n] : undefined);
    let opt = optionOf(name);
    if (opt === undefined && name.startsWith('no-') && optionOf(name.slice(3))?.type === 'boolean') {
      if (inline !== undefined) throw usage(`--${name} takes no value`, spec);
      name = name.slice(3);
      opt = optionOf(name);
      inline = 'false';
    }
    if (opt === undefined) {
      const hint = closest(name, known);
      const list = known.map((k) => `--${k}`).join(', ');
      throw usage(`unknown option --${name} for "${spec.name}"${hint !== undefined ? `; did you mean --${hint}?` : list ? ` (options: ${list}, --help)` : ''}`, spec);
    }
    let value: string | number | boolean;
    if (opt.type === 'boolean') {
      if (inline === undefined || inline === 'true') value = true;
      else if (inline === 'false') value = false;
      else throw usage(`--${name} is a flag; write --${name} or --no-${name}, not --${name}=${inline}`, spec);
    } else {
      const raw = token.value;
      // A following option is never taken as a value, so `--out --json` reports the missing value.
      if (raw === undefined || (token.inlineValue !== true && raw.startsWith('--') && raw.length > 2)) throw usage(`--${name} needs a value (${opt.valueName ?? opt.type.toUpperCase()})`, spec);
      value = parseValue(spec, name, opt, raw);
    }
    if (opt.repeatable) {
      const prev = options[name];
      options[name] = (Array.isArray(prev) ? [...prev, value] : [value]) as OptionValue;
    } else {
      if (Object.hasOwn(options, name)) throw usage(`--${name} is given more than once`, spec);
      options[name] = value;
    }
  }
  const variadic = spec.positionals.at(-1)?.variadic === true;
  if (!variadic && positionals.length > spec.positionals.length) {
    throw usage(`unexpected argument ${JSON.stringify(positionals[spec.positionals.length])}`, spec);
  }
  const named: Record<string, string> = {};
  spec.positionals.forEach((p, idx) => {
    const v = positionals[idx];
    if (v === undefined) {
      if (p.required !== false) throw usage(`missing ${p.name}`, spec);
    } else {
      named[p.name] = v;
    }
  });
  for (const [name, opt] of Object.entries(spec.options)) {
    if (opt.required && !Object.hasOwn(options, name)) throw usage(`missing required option --${name}`, spec);
  }
  return { positionals: named, options, help: false, ...(variadic ? { rest: positionals.slice(spec.positionals.length) } : {}) };
}

/** The one-line usage of a command, e.g. `mmfuse eval --model DIR --data MANIFEST [--json]`. */
export function usageLine(spec: CommandSpec, program = 'mmfuse'): string {
  const parts = [program, spec.name];
  for (const p of spec.positionals) parts.push(`${p.required === false ? `[${p.name}]` : p.name}${p.variadic === true ? ` [${p.name}...]` : ''}`);
  for (const [name, opt] of Object.entries(spec.options)) {
    const v = opt.type === 'boolean' ? `--${name}` : `--${name} ${opt.valueName ?? opt.type.toUpperCase()}`;
    const r = opt.repeatable ? `${v} ...` : v;
    parts.push(opt.required ? r : `[${r}]`);
  }
  return parts.join(' ');
}

/** Full `--help` text of a command. */
export function helpText(spec: CommandSpec, program = 'mmfuse'): string {
  const lines = [`Usage: ${usageLine(spec, program)}`, '', spec.summary, ''];
  if (spec.positionals.length > 0) {
    lines.push('Arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(24)}${p.description}`);
    lines.push('');
  }
  lines.push('Options:');
  for (const [name, opt] of Object.entries(spec.options)) {
    const left = opt.type === 'boolean' ? `--${name}` : `--${name} ${opt.valueName ?? opt.type.toUpperCase()}`;
    lines.push(`  ${left.padEnd(24)}${opt.description}${opt.required ? ' (required)' : ''}${opt.repeatable ? ' (repeatable)' : ''}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(24)}Show this help and exit`);
  if (spec.epilog !== undefined) lines.push('', spec.epilog);
  return lines.join('\n') + '\n';
}
