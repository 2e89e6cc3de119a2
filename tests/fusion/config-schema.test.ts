import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, EncoderRegistry, encoders, z } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';
import '../../examples/tabular-plugin.js';
import { FusionModel, configJsonSchema, loadConfigFile, manifestFields, normalizeConfig, readConfigFile } from '@mmfuse/fusion';
import { main } from 'mmfuse';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function temp(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-config-schema-'));
  dirs.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const base = { output: { field: 'label' } };

describe('encoder options in configs', () => {
  it('refuses a misspelt option with the key path and "did you mean", in the encoder or in preprocessing', () => {
    const e = configError(() => normalizeConfig({ ...base, inputs: { text: { type: 'text', encoder: { kind: 'rnn', hiddenSise: 32 } } } }));
    expect(e.path).toBe('inputs.text.encoder.hiddenSise');
    expect(e.message).toBe('inputs.text.encoder.hiddenSise: unknown key; did you mean "hiddenSize"?');
    const p = configError(() => normalizeConfig({ ...base, inputs: { voice: { type: 'audio', encoder: { kind: 'cnn' }, preprocessing: { nMel: 40 } } } }));
    expect(p.message).toBe('inputs.voice.preprocessing.nMel: unknown key; did you mean "nMels"?');
    const nested = configError(() => normalizeConfig({ ...base, inputs: { text: { type: 'text', encoder: { kind: 'text/rnn', tokenizer: { type: 'wordz' } } } } }));
    expect(nested.message).toBe('inputs.text.encoder.tokenizer.type: must be one of "word", "char", "cjk", "subword", got "wordz"');
    const range = configError(() => normalizeConfig({ ...base, inputs: { img: { type: 'image', encoder: { kind: 'cnn', width: 0 } } } }));
    expect(range.message).toBe('inputs.img.encoder.width: must be an integer in 1..8192, got 0');
    const third = configError(() => normalizeConfig({ ...base, inputs: { stats: { type: 'tabular', encoder: { kind: 'linear', colums: 3 } } } }));
    expect(third.message).toBe('inputs.stats.encoder.colums: unknown key; did you mean "columns"?');
    const modality = configError(() => normalizeConfig({ ...base, inputs: { t: { type: 'audio', encoder: { kind: 'text/rnn' } } } }));
    expect(modality.message).toBe('inputs.t.type: encoder text/rnn reads "text", but the input\'s type is "audio"');
  });

  it('leaves an unregistered kind to the registry, which names the plugin to import', () => {
    const config = { ...base, inputs: { x: { type: 'lidar', encoder: { kind: 'points', anything: 1 } } } };
    expect(normalizeConfig(config).inputs.x?.encoder).toEqual({ kind: 'points', anything: 1 });
    expect(() => FusionModel.create(config)).toThrow(/inputs\.x\.encoder: unknown encoder kind "lidar\/points"; registered: .*Import the plugin package/);
  });

  it('keeps the section messages and defaults', () => {
    const c = normalizeConfig({ ...base, inputs: { text: { type: 'text', encoder: { kind: 'rnn' } } } });
    expect(c.output).toEqual({ field: 'label', type: 'category' });
    expect(c.fusion).toEqual({ strategy: 'transformer', dModel: 128, layers: 2, heads: 4, ffDim: 256, dropout: 0.1, modalityDropout: 0.1 });
    expect(configError(() => normalizeConfig({ ...c, trainig: {} })).message).toBe('trainig: unknown key; did you mean "training"?');
    expect(configError(() => normalizeConfig({ ...c, fusion: { dmodel: 64 } })).message).toBe('fusion.dmodel: unknown key; did you mean "dModel"?');
    expect(configError(() => normalizeConfig({ ...c, training: { minLearningRate: 1 } })).message).toBe('training.minLearningRate: must be <= learningRate 0.001, got 1');
    expect(configError(() => normalizeConfig({ ...c, training: { warmupRatio: 1 } })).message).toBe('training.warmupRatio: must be a number >= 0 and < 1, got 1');
  });
});

describe('the config JSON Schema', () => {
  it('is a union over the registered encoders with their declared options, closed to unknown keys', () => {
    const schema = configJsonSchema() as { $schema: string; properties: Record<string, { additionalProperties?: unknown }>; additionalProperties: boolean };
    expect(schema.$schema).toMatch(/json-schema\.org\/draft\/2020-12/);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(['data', 'description', 'fusion', 'inputs', 'output', 'plugins', 'training']);
    const members = (schema.properties.inputs?.additionalProperties as { anyOf: Array<{ properties: { type: { const: string }; encoder: { properties: Record<string, { enum?: string[] }>; additionalProperties: boolean } } }> }).anyOf;
    const byKind = new Map(members.map((m) => [m.properties.encoder.properties.kind?.enum?.join('|'), m]));
    expect([...byKind.keys()]).toEqual(expect.arrayContaining(['rnn|text/rnn', 'cnn|audio/cnn', 'cnn|image/cnn', 'linear|tabular/linear', 'pretrained|text/pretrained']));
    const rnn = byKind.get('rnn|text/rnn');
    expect(rnn?.properties.type.const).toBe('text');
    expect(rnn?.properties.encoder.additionalProperties).toBe(false);
    expect(Object.keys(rnn?.properties.encoder.properties ?? {})).toEqual(expect.arrayContaining(['kind', 'hiddenSize', 'tokenizer', 'maxBytes']));
    expect(JSON.stringify(schema.properties.output)).toContain('"default":"category"');
  });

  it('lists only what a given registry knows, and a plugin without a schema as open', () => {
    const reg = new EncoderRegistry();
    reg.register({ kind: 'lidar/points', modality: 'lidar', factory: () => { throw new Error('unused'); } });
    reg.register({ kind: 'vendor/x', modality: 'audio', options: z.strictObject({ gain: z.number().default(1) }), factory: () => { throw new Error('unused'); } });
    const text = JSON.stringify(configJsonSchema({ registry: reg }));
    expect(text).toContain('"lidar/points"');
    expect(text).toContain('"gain"');
    expect(text).not.toContain('hiddenSize');
  });

  it('is printed by `mmfuse schema`', async () => {
    let stdout = '';
    const code = await main(['schema'], { stdout: (t) => { stdout += t; }, stderr: () => {}, cwd: process.cwd() });
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { title: string };
    expect(schema.title).toBe('mmfuse config');
    expect(stdout).toContain('hiddenSize');
  });
});

describe('readConfigFile / loadConfigFile', () => {
  it('read YAML with data and plugin paths against the file, and name the file in errors', async () => {
    const file = temp('m.yaml', 'inputs:\n  text: { type: text, encoder: { kind: rnn, hiddenSise: 8 } }\noutput: { field: label }\ndata: { train: d/train.jsonl }\nplugins: [./p.js, some-pkg]\n');
    const read = await readConfigFile(file);
    expect(read.data.train).toBe(path.join(path.dirname(file), 'd/train.jsonl'));
    expect(read.plugins).toEqual([path.join(path.dirname(file), 'p.js'), 'some-pkg']);
    const err = await loadConfigFile(file).then(() => undefined, (e: unknown) => e as ConfigError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toBe(`${file}: inputs.text.encoder.hiddenSise: unknown key; did you mean "hiddenSize"?`);
    expect(err?.file).toBe(file);
  });

  it('give manifest field kinds from the encoders\' declared raw input, not from modality names', () => {
    const config = normalizeConfig({
      output: { field: 'y', type: 'regression' },
      inputs: {
        utterance: { type: 'text', encoder: { kind: 'rnn' } },
        clip: { type: 'audio', encoder: { kind: 'cnn' } },
        stats: { type: 'tabular', encoder: { kind: 'linear', columns: 2 } },
        other: { type: 'lidar', encoder: { kind: 'points' } },
      },
    });
    expect(manifestFields(config, { withTarget: true })).toEqual({ utterance: 'string', clip: 'path', stats: 'any', other: 'any', y: 'any' });
    expect(encoders.rawInput('audio/cnn')).toEqual({ kind: 'file', maxBytes: 256 * 1024 * 1024 });
  });
});
