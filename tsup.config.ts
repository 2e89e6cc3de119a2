import { defineConfig } from 'tsup';

// One build entry per package; each package's `exports` map names exactly these files.
const packages = ['core', 'audio', 'text-rnn', 'vision-cnn', 'fusion'];

export default defineConfig(
  packages.map((name) => ({
    name,
    entry: { index: `packages/${name}/src/index.ts` },
    outDir: `packages/${name}/dist`,
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { paths: {} } },
    tsconfig: 'tsconfig.json',
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    // Peer and runtime dependencies stay external: an application has one TensorFlow.js engine.
    external: [/^@tensorflow\//, /^@mmfuse\//, 'sharp', 'wavefile', '@xenova/transformers'],
  })),
);
