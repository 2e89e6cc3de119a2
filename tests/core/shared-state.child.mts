// Run by tests/core/registry.test.ts in its own process: @mmfuse/core/base loaded twice, once through
// `require` (the CommonJS copy) and once through `import` (the ESM copy), as an app that mixes both does.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cjs = require('@mmfuse/core/base') as typeof import('@mmfuse/core/base');
const esm = await import('@mmfuse/core/base');
const out: Record<string, unknown> = {};
out.twoCopies = cjs.EncoderRegistry !== esm.EncoderRegistry;
// A plugin registered through the CJS copy is visible to the ESM copy, and the other way round.
cjs.registerEncoder({ kind: 'probe/cjs', modality: 'probe', factory: () => { throw new Error('unused'); } });
esm.registerEncoder({ kind: 'probe/esm', modality: 'probe', factory: () => { throw new Error('unused'); } });
out.esmSees = esm.encoders.kinds();
out.cjsSees = cjs.encoders.kinds();
// Errors of one copy are instances of the other copy's classes.
out.instanceOf = new cjs.ConfigError('x') instanceof esm.ConfigError && new esm.InvalidInputError('y') instanceof cjs.MmfuseError;
out.notOtherClass = new cjs.ConfigError('x') instanceof esm.InvalidInputError;
// One transformers.js env queue: a task queued through one copy waits for the other copy's task.
const order: string[] = [];
let release: () => void = () => {};
const first = cjs.withTransformersEnv(async () => { order.push('cjs start'); await new Promise<void>((r) => { release = r; }); order.push('cjs end'); });
const second = esm.withTransformersEnv(async () => { order.push('esm'); });
await new Promise((r) => setTimeout(r, 20));
release();
await Promise.all([first, second]);
out.queue = order;
process.stdout.write(JSON.stringify(out));
