import { defineConfig } from 'tsup';
import type { Options } from 'tsup';

// One build entry per package; each package's `exports` map names exactly these files.
const packages = ['core', 'audio', 'text-rnn', 'vision-cnn', 'fusion'];

// Peer and runtime dependencies stay external: an application has one TensorFlow.js engine.
const external = [/^@tensorflow\//, /^@mmfuse\//, 'sharp', 'wavefile', '@xenova/transformers', 'yaml'];

export default defineConfig([
  ...packages.map((name): Options => ({
    name,
    entry: { index: `packages/${name}/src/index.ts` },
    outDir: `packages/${name}/dist`,
    format: ['esm', 'cjs'],
    dts: true,
    tsconfig: 'tsconfig.json',
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    external,
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
    dts: { entry: { index: 'packages/cli/src/index.ts' } },
    tsconfig: 'tsconfig.json',
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    external,
  }) satisfies Options,
]);
