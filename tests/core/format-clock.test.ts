import { describe, expect, it } from 'vitest';
import { formatClock } from '@mmfuse/core';

describe('formatClock', () => {
  it('reads mm:ss below an hour and h:mm:ss from an hour, rounded to the second', () => {
    expect(formatClock(0)).toBe('00:00');
    expect(formatClock(59.4)).toBe('00:59');
    expect(formatClock(59.6)).toBe('01:00');
    expect(formatClock(3599)).toBe('59:59');
    expect(formatClock(3600)).toBe('1:00:00');
    expect(formatClock(36_061)).toBe('10:01:01');
  });

  it('shows an unknown duration (an ETA before any progress) as --:--', () => {
    for (const v of [Infinity, NaN, -1]) expect(formatClock(v)).toBe('--:--');
  });
});
