/**
 * Image-specific option checks (colours, per-channel vectors) beside core's generic ones (`checkInteger`,
 * `checkNumber`, `checkOneOf`). Every check names the option and the offending value, and throws
 * `ConfigError` (a wrong option is the caller's setting, not the sample's).
 */
import { ConfigError, describeValue } from '@mmfuse/core/base';

const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

/** A `#rgb` or `#rrggbb` colour (the only forms accepted, so a typo cannot become black silently). */
export function checkColour(value: unknown, path: string): string {
  if (typeof value !== 'string' || !HEX_COLOUR.test(value)) {
    throw new ConfigError(`must be a colour written "#rrggbb" or "#rgb", got ${describeValue(value)}`, { path });
  }
  return value;
}

/** Per-channel statistics: `channels` finite numbers (each > 0 when `positive`). */
export function checkChannelVector(value: unknown, path: string, channels: number, positive: boolean): number[] {
  if (!Array.isArray(value) || value.length !== channels) {
    throw new ConfigError(`must be an array of ${channels} numbers (one per channel), got ${describeValue(value)}`, { path });
  }
  value.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0)) {
      throw new ConfigError(`[${i}] must be a finite number${positive ? ' > 0' : ''}, got ${describeValue(v)}`, { path });
    }
  });
  return (value as number[]).slice();
}
