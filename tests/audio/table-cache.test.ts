// The bounded cache of DSP tables: least recently used out, by count and by total size.
import { describe, expect, it } from 'vitest';
import { TableCache } from '../../packages/audio/src/internal/cache.js';
import { resampleKernel } from '../../packages/audio/src/internal/resampler.js';

describe('TableCache', () => {
  it('keeps the most recently used entries within its count', () => {
    const c = new TableCache<number>(2);
    let made = 0;
    const get = (k: string): number => c.get(k, () => ++made);
    expect([get('a'), get('b'), get('a'), get('c')]).toEqual([1, 2, 1, 3]); // c evicts b, the least recent
    expect(get('a')).toBe(1);
    expect(get('b')).toBe(4);
    expect(made).toBe(4);
  });

  it('keeps the entries within their total size, and always the newest', () => {
    const c = new TableCache<Float64Array>(100, { size: (t) => t.length, max: 10 });
    let made = 0;
    const get = (k: string, n: number): Float64Array => c.get(k, () => { made++; return new Float64Array(n); });
    get('a', 4);
    get('b', 4);
    get('a', 4); // a is now the most recent
    get('c', 4); // 12 > 10: b goes
    expect(made).toBe(3);
    get('a', 4);
    get('c', 4);
    expect(made).toBe(3);
    get('b', 4);
    expect(made).toBe(4);
    get('big', 50); // larger than max alone: kept, everything else goes
    get('big', 50);
    expect(made).toBe(5);
    get('a', 4);
    expect(made).toBe(6);
  });

  it('holds one resampling table per speed-perturbation rate a run draws (201 rates in [0.9, 1.1] at 8 kHz)', () => {
    const tables = Array.from({ length: 201 }, (_, i) => resampleKernel(Math.round(8000 * (0.9 + i / 1000)), 8000));
    const again = Array.from({ length: 201 }, (_, i) => resampleKernel(Math.round(8000 * (0.9 + i / 1000)), 8000));
    expect(again.every((t, i) => t === tables[i])).toBe(true);
  });
});
