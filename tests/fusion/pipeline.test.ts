import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PrepareCache, Progress } from '@mmfuse/fusion';

const work = mkdtempSync(path.join(tmpdir(), 'mmfuse-pipe-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('prepared-input cache', () => {
  it('keys by content, encoder kind and config; a path is keyed by its file bytes', async () => {
    const c = new PrepareCache(path.join(work, 'c1'));
    const base = { kind: 'text/rnn', config: { tokenizer: { type: 'word' } }, input: 'text' as const };
    const k1 = await c.key('hello', base);
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
    expect(await c.key('hello', base)).toBe(k1);
    expect(await c.key('hello!', base)).not.toBe(k1);
    expect(await c.key('hello', { ...base, kind: 'text/other' })).not.toBe(k1);
    expect(await c.key('hello', { ...base, config: { tokenizer: { type: 'char' } } })).not.toBe(k1);
    writeFileSync(path.join(work, 'a.bin'), Buffer.from([1, 2, 3]));
    writeFileSync(path.join(work, 'b.bin'), Buffer.from([1, 2, 3]));
    const pk = { kind: 'audio/cnn', config: {}, input: 'file' as const, baseDir: work };
    const ka = await c.key('a.bin', pk);
    expect(await c.key('b.bin', pk)).toBe(ka); // same bytes, same key
    writeFileSync(path.join(work, 'b.bin'), Buffer.from([1, 2, 4]));
    expect(await c.key('b.bin', pk)).not.toBe(ka); // edited file, new key
    expect(await c.key('missing.bin', pk)).toBeUndefined(); // prepare reports the error
    expect(await c.key(new Uint8Array([1, 2, 3]), pk)).not.toBe(ka);
  });

  it('stores values (typed arrays included) on disk atomically and reads them in another instance', async () => {
    const dir = path.join(work, 'c2');
    const a = new PrepareCache(dir);
    const key = (await a.key('x', { kind: 'k/k', config: {}, input: 'text' })) as string;
    expect(await a.get(key)).toEqual({ hit: false });
    await a.set(key, { features: new Float32Array([1.5, 2]), frames: 1 });
    const b = new PrepareCache(dir);
    const got = await b.get(key);
    expect(got).toEqual({ hit: true, value: { features: new Float32Array([1.5, 2]), frames: 1 } });
    expect(b.stats.diskHits).toBe(1);
    const files = readdirSync(path.join(dir, key.slice(0, 2)));
    expect(files).toEqual([`${key}.v8`]); // no temp file left
    // A corrupt entry is a miss, not a crash.
    writeFileSync(path.join(dir, key.slice(0, 2), `${key}.v8`), 'garbage');
    expect(await new PrepareCache(dir).get(key)).toEqual({ hit: false });
  });
});

describe('progress', () => {
  const fakeStream = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, write: (s: string) => { chunks.push(s); return true; } } as unknown as NodeJS.WriteStream };
  };
  it('draws a bar with ETA on a terminal', () => {
    const { chunks, stream } = fakeStream(true);
    const p = new Progress('auto', () => undefined, stream);
    expect(p.mode).toBe('bar');
    p.startEpoch();
    p.step({ epoch: 1, epochs: 3, done: 5, total: 10, loss: 0.5, doneAtStart: 0 });
    expect(chunks.at(-1)).toMatch(/^\repoch 1\/3 \[#{12}-{12}\] 5\/10 loss 0\.5000 ETA \d\d:\d\d/);
  });
  it('writes plain lines otherwise, and nothing with none', () => {
    const lines: string[] = [];
    const { chunks, stream } = fakeStream(false);
    const p = new Progress('auto', (l) => lines.push(l), stream);
    expect(p.mode).toBe('lines');
    p.startEpoch();
    p.step({ epoch: 1, epochs: 1, done: 10, total: 10, loss: 0.25, doneAtStart: 0 });
    p.epoch('epoch 1/1 loss 0.2500');
    expect(lines).toEqual(['epoch 1/1 loss 0.2500']);
    expect(chunks).toEqual([]);
    const quiet: string[] = [];
    const n = new Progress('none', (l) => quiet.push(l), stream);
    n.epoch('x');
    expect(quiet).toEqual([]);
  });
});
