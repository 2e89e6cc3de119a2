import { defineConfig } from 'tsup';
import type { Options } from 'tsup';

// The build entries of each package; each package's `exports` map names exactly these files. The second
// entry of a plugin package is its side-effect-free one (no encoder registered, no TensorFlow.js loaded); text-rnn's
// third, `use-model`, is the sentence encoder's forward pass (TensorFlow.js only), shared with the browser page.
const packages: Record<string, string[]> = {
  core: ['index', 'base'],
  audio: ['index', 'dsp'],
  'text-rnn': ['index', 'tokenizers', 'use-model'],
  'vision-cnn': ['index', 'preprocess'],
  fusion: ['index', 'feeds'],
  speech: ['index'],
  distributed: ['index'],
};

// Peer and runtime dependencies stay external: an application has one TensorFlow.js engine, and every
// audio codec stays its own replaceable package (mpg123 and codec-parser are LGPL), like Flite (@echogarden); every
// @mmfuse package (its own subpaths included) is loaded from its own install, never inlined.
const external = [/^@tensorflow\//, /^@mmfuse\//, 'sharp', 'wavefile', '@xenova/transformers', 'yaml', 'zod', 'csv-parse', 'busboy', 'bullmq', 'ioredis', 'onnx-proto', 'onnxruntime-node', 'mpg123-decoder', 'opus-decoder', /^@wasm-audio-decoders\//, /^@echogarden\//];

function entries(name: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((e) => [e, `packages/${name}/src/${e}.ts`]));
}

export default defineConfig([
  ...Object.entries(packages).map(([name, names]): Options => ({
    name,
    entry: entries(name, names),
    outDir: `packages/${name}/dist`,
    format: ['esm', 'cjs'],
    // Members marked `@internal` (used across mmfuse's own modules, not an API) are left out of the .d.ts.
    dts: { compilerOptions: { stripInternal: true } },
    // One copy of each module per format: the entries share chunks instead of each bundling its own.
    splitting: true,
    tsconfig: 'tsconfig.json',
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    external,
    // @mmfuse/speech finds its bundled Flite build, core the wasm engine's worker script, and text-rnn the
    // installed sentence-encoder package through import.meta.url, which the CJS build must shim (tsup's CJS
    // output keeps `import.meta` otherwise, a syntax error under require()).
    shims: name === 'speech' || name === 'core' || name === 'text-rnn',
    // The wasm engine's pthread worker script is a plain file that worker_threads loads by path.
    // (Its loader finds the script from `__dirname` in the CJS build and `import.meta.url` in the ESM build;
    // the CJS build never reads the latter, so esbuild's warning that it is empty there is silenced.)
    ...(name === 'core' ? { publicDir: 'packages/core/src/internal/wasm/worker', esbuildOptions: (o) => { o.logOverride = { ...o.logOverride, 'empty-import-meta': 'silent' }; } } : {}),
  })),
  // The CLI has a second entry, `main`, which bin/mmfuse.js runs.
  ({
    name: 'cli',
    entry: { index: 'packages/cli/src/index.ts', main: 'packages/cli/src/main.ts' },
    outDir: 'packages/cli/dist',
    format: ['esm', 'cjs'],
    dts: { entry: { index: 'packages/cli/src/index.ts' }, compilerOptions: { stripInternal: true } },
    splitting: true,
    tsconfig: 'tsconfig.json',
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    external,
  }) satisfies Options,
]);
