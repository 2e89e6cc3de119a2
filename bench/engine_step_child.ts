// The reference training step of `npm run bench engine` in its own process (MMFUSE_THREADS set by the parent, as
// the wasm engine's thread count is fixed per process). Prints one JSON line.
import * as os from 'node:os';
import { initEngine } from '@mmfuse/core';
import { timeSteps, use } from './engine.bench.js';

const info = await initEngine({ engine: 'wasm' });
await use('mmfuse');
const step = timeSteps('mmfuse', 3, 10);
process.stdout.write(`${JSON.stringify({ summary: info.summary, threads: info.threads ?? 1, step, load: os.loadavg() })}\n`);
