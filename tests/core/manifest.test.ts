import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, loadManifest, readManifest, resolveDataPath } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';

function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-manifest-'));
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

const fields = { text: 'string', audio: 'path', image: 'path', label: 'label' } as const;

describe('manifests', () => {
  it('reads JSONL samples with free field names, resolving paths and leaving absent modalities absent', async () => {
    const file = tempFile('train.jsonl', [
      '{"text": "where is my card?", "audio": "clips/0001.wav", "image": "img/0001.png", "label": "card_arrival"}',
      '',
      '{"id": "s2", "text": "top up failed", "label": "top_up_failed"}',
      '{"audio": "clips/0003.wav", "image": null, "label": 3}',
    ].join('\n'));
    const dir = path.dirname(file);
    const { samples, skipped } = await loadManifest(file, { fields });
    expect(skipped).toEqual([]);
    expect(samples).toHaveLength(3);
    expect(samples[0]).toEqual({
      id: 'train.jsonl:1', line: 1, baseDir: dir,
      fields: { text: 'where is my card?', audio: path.join(dir, 'clips/0001.wav'), image: path.join(dir, 'img/0001.png'), label: 'card_arrival' },
    });
    expect(samples[1]).toMatchObject({ id: 's2', line: 3 });
    expect(samples[1]?.fields).not.toHaveProperty('audio');
    expect(samples[2]?.fields).toEqual({ audio: path.join(dir, 'clips/0003.wav'), label: 3 });
  });

  it('names the file, line and field of a bad line, or skips and reports it', async () => {
    const file = tempFile('bad.jsonl', [
      '{"text": "ok", "label": "a"}',
      '{"text": "broken", ',
      '{"text": 42, "label": "a"}',
      '["not", "an", "object"]',
      '{"text": "escape", "audio": "../../etc/passwd", "label": "a"}',
      '{"text": "abs", "audio": "/etc/passwd", "label": "a"}',
      '{"text": "fine", "label": "b"}',
    ].join('\n'));
    await expect(loadManifest(file, { fields })).rejects.toThrow(/bad\.jsonl:2: line is not valid JSON/);
    const skipped: SkippedSample[] = [];
    const seen: string[] = [];
    for await (const s of readManifest(file, { fields, onError: 'skip', onSkip: (x) => skipped.push(x) })) seen.push(s.fields.text as string);
    expect(seen).toEqual(['ok', 'fine']);
    expect(skipped.map((s) => [s.line, s.field ?? null])).toEqual([[2, null], [3, 'text'], [4, null], [5, 'audio'], [6, 'audio']]);
    expect(skipped[1]?.message).toBe('bad.jsonl:3'.replace('bad.jsonl', file) + ', sample "bad.jsonl:3", field "text": expected a string, got a number');
    expect(skipped[3]?.reason).toMatch(/escapes the data folder/);
    expect(skipped[4]?.reason).toMatch(/absolute path/);
    expect(skipped.every((s) => s.code === 'INVALID_INPUT')).toBe(true);
  });

  it('allows paths outside the folder only when asked', async () => {
    const file = tempFile('out.jsonl', '{"audio": "../shared/a.wav"}\n');
    const { samples } = await loadManifest(file, { fields, allowOutside: true });
    expect(samples[0]?.fields.audio).toBe(path.resolve(path.dirname(file), '../shared/a.wav'));
    expect(() => resolveDataPath('/data', 'x\0y', { sample: 1, field: 'audio' })).toThrow(InvalidInputError);
    expect(resolveDataPath('/data', 'a/../b.wav')).toBe(path.resolve('/data/b.wav'));
  });

  it('reads CSV with a header, quoted cells (commas, quotes, newlines) and empty cells as absent', async () => {
    const file = tempFile('data.csv', [
      'text,audio,label,score',
      '"hello, world",clips/a.wav,greet,1.5',
      '"she said ""hi""",,greet,2',
      '"two',
      'lines",clips/b.wav,other,3',
      'short,row',
    ].join('\r\n'));
    const { samples, skipped } = await loadManifest(file, { fields: { ...fields, score: 'number' }, onError: 'skip' });
    // A line break inside a quoted cell is kept as written (CRLF here, RFC 4180).
    expect(samples.map((s) => s.fields.text)).toEqual(['hello, world', 'she said "hi"', 'two\r\nlines']);
    expect(samples[1]?.fields).not.toHaveProperty('audio');
    expect(samples[2]).toMatchObject({ line: 4, fields: { score: 3, label: 'other' } });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ line: 6, reason: 'row has 2 cells but the header has 4' });
  });

  it('reads CSV with other delimiters, stray quotes, blank lines and an unclosed quote, naming each line', async () => {
    const semi = tempFile('semi.csv', ['text;label', '"a; b";x', '', 'plain "quoted" word;y', 'c;z;extra', '"never closed;w', 'd;v'].join('\n'));
    const { samples, skipped } = await loadManifest(semi, { delimiter: ';', onError: 'skip' });
    expect(samples.map((s) => [s.line, s.fields.text, s.fields.label])).toEqual([[2, 'a; b', 'x'], [4, 'plain "quoted" word', 'y']]);
    expect(skipped.map((s) => [s.line, s.reason])).toEqual([
      [5, 'row has 3 cells but the header has 2 (a cell holding ";" must be quoted)'],
      [6, 'quoted cell is never closed'],
    ]);
    const tsv = tempFile('tabs.tsv', 'text\tlabel\nhello, world\tgreet\n');
    expect((await loadManifest(tsv)).samples[0]?.fields).toEqual({ text: 'hello, world', label: 'greet' });
    await expect(loadManifest(semi, { delimiter: '' })).rejects.toThrow(/delimiter: must be a non-empty string/);
  });

  it('decodes base64 "bytes" fields with a size limit checked before decoding', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 251, 252, 253]);
    const b64 = Buffer.from(bytes).toString('base64');
    const file = tempFile('bytes.jsonl', [
      JSON.stringify({ id: 'ok', blob: b64 }),
      JSON.stringify({ id: 'bad', blob: 'not base64!' }),
      JSON.stringify({ id: 'big', blob: Buffer.alloc(64).toString('base64') }),
      JSON.stringify({ id: 'num', blob: 5 }),
    ].join('\n'));
    const { samples, skipped } = await loadManifest(file, { fields: { blob: 'bytes' }, maxBytes: { blob: 32 }, onError: 'skip' });
    expect(samples).toHaveLength(1);
    expect(samples[0]?.fields.blob).toBeInstanceOf(Uint8Array);
    expect(Array.from(samples[0]?.fields.blob as Uint8Array)).toEqual(Array.from(bytes));
    expect(skipped.map((s) => [s.sample, s.code])).toEqual([['bad', 'INVALID_INPUT'], ['big', 'LIMIT_EXCEEDED'], ['num', 'INVALID_INPUT']]);
    expect(skipped[1]?.message).toMatch(/sample "big", field "blob": decodes to 64 bytes, over the limit of 32 bytes/);
    // CSV cells too.
    const csv = tempFile('bytes.csv', `id,blob\nc1,${b64}\n`);
    expect(Array.from((await loadManifest(csv, { fields: { blob: 'bytes' } })).samples[0]?.fields.blob as Uint8Array)).toEqual(Array.from(bytes));
  });

  it('checks required fields and numbers', async () => {
    const file = tempFile('req.jsonl', '{"text": "a"}\n{"text": "b", "label": "x", "score": "NaN"}\n');
    await expect(loadManifest(file, { required: ['label'] })).rejects.toThrow(/req\.jsonl:1, sample "req\.jsonl:1", field "label": required field is missing/);
    const { skipped } = await loadManifest(file, { fields: { score: 'number' }, required: ['label'], onError: 'skip' });
    expect(skipped.map((s) => s.field)).toEqual(['label', 'score']);
  });

  it('streams a large manifest without holding it', async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify({ text: `sample ${i}`, label: i % 7 }));
    const file = tempFile('big.jsonl', lines.join('\n'));
    let n = 0;
    let last = '';
    for await (const s of readManifest(file)) { n++; last = s.fields.text as string; }
    expect(n).toBe(20000);
    expect(last).toBe('sample 19999');
  });

  it('fails clearly on a missing manifest', async () => {
    await expect(loadManifest('/nonexistent/m.jsonl')).rejects.toThrow(/m\.jsonl: manifest file does not exist/);
  });
});
