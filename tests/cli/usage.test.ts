// Usage: --help on every command, exit code 2 for usage errors, 1 with a JSON error for failures. The
// exit codes are checked on spawned processes; the full matrix of mistakes runs in process (same code).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from 'mmfuse';
import { lastJson, runCli } from './helpers.js';

async function inProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: process.cwd() });
  return { code, stdout, stderr };
}

describe('mmfuse usage (spawned)', () => {
  it('prints help with exit 0, and refuses usage mistakes with exit 2', async () => {
    const [help, unknown, badOption, missing] = await Promise.all([
      runCli(['--help']),
      runCli(['trian']),
      runCli(['eval', '--model', 'm', '--data', 'd.jsonl', '--bogus']),
      runCli(['predict', '--text', 'hi']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: mmfuse <command>/);
    for (const c of ['train', 'eval', 'predict', 'serve', 'inspect']) expect(help.stdout).toContain(`  ${c} `);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "trian" \(did you mean "train"\?\)/);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/unknown option --bogus for "eval"/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required option --model/);
  });

  it('fails with exit 1 and a JSON error naming the key path for a bad config', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-usage-'));
    writeFileSync(path.join(dir, 'bad.yaml'), 'inputs: {}\noutput: { field: label }\ndata: { train: t.jsonl, tset: x.jsonl }\n');
    const r = await runCli(['train', 'bad.yaml', '--out', 'model', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    const out = lastJson(r);
    expect(out.error).toMatchObject({ code: 'CONFIG', path: 'data.tset', file: path.join(dir, 'bad.yaml') });
    expect(out.error.message).toMatch(/data\.tset: unknown key; did you mean "test"\?/);
    expect(r.stderr).toMatch(/error \[CONFIG\]/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('mmfuse usage (in process)', () => {
  it('has --help for every command, each listing its options', async () => {
    for (const c of ['train', 'eval', 'predict', 'serve', 'export', 'inspect', 'prepare', 'hyperopt', 'worker']) {
      const r = await inProcess([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: mmfuse ${c}`));
      expect(r.stdout).toContain('-h, --help');
    }
    const serve = await inProcess(['serve', '-h']);
    for (const o of ['--model', '--host', '--port', '--max-body-bytes']) expect(serve.stdout).toContain(o);
    expect((await inProcess(['help', 'eval'])).stdout).toMatch(/^Usage: mmfuse eval --model DIR --data MANIFEST \[--runtime NAME\] \[--threads N\] \[--plugin MODULE ...\] \[--json\]/);
    expect((await inProcess(['--version'])).stdout).toBe('0.1.0\n');
    expect((await inProcess(['train', '--help'])).stdout).toMatch(/^Usage: mmfuse train CONFIG --out DIR \[--seed N\] \[--epochs N\] \[--checkpoint DIR\] \[--resume\] \[--cache DIR\] \[--redis URL\] \[--plugin MODULE ...\] \[--json\]/);
    const none = await inProcess([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: mmfuse <command>/);
  });

  it('gives exit 2 with the usage line for each kind of mistake', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['train'], /missing CONFIG/],
      [['train', 'c.yaml'], /missing required option --out/],
      [['train', 'c.yaml', '--out', 'm', '--epochs', '0'], /--epochs must be at least 1/],
      [['train', 'c.yaml', '--out', 'm', '--seed', 'x'], /--seed expects an integer/],
      [['eval', '--model', 'm'], /missing required option --data/],
      [['predict', '--model', 'm'], /give at least one input/],
      [['predict', '--model', 'm', '--data', 'd.jsonl', '--text', 'x'], /do not combine it with --text/],
      [['serve', '--model', 'm', '--port', '70000'], /--port must be at most 65535/],
      [['serve', '--model', 'm', '--port'], /--port needs a value/],
      [['inspect'], /missing DIR/],
      [['inspect', 'a', 'b'], /unexpected argument "b"/],
    ];
    for (const [argv, message] of cases) {
      const r = await inProcess(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(message);
      expect(r.stderr).toMatch(new RegExp(`Usage: mmfuse ${argv[0]}`));
      expect(r.stdout).toBe('');
    }
  });
});
