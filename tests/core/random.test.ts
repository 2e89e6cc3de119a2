import { describe, expect, it } from 'vitest';
import { ConfigError, createRng } from '@mmfuse/core';

describe('Rng', () => {
  it('repeats its stream for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('draws uniform values in range with the right mean, and normals with the right moments', () => {
    const r = createRng(7);
    const u = Array.from({ length: 20000 }, () => r.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(u.reduce((s, x) => s + x, 0) / u.length).toBeCloseTo(0.5, 1);
    const n = Array.from({ length: 20000 }, () => r.normal());
    const mean = n.reduce((s, x) => s + x, 0) / n.length;
    const variance = n.reduce((s, x) => s + (x - mean) ** 2, 0) / n.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(variance).toBeGreaterThan(0.95);
    expect(variance).toBeLessThan(1.05);
  });

  it('forks named streams that do not depend on how far the parent has advanced', () => {
    const a = createRng(1);
    const f1 = a.fork('dropout').nextUint32();
    a.next();
    a.next();
    expect(a.fork('dropout').nextUint32()).toBe(f1);
    expect(a.fork('shuffle').nextUint32()).not.toBe(f1);
  });

  it('shuffles into a permutation', () => {
    const p = createRng(3).permutation(50);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => createRng(3).int(0)).toThrow(ConfigError);
  });
});
