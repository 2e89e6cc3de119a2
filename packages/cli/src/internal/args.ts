/**
 * A small, dependency-free argument parser. Each command declares its positionals and options once; the
 * same declaration drives parsing, validation and `--help`. Usage mistakes throw `UsageError`, which the
 * CLI turns into exit code 2 with the command's usage line.
 */

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
}

export interface PositionalSpec {
  name: string;
  description: string;
  /** Default `true`. */
  required?: boolean;
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
}

/** A usage mistake: unknown option, missing value, bad number. Exit code 2. */
export class UsageError extends Error {
  static readonly errorName = 'UsageError';
  readonly command?: string;
  constructor(message: string, command?: string) {
    super(message);
    this.name = UsageError.errorName;
    if (command !== undefined) this.command = command;
  }
}

function parseValue(spec: CommandSpec, name: string, opt: OptionSpec, raw: string): string | number {
  if (opt.type === 'string') {
    if (raw === '') throw new UsageError(`--${name} needs a non-empty value`, spec.name);
    return raw;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`--${name} expects ${opt.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`, spec.name);
  }
  if (opt.type === 'integer' && !Number.isInteger(n)) {
    throw new UsageError(`--${name} expects an integer, got ${JSON.stringify(raw)}`, spec.name);
  }
  if (opt.min !== undefined && n < opt.min) throw new UsageError(`--${name} must be at least ${opt.min}, got ${raw}`, spec.name);
  if (opt.max !== undefined && n > opt.max) throw new UsageError(`--${name} must be at most ${opt.max}, got ${raw}`, spec.name);
  return n;
}

/**
 * Parse `argv` (the arguments after the command name) against `spec`. Accepts `--name value`,
 * `--name=value`, `--flag`, `--no-flag` for booleans, and `--` to end options.
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, OptionValue> = {};
  // `--help` anywhere before `--` wins over every other mistake on the line.
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help')) return { positionals: {}, options: {}, help: true };
  let help = false;
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (onlyPositionals || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') { onlyPositionals = true; continue; }
    if (arg === '-h' || arg === '--help') { help = true; continue; }
    if (!arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`, spec.name);
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let opt = spec.options[name];
    if (opt === undefined && name.startsWith('no-') && spec.options[name.slice(3)]?.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`, spec.name);
      name = name.slice(3);
      opt = spec.options[name];
      inline = 'false';
    }
    if (opt === undefined) {
      const known = Object.keys(spec.options).map((k) => `--${k}`).join(', ');
      throw new UsageError(`unknown option --${name} for "${spec.name}"${known ? ` (options: ${known}, --help)` : ''}`, spec.name);
    }
    let value: string | number | boolean;
    if (opt.type === 'boolean') {
      if (inline === undefined || inline === 'true') value = true;
      else if (inline === 'false') value = false;
      else throw new UsageError(`--${name} is a flag; write --${name} or --no-${name}, not --${name}=${inline}`, spec.name);
    } else {
      let raw = inline;
      if (raw === undefined) {
        const next = argv[i + 1];
        // A following option is never taken as a value, so `--out --json` reports the missing value.
        if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`--${name} needs a value (${opt.valueName ?? opt.type.toUpperCase()})`, spec.name);
        raw = next;
        i++;
      }
      value = parseValue(spec, name, opt, raw);
    }
    if (opt.repeatable) {
      const prev = options[name];
      options[name] = (Array.isArray(prev) ? [...prev, value] : [value]) as OptionValue;
    } else {
      if (name in options) throw new UsageError(`--${name} is given more than once`, spec.name);
      options[name] = value;
    }
  }
  const named: Record<string, string> = {};
  if (!help) {
    if (positionals.length > spec.positionals.length) {
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[spec.positionals.length])}`, spec.name);
    }
    spec.positionals.forEach((p, idx) => {
      const v = positionals[idx];
      if (v === undefined) {
        if (p.required !== false) throw new UsageError(`missing ${p.name}`, spec.name);
      } else {
        named[p.name] = v;
      }
    });
    for (const [name, opt] of Object.entries(spec.options)) {
      if (opt.required && !(name in options)) throw new UsageError(`missing required option --${name}`, spec.name);
    }
  }
  return { positionals: named, options, help };
}

/** The one-line usage of a command, e.g. `mmfuse eval --model DIR --data MANIFEST [--json]`. */
export function usageLine(spec: CommandSpec, program = 'mmfuse'): string {
  const parts = [program, spec.name];
  for (const p of spec.positionals) parts.push(p.required === false ? `[${p.name}]` : p.name);
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
