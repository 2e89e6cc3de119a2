import { configDefaults, defineConfig } from 'vitest/config';
import { filesToLeaveOut } from './tests/system.js';

// Test files that need a system program this machine lacks (ffmpeg, redis-server, espeak-ng, chromium, ...)
// are left out, each named with the package to install; CI installs them all and requires them
// (MMFUSE_TEST_SYSTEM=require in .ci/run), so there nothing is left out. See tests/system.ts.
const leftOut = filesToLeaveOut();
for (const { file, missing } of leftOut) {
  console.log(`mmfuse tests: leaving out ${file}: needs ${missing.map((p) => `${p.what} (apt-get install ${p.debian})`).join(', ')}`);
}

// Tests run against each package's `src/` through the `source` export condition: no build needed first.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...leftOut.map((l) => l.file)],
    setupFiles: ['tests/setup.ts'],
    // A temporary folder of the run's own (TMPDIR), removed at the end.
    globalSetup: ['tests/global-setup.ts'],
    pool: 'forks',
    // Hang detection only (no test may depend on speed): long enough for a fully loaded machine.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    // The second names any test file whose worker died before it finished (see the file).
    reporters: ['default', './tests/unfinished-reporter.ts'],
  },
});
