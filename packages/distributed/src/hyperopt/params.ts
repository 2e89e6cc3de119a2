/** Setting config values by key path (`training.learningRate`, `inputs.text.encoder.hiddenSize`). */
import { ConfigError } from '@mmfuse/core/base';
import type { JsonObject, JsonValue } from '@mmfuse/core/base';

/**
 * A copy of `config` with each `params` key path set to its value (objects along the path are created when
 * absent). Throws `ConfigError` when a path runs through a value that is not an object.
 */
export function applyParams(config: JsonObject, params: Readonly<Record<string, JsonValue>>): JsonObject {
  const out = structuredClone(config);
  for (const [key, value] of Object.entries(params)) {
    const parts = key.split('.');
    let node: JsonObject = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = parts[i] as string;
      const next = node[k];
      if (next === undefined || next === null) {
        const fresh: JsonObject = {};
        node[k] = fresh;
        node = fresh;
      } else if (typeof next === 'object' && !Array.isArray(next)) {
        node = next as JsonObject;
      } else {
        throw new ConfigError(`cannot set ${key}: ${parts.slice(0, i + 1).join('.')} is not an object in the config`, { path: `params.${key}` });
      }
    }
    node[parts[parts.length - 1] as string] = value;
  }
  return out;
}

/** Short text of parameter values for logs and tables, e.g. `training.learningRate=0.0031, fusion.dropout=0.12`. */
export function describeParams(params: Readonly<Record<string, JsonValue>>): string {
  return Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(3)) : JSON.stringify(v)}`).join(', ');
}
