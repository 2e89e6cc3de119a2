// A third-party modality through the CLI: the config's `plugins` (and `--plugin`) import the example
// tabular plugin (examples/tabular-plugin.ts), which registers `tabular/linear`; its values are JSON.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonl } from './fixtures.js';
import { lastJson, repoRoot, runCli } from './helpers.js';
import { runMain } from './in-process.js';
import type { InProcessResult } from './in-process.js';

const plugin = path.join(repoRoot, 'examples/tabular-plugin.ts');
let dir: string;

const inProcess = (argv: string[]): Promise<InProcessResult> => runMain(argv, dir);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-plugins-'));
  // "yes" rows have a large first column; the text says the same thing in words.
  const rows = Array.from({ length: 16 }, (_, i) => ({
    id: `t${i}`,
    text: i % 2 === 0 ? 'good great' : 'bad awful',
    stats: i % 2 === 0 ? [3 + (i % 3), 0.5, -1] : [-3 - (i % 3), 0.25, 1],
    label: i % 2 === 0 ? 'yes' : 'no',
  }));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows));
  writeFileSync(path.join(dir, 'model.yaml'), [
    `plugins: [${JSON.stringify(path.relative(dir, plugin))}]`,
    'inputs:',
    '  text: { type: text, encoder: { kind: rnn, embeddingDim: 8, hiddenSize: 8 } }',
    '  stats: { type: tabular, encoder: { kind: linear, columns: 3, dim: 8 } }',
    'output: { field: label }',
    'fusion: { dModel: 16, heads: 2, layers: 1 }',
    'data: { train: train.jsonl }',
    'training: { epochs: 2, batchSize: 8 }',
  ].join('\n'));
  const r = await inProcess(['train', 'model.yaml', '--out', 'model']);
  if (r.code !== 0) throw new Error(`train failed: ${r.stderr}`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('third-party plugins', () => {
  it('trains with the config\'s plugins and records them', () => {
    const run = JSON.parse(readFileSync(path.join(dir, 'model', 'run.json'), 'utf8'));
    expect(run.plugins).toEqual([plugin]);
  });

  it('predicts a plugin modality from JSON with --plugin in a spawned process, and fails clearly without it', async () => {
    const [withPlugin, without] = await Promise.all([
      runCli(['predict', '--model', 'model', '--plugin', path.relative(dir, plugin), '--input', 'stats=[4, 0.5, -1]', '--json'], { cwd: dir }),
      runCli(['predict', '--model', 'model', '--input', 'stats=[4, 0.5, -1]', '--json'], { cwd: dir }),
    ]);
    expect(withPlugin.code, withPlugin.stderr).toBe(0);
    expect(withPlugin.stderr).toMatch(/loaded plugin .*tabular-plugin\.ts/);
    const p = lastJson(withPlugin);
    expect(p.modalitiesUsed).toEqual(['stats']);
    expect(Object.keys(p.probabilities).sort()).toEqual(['no', 'yes']);
    expect(without.code).toBe(1);
    expect(lastJson(without).error.message).toMatch(/tabular\/linear/);
  });

  it('refuses a bad plugin value with the encoder\'s typed error, and a plugin that cannot load', async () => {
    const bad = await inProcess(['predict', '--model', 'model', '--input', 'stats=[1, "x", 3]', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'INVALID_INPUT', field: 'stats' });
    const missing = await inProcess(['predict', '--model', 'model', '--plugin', './no-such-plugin.js', '--text', 'x', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).error).toMatchObject({ code: 'CONFIG', path: 'plugins' });
    expect(JSON.parse(missing.stdout).error.message).toMatch(/cannot load plugin ".*no-such-plugin\.js"/);
  });
});
