/** SIGINT / SIGTERM for a coordinating command: abort the run (waiting jobs are withdrawn), then exit 1. */
export function abortOnSignals(log: (line: string) => void): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const h = (): void => {
      log(`${name}: stopping; jobs not yet taken by a worker are withdrawn`);
      abort.abort(new Error(`interrupted by ${name}`));
    };
    process.once(name, h);
    return [name, h] as const;
  });
  return { signal: abort.signal, dispose: () => { for (const [name, h] of handlers) process.off(name, h); } };
}
