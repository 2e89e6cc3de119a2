import { defineConfig } from 'tsup';
import type { Options } from 'tsup';

// One build entry per package; each package's `exports` map names exactly these files.
const packages = ['core', 'audio', 'text-rnn', 'vision-cnn', 'fusion', 'speech'];

// Peer and runtime dependencies stay external: an application has one TensorFlow.js engine.
// The audio codecs (WebAssembly, loaded on first use) stay separate npm packages too: mpg123 and codec-parser
// are LGPL and must remain replaceable, not bundled. Flite (@echogarden) likewise stays its own package.
const external = [/^@tensorflow\//, /^@mmfuse\//, 'sharp', 'wavefile', '@xenova/transformers', 'yaml', 'mpg123-decoder', 'opus-decoder', /^@wasm-audio-decoders\//, /^@echogarden\//];

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
    // @mmfuse/speech finds its bundled Flite build through import.meta.url, which the CJS build shims.
    shims: name === 'speech',
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
