import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMmfuseError, loadManifest } from '@mmfuse/core';
import type { SkippedSample } from '@mmfuse/core';

const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-fuzz-manifest-'));
let counter = 0;
function write(name: string, content: string | Uint8Array): string {
  const file = path.join(dir, `${counter++}-${name}`);
  writeFileSync(file, content);
  return file;
}

const fields = { text: 'string', audio: 'path', image: 'path', label: 'label', score: 'number' } as const;

// Random JSON values and random lines: the reader must never crash, hang or throw an untyped error; in skip
// mode every line is either a sample or a skipped entry naming its line.
describe('manifest reader under random input', () => {
  it('accounts for every JSONL line as a sample or a typed skip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.record({ text: fc.oneof(fc.string(), fc.integer()), audio: fc.oneof(fc.string(), fc.constant('../x.wav'), fc.constant('/abs.wav')), label: fc.oneof(fc.string(), fc.double(), fc.array(fc.string())) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
          fc.string().filter((s) => !s.includes('\n') && !s.includes('\r')),
        ), { maxLength: 30 }),
        async (lines) => {
          const file = write('fuzz.jsonl', lines.join('\n'));
          const skipped: SkippedSample[] = [];
          const { samples } = await loadManifest(file, { fields, onError: 'skip', onSkip: (s) => skipped.push(s) });
          const nonBlank = lines.map((l, i) => ({ l, line: i + 1 })).filter((x) => x.l.trim() !== '');
          expect(samples.length + skipped.length).toBe(nonBlank.length);
          const seenLines = [...samples.map((s) => s.line), ...skipped.map((s) => s.line)].sort((a, b) => a - b);
          expect(seenLines).toEqual(nonBlank.map((x) => x.line));
          for (const s of skipped) {
            expect(s.code).toMatch(/^[A-Z_]+$/);
            expect(s.message).toContain(`:${s.line}`);
          }
        },
      ),
      { numRuns: 150, seed: 20261130 },
    );
  });

  it('throws only typed errors in strict mode, on random bytes and random CSV', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (bytes, csv) => {
        const file = write(csv ? 'fuzz.csv' : 'fuzz.jsonl', bytes);
        try {
          await loadManifest(file, { fields });
        } catch (err) {
          expect(isMmfuseError(err)).toBe(true);
        }
        const { samples, skipped } = await loadManifest(file, { fields, onError: 'skip' }).catch((err: unknown) => {
          // A CSV whose header itself is unusable cannot be read at all: that is a typed error too.
          expect(isMmfuseError(err)).toBe(true);
          return { samples: [], skipped: [] };
        });
        expect(Array.isArray(samples) && Array.isArray(skipped)).toBe(true);
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});
