import { describe, expect, it } from 'vitest';
import { UsageError, helpText, parseArgs, usageLine } from 'mmfuse';
import type { CommandSpec } from 'mmfuse';

const spec: CommandSpec = {
  name: 'train',
  summary: 'Train a model.',
  positionals: [{ name: 'CONFIG', description: 'config file' }],
  options: {
    out: { type: 'string', valueName: 'DIR', description: 'model folder', required: true },
    epochs: { type: 'integer', description: 'epochs', min: 1 },
    rate: { type: 'number', description: 'a rate' },
    json: { type: 'boolean', description: 'JSON output' },
    input: { type: 'string', description: 'FIELD=VALUE', repeatable: true },
  },
};

function usage(argv: string[]): string {
  try {
    parseArgs(spec, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('argument parser', () => {
  it('gives a variadic last positional every further argument', () => {
    const many: CommandSpec = { name: 'report', summary: 'Compare runs.', positionals: [{ name: 'MODEL_DIR', description: 'runs', variadic: true }], options: { out: { type: 'string', description: 'page' } } };
    expect(parseArgs(many, ['a', '--out', 'x.html', 'b', 'c'])).toEqual({ positionals: { MODEL_DIR: 'a' }, options: { out: 'x.html' }, help: false, rest: ['b', 'c'] });
    expect(parseArgs(many, ['a']).rest).toEqual([]);
    expect(() => parseArgs(many, [])).toThrow(/missing MODEL_DIR/);
    expect(usageLine(many)).toContain('MODEL_DIR [MODEL_DIR...]');
    // Without variadic, an extra argument is still a usage error.
    expect(() => parseArgs(spec, ['a.yaml', 'b.yaml', '--out', 'm'])).toThrow(/unexpected argument "b\.yaml"/);
  });
  it('parses positionals, --name value, --name=value, flags and repeated options', () => {
    const p = parseArgs(spec, ['cfg.yaml', '--out', 'm', '--epochs=3', '--rate', '-0.5', '--json', '--input', 'a=1', '--input=b=2']);
    expect(p).toEqual({ positionals: { CONFIG: 'cfg.yaml' }, options: { out: 'm', epochs: 3, rate: -0.5, json: true, input: ['a=1', 'b=2'] }, help: false });
    expect(parseArgs(spec, ['--out', 'm', '--no-json', '--', '--weird-name.yaml']).positionals.CONFIG).toBe('--weird-name.yaml');
    expect(parseArgs(spec, ['--out', 'm', '--no-json', 'c']).options.json).toBe(false);
  });

  it('reports each kind of usage mistake', () => {
    expect(usage(['cfg'])).toBe('missing required option --out');
    expect(usage(['--out', 'm'])).toBe('missing CONFIG');
    expect(usage(['cfg', '--out'])).toMatch(/--out needs a value \(DIR\)/);
    expect(usage(['cfg', '--out', '--json'])).toMatch(/--out needs a value/);
    expect(usage(['cfg', '--out', 'm', '--epochs', 'two'])).toMatch(/--epochs expects an integer, got "two"/);
    expect(usage(['cfg', '--out', 'm', '--epochs', '1.5'])).toMatch(/expects an integer/);
    expect(usage(['cfg', '--out', 'm', '--epochs', '0'])).toMatch(/at least 1/);
    expect(usage(['cfg', '--out', 'm', '--bogus'])).toMatch(/unknown option --bogus for "train"/);
    expect(usage(['cfg', '--out', 'm', '-x'])).toMatch(/unknown option -x/);
    expect(usage(['cfg', 'extra', '--out', 'm'])).toMatch(/unexpected argument "extra"/);
    expect(usage(['cfg', '--out', 'a', '--out', 'b'])).toMatch(/given more than once/);
    expect(usage(['cfg', '--out', 'm', '--json=yes'])).toMatch(/is a flag/);
    expect(usage(['cfg', '--out', 'm', '--no-json=1'])).toMatch(/--no-json takes no value/);
    // A near miss names the option meant.
    expect(usage(['cfg', '--out', 'm', '--epoch', '3'])).toBe('unknown option --epoch for "train"; did you mean --epochs?');
  });

  it('raises the core UsageError, naming the command', () => {
    try {
      parseArgs(spec, ['cfg']);
    } catch (err) {
      expect(err).toMatchObject({ name: 'UsageError', code: 'USAGE', command: 'train' });
      return;
    }
    throw new Error('no usage error');
  });

  it('lets --help win over missing arguments and documents every option', () => {
    expect(parseArgs(spec, ['--help']).help).toBe(true);
    expect(parseArgs(spec, ['--bogus', '-h', '--epochs', 'x']).help).toBe(true);
    const text = helpText(spec);
    expect(text.split('\n')[0]).toBe('Usage: mmfuse train CONFIG --out DIR [--epochs INTEGER] [--rate NUMBER] [--json] [--input STRING ...]');
    for (const name of Object.keys(spec.options)) expect(text).toContain(`--${name}`);
    expect(text).toContain('-h, --help');
    expect(usageLine(spec, 'x')).toMatch(/^x train CONFIG/);
  });
});
