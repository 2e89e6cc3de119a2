import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import { applyOverrides, loadConfig, parseConfigText, readCliConfig, splitCliConfig } from 'mmfuse';

const tempDirs: string[] = [];
afterAll(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

function tempConfig(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-config-'));
  tempDirs.push(dir);
  mkdirSync(path.join(dir, 'data'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('config files', () => {
  it('reads YAML and JSON to the same config, resolving data paths against the config folder', async () => {
    const yamlFile = tempConfig('model.yaml', [
      'inputs:',
      '  utterance: { type: text, encoder: { kind: rnn, cell: lstm } }',
      'output: { field: label, type: category }',
      'data:',
      '  train: data/train.jsonl',
      '  validation: ../elsewhere/valid.jsonl',
      'training: { epochs: 3 }',
    ].join('\n'));
    const fromYaml = await readCliConfig(yamlFile);
    const dir = path.dirname(yamlFile);
    expect(fromYaml.baseDir).toBe(dir);
    expect(fromYaml.data).toEqual({ train: path.join(dir, 'data/train.jsonl'), validation: path.resolve(dir, '../elsewhere/valid.jsonl') });
    expect(fromYaml.model).toEqual({
      inputs: { utterance: { type: 'text', encoder: { kind: 'rnn', cell: 'lstm' } } },
      output: { field: 'label', type: 'category' },
      training: { epochs: 3 },
    });
    const jsonFile = tempConfig('model.json', JSON.stringify({ ...fromYaml.model, data: { train: 'data/train.jsonl' } }));
    const fromJson = await readCliConfig(jsonFile);
    expect(fromJson.model).toEqual(fromYaml.model);
    expect(fromJson.data.train).toBe(path.join(path.dirname(jsonFile), 'data/train.jsonl'));
    // No extension: detected from the text.
    expect(parseConfigText('{"a": 1}', 'cfg')).toEqual({ a: 1 });
    expect(parseConfigText('a: 1\nb: [x, y]\n', 'cfg')).toEqual({ a: 1, b: ['x', 'y'] });
  });

  it('names the key path of unknown and mistyped keys, with a hint', async () => {
    const e1 = await configError(readCliConfig(tempConfig('a.json', '{"inputs": {}, "output": {}, "trainig": {"epochs": 2}}')));
    expect(e1.path).toBe('trainig');
    expect(e1.message).toMatch(/a\.json: trainig: unknown key; did you mean "training"\?/);
    const e2 = await configError(readCliConfig(tempConfig('b.yaml', 'inputs: {}\ndata:\n  train: t.jsonl\n  valid: v.jsonl\n')));
    expect(e2.path).toBe('data.valid');
    expect(e2.message).toMatch(/did you mean "validation"/);
    const e3 = await configError(readCliConfig(tempConfig('c.yaml', 'data:\n  train: 42\n')));
    expect(e3.path).toBe('data.train');
    expect(e3.reason).toMatch(/data\.train: must be a manifest path .* got 42/);
    const e4 = await configError(readCliConfig(tempConfig('d.yaml', 'data: [train.jsonl]\n')));
    expect(e4.path).toBe('data');
    const e5 = await configError(readCliConfig(tempConfig('e.json', '[1, 2]')));
    expect(e5.message).toMatch(/must be an object .* got an array/);
    const e6 = await configError(readCliConfig(tempConfig('p.yaml', 'plugins: ./one.js\n')));
    expect(e6.path).toBe('plugins');
    const e7 = await configError(readCliConfig(tempConfig('q.yaml', 'plugins: [./one.js, 7]\n')));
    expect(e7.path).toBe('plugins[1]');
    const plugins = splitCliConfig({ plugins: ['./p/one.js', '../two.ts', 'some-package', '/abs/three.js'] }, '/cfg/dir/m.json').plugins;
    expect(plugins).toEqual([path.resolve('/cfg/dir/p/one.js'), path.resolve('/cfg/two.ts'), 'some-package', path.resolve('/abs/three.js')]);
    expect(() => splitCliConfig({ totally: 1 }, '/x/c.json')).toThrow(/totally: unknown key; allowed top-level keys are inputs, fusion, output, training, data, plugins, description/);
  });

  it('reports syntax errors with the line, and missing files', async () => {
    const e1 = await configError(readCliConfig(tempConfig('bad.json', '{\n  "inputs": {},\n  "output": {,\n}')));
    expect(e1.line).toBe(3);
    expect(e1.message).toMatch(/bad\.json:3: config is not valid JSON/);
    const e2 = await configError(readCliConfig(tempConfig('bad.yaml', 'inputs:\n  a: 1\n  a: 2\n')));
    expect(e2.message).toMatch(/not valid YAML/);
    expect(e2.line).toBe(3);
    const e3 = await configError(readCliConfig('/nonexistent/model.yaml'));
    expect(e3.message).toMatch(/model\.yaml: config file does not exist/);
  });

  it('applies --seed and --epochs over the training section without touching the input', () => {
    const model = { inputs: {}, training: { epochs: 20, batchSize: 8 } };
    expect(applyOverrides(model, { seed: 7, epochs: 2 })).toEqual({ inputs: {}, training: { epochs: 2, batchSize: 8, seed: 7 } });
    expect(model.training).toEqual({ epochs: 20, batchSize: 8 });
    expect(applyOverrides({ inputs: {} }, { epochs: 1 })).toEqual({ inputs: {}, training: { epochs: 1 } });
    expect(applyOverrides(model, {})).toBe(model);
  });
});

const fixtures = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/cli');

describe('config normalization (through @mmfuse/fusion)', () => {
  it('accepts the full example and fills every default into a minimal config', async () => {
    const full = await loadConfig(path.join(fixtures, 'full-example.json'));
    expect(full.data).toEqual({ train: path.join(fixtures, 'train.jsonl'), validation: path.join(fixtures, 'valid.jsonl') });
    expect(full.config.fusion).toMatchObject({ strategy: 'transformer', dModel: 128, layers: 2, heads: 4, modalityDropout: 0.2, ffDim: 256 });
    expect(full.config.inputs.audio).toMatchObject({ type: 'audio', encoder: { kind: 'cnn' }, preprocessing: { sampleRateHz: 16000, features: 'log-mel', nMels: 64 } });
    expect(full.config.training).toMatchObject({ epochs: 20, batchSize: 32, learningRate: 0.001, earlyStoppingPatience: 3, seed: 42 });

    const minimal = await loadConfig(path.join(fixtures, 'minimal.yaml'), { seed: 5, epochs: 1 });
    expect(minimal.config.output).toEqual({ field: 'label', type: 'category' });
    expect(minimal.config.training.seed).toBe(5);
    expect(minimal.config.training.epochs).toBe(1);
    expect(minimal.data.train).toBe(path.join(fixtures, 'train.jsonl'));
  });

  it('documents in the README exactly the defaults normalizeConfig fills in', async () => {
    const readme = readFileSync(path.resolve(fixtures, '../../../packages/cli/README.md'), 'utf8');
    const documented = new Map<string, unknown>();
    for (const m of readme.matchAll(/^\| `((?:fusion|training)\.[A-Za-z]+)` \| `([^`]+)` \|/gm)) documented.set(m[1] as string, JSON.parse(m[2] as string));
    const { config } = await loadConfig(path.join(fixtures, 'minimal.yaml'));
    const actual = new Map<string, unknown>();
    for (const section of ['fusion', 'training'] as const) {
      for (const [k, v] of Object.entries(config[section])) actual.set(`${section}.${k}`, v);
    }
    expect(documented.size).toBeGreaterThan(15);
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(actual));
  });

  it('names the file and key path of errors found by the model rules', async () => {
    const bad = tempConfig('m.yaml', 'inputs:\n  text: { type: text, encoder: { kind: rnn } }\noutput: { field: label }\nfusion: { dModel: 16, heads: 5 }\n');
    const e = await configError(loadConfig(bad));
    expect(e.path).toBe('fusion.heads');
    expect(e.file).toBe(bad);
    expect(e.message).toBe(`${bad}: fusion.heads: must divide dModel 16, got 5`);
    const e2 = await configError(loadConfig(tempConfig('n.json', JSON.stringify({ inputs: { text: { type: 'text', encoder: { kind: 'rnn' } } }, output: { field: 'text' } }))));
    expect(e2.path).toBe('output.field');
    const e3 = await configError(loadConfig(tempConfig('o.yaml', 'inputs: {}\noutput: { field: label }\n')));
    expect(e3.path).toBe('inputs');
  });
});
