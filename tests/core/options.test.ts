import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError, InvalidInputError, LimitExceededError, checkBoolean, checkInteger, checkNumber, checkObject, checkOneOf, checkRawInput,
  maxBytesOption, optionsJsonSchema, parseOptions, suggestKey, z,
} from '@mmfuse/core';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('argument checks', () => {
  it('name the option and the value, with the range', () => {
    expect(checkInteger(3, 'n', 1)).toBe(3);
    expect(() => checkInteger(0, 'n', 1)).toThrow(/^n: must be an integer >= 1, got 0$/);
    expect(() => checkInteger(65, 'nMels', 1, 64)).toThrow(/^nMels: must be an integer in 1\.\.64, got 65$/);
    expect(() => checkInteger(1.5, 'n')).toThrow(/n: must be an integer, got 1\.5/);
    expect(() => checkNumber(Number.NaN, 'rate', 0, 1)).toThrow(/rate: must be a finite number >= 0 and <= 1, got NaN/);
    expect(() => checkNumber(0, 'power', 0, Number.POSITIVE_INFINITY, true)).toThrow(/power: must be a finite number > 0, got 0/);
    expect(() => checkOneOf('mirror', 'padMode', ['reflect', 'constant'])).toThrow(/padMode: must be one of "reflect", "constant", got "mirror"/);
    expect(() => checkBoolean('yes', 'center')).toThrow(/center: must be true or false, got "yes"/);
    expect(() => checkObject({ hiddenSise: 1 }, 'encoder', ['hiddenSize', 'cell'])).toThrow(/encoder\.hiddenSise: unknown key; did you mean "hiddenSize"\?/);
    expect(() => checkObject([], 'encoder')).toThrow(/encoder: must be an object, got an array/);
  });

  it('suggests the closest known key', () => {
    expect(suggestKey('trainig', ['inputs', 'training'])).toBe('training');
    expect(suggestKey('HIDDENSIZE', ['hiddenSize'])).toBe('hiddenSize');
    expect(suggestKey('valid', ['train', 'validation'])).toBe('validation');
    expect(suggestKey('zzz', ['train', 'validation'])).toBeUndefined();
  });
});

describe('parseOptions', () => {
  const schema = z.strictObject({
    hiddenSize: z.int().min(1).default(64),
    dropout: z.number().min(0).lt(1).optional(),
    cell: z.enum(['lstm', 'gru']).optional(),
    tokenizer: z.strictObject({ maxLength: z.int().min(1).max(512).optional() }).optional(),
    channels: z.array(z.int().min(1)).min(1).optional(),
    charNgrams: z.union([z.literal(false), z.strictObject({ minN: z.int().min(1) })]).optional(),
  });

  it('fills defaults and returns the parsed value', () => {
    expect(parseOptions(schema, {})).toEqual({ hiddenSize: 64 });
    expect(parseOptions(schema, { cell: 'gru', charNgrams: false })).toEqual({ hiddenSize: 64, cell: 'gru', charNgrams: false });
  });

  it('reports the first problem with its key path, value and a "did you mean" for unknown keys', () => {
    const typo = configError(() => parseOptions(schema, { hiddenSise: 32 }, { path: 'inputs.text.encoder' }));
    expect(typo.path).toBe('inputs.text.encoder.hiddenSise');
    expect(typo.message).toBe('inputs.text.encoder.hiddenSise: unknown key; did you mean "hiddenSize"?');
    expect(configError(() => parseOptions(schema, { hiddenSize: 0 })).message).toBe('hiddenSize: must be an integer >= 1, got 0');
    expect(configError(() => parseOptions(schema, { hiddenSize: 2.5 })).message).toBe('hiddenSize: must be an integer >= 1, got 2.5');
    expect(configError(() => parseOptions(schema, { hiddenSize: 'big' })).message).toBe('hiddenSize: must be a finite number, got "big"');
    expect(configError(() => parseOptions(schema, { dropout: 1 })).message).toBe('dropout: must be a number >= 0 and < 1, got 1');
    expect(configError(() => parseOptions(schema, { cell: 'rnn' })).message).toBe('cell: must be one of "lstm", "gru", got "rnn"');
    expect(configError(() => parseOptions(schema, { tokenizer: { maxLength: 600 } })).message).toBe('tokenizer.maxLength: must be an integer in 1..512, got 600');
    expect(configError(() => parseOptions(schema, { tokenizer: { maxLen: 6 } })).message).toBe('tokenizer.maxLen: unknown key; did you mean "maxLength"?');
    expect(configError(() => parseOptions(schema, { channels: [4, 0] })).message).toBe('channels[1]: must be an integer >= 1, got 0');
    expect(configError(() => parseOptions(schema, { channels: [] })).message).toBe('channels: must have at least 1 item, got an array of length 0');
    expect(configError(() => parseOptions(schema, { charNgrams: { minN: 0 } })).message).toBe('charNgrams.minN: must be an integer >= 1, got 0');
    expect(configError(() => parseOptions(schema, { charNgrams: true })).message).toBe('charNgrams: must be false or an object, got true');
    expect(configError(() => parseOptions(schema, 7, { file: '/x/c.yaml' })).message).toBe('/x/c.yaml: must be an object, got 7');
  });

  it('turns a schema into JSON Schema with its defaults and closed objects', () => {
    const json = optionsJsonSchema(schema) as { properties: Record<string, Record<string, unknown>>; additionalProperties: boolean };
    expect(json.additionalProperties).toBe(false);
    expect(json.properties.hiddenSize).toMatchObject({ type: 'integer', minimum: 1, default: 64 });
    expect(json.properties.cell).toMatchObject({ enum: ['lstm', 'gru'] });
  });
});

describe('checkRawInput', () => {
  const ctx = { sample: 's1', field: 'audio' };

  it('refuses files, bytes, texts and JSON values over maxBytes before any decoding', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-raw-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(100));
    const file = { kind: 'file' as const, maxBytes: 64 };
    expect(() => checkRawInput('big.bin', file, { ...ctx, baseDir: dir })).toThrow(LimitExceededError);
    expect(() => checkRawInput('big.bin', file, { ...ctx, baseDir: dir })).toThrow(/sample "s1", field "audio": the file "big\.bin" is 100 bytes, over the limit of 64 bytes/);
    expect(() => checkRawInput('big.bin', { kind: 'file', maxBytes: 100 }, { ...ctx, baseDir: dir })).not.toThrow();
    // A missing file is left to prepare, which names it in its own words.
    expect(() => checkRawInput('missing.wav', file, { ...ctx, baseDir: dir })).not.toThrow();
    expect(() => checkRawInput('../escape.wav', file, { ...ctx, baseDir: dir })).toThrow(InvalidInputError);
    expect(() => checkRawInput(new Uint8Array(65), file, ctx)).toThrow(LimitExceededError);
    expect(() => checkRawInput(new Uint8Array(65), { kind: 'bytes', maxBytes: 64 }, ctx)).toThrow(LimitExceededError);
    expect(() => checkRawInput('text', { kind: 'bytes', maxBytes: 64 }, ctx)).toThrow(/expected bytes/);
    expect(() => checkRawInput('é'.repeat(40), { kind: 'text', maxBytes: 64 }, ctx)).toThrow(/the text is 80 bytes/);
    expect(() => checkRawInput([1, 2, 3], { kind: 'json', maxBytes: 6 }, ctx)).toThrow(/the JSON value is 7 bytes/);
  });

  it('offers a documented maxBytes option schema', () => {
    const s = z.strictObject({ maxBytes: maxBytesOption(1024) });
    expect(parseOptions(s, {})).toEqual({ maxBytes: 1024 });
    expect(() => parseOptions(s, { maxBytes: 0 })).toThrow(/maxBytes: must be an integer >= 1, got 0/);
  });
});
