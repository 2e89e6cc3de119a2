import { defineConfig } from 'vitest/config';

// Tests run against each package's `src/` through the `source` export condition: no build needed first.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['tests/**/*.test.ts'],
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
