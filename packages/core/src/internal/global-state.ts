/**
 * Process-wide state shared by every copy of @mmfuse/core in a process: the ESM and the CJS build (a
 * plugin loaded with `require`, the app with `import`) and duplicate installs. Each piece lives on
 * `globalThis` under `Symbol.for('@mmfuse/core:<name>@<version>')`, so every copy finds the same one.
 * Bump `version` of a piece when its shape changes, so copies of different shapes never share it.
 */

/** The one value for `name` in this process, created by the first copy that asks. */
export function processGlobal<T>(name: string, version: number, create: () => T): T {
  const key = Symbol.for(`@mmfuse/core:${name}@${version}`);
  const g = globalThis as unknown as Record<symbol, T | undefined>;
  let value = g[key];
  if (value === undefined) {
    value = create();
    // Not enumerable and not writable: visible to Symbol.for lookups only, never replaced.
    Object.defineProperty(g, key, { value, enumerable: false, writable: false, configurable: false });
  }
  return value;
}
