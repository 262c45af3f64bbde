import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // CLI tests start real processes (Comunica alone loads in ~0.7 s).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run two files at once, no more, so process-spawning tests are not starved.
    maxWorkers: 2,
  },
});
