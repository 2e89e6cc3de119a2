// Bad input through the CLI is a typed error, never INTERNAL (exit 1 with code INTERNAL is for bugs):
// a YAML alias bomb is a ConfigError naming the file; `mmfuse eval` with nothing to score (an empty
// manifest, /dev/null, only bad lines, only labels the model never saw) exits 1 with the reason instead of
// `{"n":0,"accuracy":0}`; and a walk over the bad inputs each command can be given checks that every
// failure is a typed error (exit 1 with a code other than INTERNAL, or exit 2 for usage) with a message.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import { jsonl, pngBytes } from '../cli/fixtures.js';

let dir: string;

const rows = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, text: i % 2 === 0 ? `good fine day ${i}` : `bad awful day ${i}`, label: i % 2 === 0 ? 'yes' : 'no' }));
const MODEL_YAML = 'inputs:\n  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }\nfusion: { dModel: 8, layers: 1, heads: 2 }\noutput: { field: label }\ntraining: { epochs: 1, batchSize: 8 }\ndata: { train: train.jsonl }\n';

interface Run { code: number; stdout: string; stderr: string; error: { code: string; message: string; file?: string } | undefined }

async function cli(argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
  const last = stdout.trim().split('\n').pop();
  let error: Run['error'];
  try { error = last ? (JSON.parse(last) as { error?: Run['error'] }).error : undefined; } catch { error = undefined; }
  return { code, stdout, stderr, error };
}

/** A YAML "billion laughs": each alias level multiplies the one before. */
function aliasBomb(levels: number): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
  lines.push(`inputs: *a${levels - 1}`, 'output: { field: label }');
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-errors-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows));
  writeFileSync(path.join(dir, 'model.yaml'), MODEL_YAML);
  const trained = await cli(['train', 'model.yaml', '--out', 'model', '--json']);
  if (trained.code !== 0) throw new Error(`train failed: ${trained.stderr}`);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a YAML alias bomb', () => {
  it('is a ConfigError naming the file, not INTERNAL "Excessive alias count"', async () => {
    writeFileSync(path.join(dir, 'bomb.yaml'), aliasBomb(9));
    const r = await cli(['train', 'bomb.yaml', '--out', 'bomb-model', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.error).toMatchObject({ code: 'CONFIG', file: path.join(dir, 'bomb.yaml') });
    expect(r.error!.message).toMatch(/alias/i);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe('`mmfuse eval` with nothing to score', () => {
  it('exits 1 with the reason for an empty manifest, /dev/null, only bad lines and only unseen labels', async () => {
    writeFileSync(path.join(dir, 'empty.jsonl'), '');
    writeFileSync(path.join(dir, 'blank.jsonl'), '\n\n   \n');
    writeFileSync(path.join(dir, 'bad-lines.jsonl'), '{"text": "broken\n[1,2]\n{"text": 5, "label": "yes"}\n{"label": "yes"}\n');
    writeFileSync(path.join(dir, 'unseen.jsonl'), jsonl([{ id: 'u1', text: 'good day', label: 'maybe' }, { id: 'u2', text: 'bad day', label: 'perhaps' }, { id: 'u3', text: 'ok', label: 'maybe' }]));
    for (const data of ['empty.jsonl', 'blank.jsonl', '/dev/null', 'bad-lines.jsonl', 'unseen.jsonl']) {
      const r = await cli(['eval', '--model', 'model', '--data', data, '--json']);
      expect(r.code, `${data}: ${r.stdout}`).toBe(1);
      expect(r.error, data).toBeDefined();
      expect(r.error!.code, data).not.toBe('INTERNAL');
      expect(r.stdout, data).not.toMatch(/"accuracy"/);
      if (data !== '/dev/null') {
        expect(r.error!.message, data).toMatch(/nothing to score/);
        expect(r.error!.file, data).toBe(path.join(dir, data));
      }
    }
    // Unseen labels: each line named on stderr with its label, and the error says why nothing was left.
    const unseen = await cli(['eval', '--model', 'model', '--data', 'unseen.jsonl', '--json']);
    expect(unseen.stderr).toMatch(/unseen\.jsonl:1 .*"maybe"/);
    expect(unseen.stderr).toMatch(/unseen\.jsonl:2 .*"perhaps"/);
    expect(unseen.stderr).toMatch(/unseen\.jsonl:3 .*"maybe"/);
    expect(unseen.error!.message).toMatch(/all 3 samples were skipped/);
    const bad = await cli(['eval', '--model', 'model', '--data', 'bad-lines.jsonl', '--json']);
    expect(bad.error!.message).toMatch(/all 4 samples were skipped/);
    // One scorable line is enough: it is scored, the rest listed.
    writeFileSync(path.join(dir, 'one-good.jsonl'), jsonl([{ id: 'u1', text: 'good day', label: 'maybe' }, rows[0]!]));
    const one = await cli(['eval', '--model', 'model', '--data', 'one-good.jsonl', '--json']);
    expect(one.code, one.stderr).toBe(0);
    const scored = JSON.parse(one.stdout.trim().split('\n').pop() as string);
    expect(scored.n).toBe(1);
    expect(scored.skipped).toHaveLength(1);
  });
});

describe('every bad input the CLI is given', () => {
  it('is a typed error with a message (exit 1, code not INTERNAL; or exit 2 for usage), never an internal error', async () => {
    mkdirSync(path.join(dir, 'a-folder'), { recursive: true });
    mkdirSync(path.join(dir, 'not-a-model'), { recursive: true });
    writeFileSync(path.join(dir, 'not-a-model', 'model.json'), '{"format": "something else"}');
    mkdirSync(path.join(dir, 'broken-model'), { recursive: true });
    writeFileSync(path.join(dir, 'broken-model', 'model.json'), '{"format": "mmfuse-fusion-model", "version": 1, "config": {');
    mkdirSync(path.join(dir, 'occupied'), { recursive: true });
    writeFileSync(path.join(dir, 'occupied', 'NOTES.md'), 'mine\n');
    writeFileSync(path.join(dir, 'bad.yaml'), 'inputs: [unclosed\n');
    writeFileSync(path.join(dir, 'typo.yaml'), MODEL_YAML.replace('hiddenSize', 'hiddenSise'));
    writeFileSync(path.join(dir, 'no-data.yaml'), MODEL_YAML.replace('data: { train: train.jsonl }\n', ''));
    writeFileSync(path.join(dir, 'empty-train.yaml'), MODEL_YAML.replace('train.jsonl', 'empty.jsonl'));
    writeFileSync(path.join(dir, 'empty.jsonl'), '');
    writeFileSync(path.join(dir, 'garbage.jsonl'), Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a, 0x7b, 0x0a]));
    writeFileSync(path.join(dir, 'list.json'), '[1, 2, 3]');
    writeFileSync(path.join(dir, 'picture.png'), await pngBytes([10, 20, 30], 8, 1));

    const cases: string[][] = [
      ['train', 'missing.yaml', '--out', 'm1'],
      ['train', 'a-folder', '--out', 'm1'],
      ['train', '/dev/zero', '--out', 'm1'],
      ['train', 'bad.yaml', '--out', 'm1'],
      ['train', 'list.json', '--out', 'm1'],
      ['train', 'typo.yaml', '--out', 'm1'],
      ['train', 'no-data.yaml', '--out', 'm1'],
      ['train', 'empty-train.yaml', '--out', 'm1'],
      ['train', 'model.yaml', '--out', 'occupied'],
      ['train', 'model.yaml', '--out', '/'],
      ['train', 'model.yaml', '--out', 'm1', '--epochs', '0'],
      ['train', 'model.yaml', '--out', 'm1', '--resume'],
      ['eval', '--model', 'missing', '--data', 'train.jsonl'],
      ['eval', '--model', 'a-folder', '--data', 'train.jsonl'],
      ['eval', '--model', 'not-a-model', '--data', 'train.jsonl'],
      ['eval', '--model', 'broken-model', '--data', 'train.jsonl'],
      ['eval', '--model', 'model', '--data', 'missing.jsonl'],
      ['eval', '--model', 'model', '--data', 'a-folder'],
      ['eval', '--model', 'model', '--data', 'garbage.jsonl'],
      ['eval', '--model', 'model', '--data', 'train.jsonl', '--plugin', './no-such-plugin.js'],
      ['predict', '--model', 'model', '--input', 'nope=1'],
      ['predict', '--model', 'model', '--image', 'picture.png'],
      ['predict', '--model', 'model', '--data', 'missing.jsonl'],
      ['predict', '--model', 'model', '--data', 'garbage.jsonl'],
      ['predict', '--model', 'missing', '--text', 'hi'],
      ['predict', '--model', 'model'],
      ['inspect', 'missing'],
      ['inspect', 'not-a-model'],
      ['inspect', 'broken-model'],
      ['inspect', 'train.jsonl'],
      ['serve', '--model', 'missing', '--port', '0'],
      ['serve', '--model', 'model', '--port', '99999'],
      // Option names that Object.prototype answers to are unknown options like any other.
      ['eval', '--model', 'model', '--data', 'train.jsonl', '--constructor', 'x'],
      ['predict', '--model', 'model', '--toString'],
      ['train', 'model.yaml', '--out', 'm1', '--__proto__=1'],
      ['inspect', 'model', '--no-hasOwnProperty'],
    ];
    const seen: string[] = [];
    for (const argv of cases) {
      const r = await cli([...argv, '--json']);
      const what = `mmfuse ${argv.join(' ')} -> ${r.code}: ${r.stderr.slice(-400)}`;
      expect(r.stderr, what).not.toMatch(/internal error/);
      if (r.code === 2) {
        expect(r.stderr, what).toMatch(/^mmfuse \w+: .+/);
        if (argv.some((a) => /^--(no-)?(constructor|toString|__proto__|hasOwnProperty)/.test(a))) expect(r.stderr, what).toMatch(/unknown option --(no-)?(constructor|toString|__proto__|hasOwnProperty)/);
        seen.push(`${argv[0]} USAGE`);
        continue;
      }
      // `predict --data` answers per sample: its bad lines are listed, each with a typed code, and it exits 0.
      if (argv[0] === 'predict' && argv.includes('garbage.jsonl')) {
        expect(r.code, what).toBe(0);
        expect(r.stderr, what).toMatch(/skipped/);
        continue;
      }
      expect(r.code, what).toBe(1);
      expect(r.error, what).toBeDefined();
      expect(r.error!.code, what).toMatch(/^[A-Z_]+$/);
      expect(r.error!.code, what).not.toBe('INTERNAL');
      expect(r.error!.message.length, what).toBeGreaterThan(10);
      seen.push(`${argv[0]} ${r.error!.code}`);
    }
    // The walk reached the typed errors it is about (a case that stopped failing would shrink this list).
    for (const code of ['CONFIG', 'MODEL_FORMAT', 'INVALID_INPUT', 'USAGE']) expect(seen.some((s) => s.endsWith(code)), `${code} in ${seen.join(', ')}`).toBe(true);
  });
});
