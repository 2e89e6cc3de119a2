// One mmfuse measurement of `npm run bench fusion`, in its own process (MMFUSE_THREADS set by the parent, as the
// wasm engine's thread count is fixed per process). Prints one JSON line.
import { measureMmfuse } from './fusion.bench.js';

process.stdout.write(`${JSON.stringify(await measureMmfuse())}\n`);
