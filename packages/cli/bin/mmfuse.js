#!/usr/bin/env node
// The `mmfuse` executable. An installed package runs the built `dist/main.js`; a fresh clone (no build) runs
// `src/main.ts` through tsx with the `source` export condition, so workspace packages load from source too.
// MMFUSE_FROM_SOURCE=1 forces the source path even when a build exists (the tests use it).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist', 'main.js');
const args = process.argv.slice(2);

if (existsSync(dist) && process.env.MMFUSE_FROM_SOURCE !== '1') {
  const { main } = await import(pathToFileURL(dist).href);
  process.exitCode = await main(args);
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write('mmfuse: no build (dist/main.js) and tsx is not installed; run "npm run build" or install tsx\n');
    process.exit(1);
  }
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, join(here, '..', 'src', 'main.ts'), ...args], { stdio: 'inherit' });
  // Pass termination signals on, so `mmfuse serve` shuts down gracefully under a process manager.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
  });
}
