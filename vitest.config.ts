import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: PGlite's first start and child processes are slow on a loaded 2-core machine. These are
    // hang guards, not performance assertions.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Integration suites start servers and databases: two files at a time suits a 2-core machine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
