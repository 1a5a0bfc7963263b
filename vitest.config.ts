import { defineConfig } from 'vitest/config';

// One configuration runs every package's tests. The `ticketflow-source` condition makes
// workspace packages resolve to their TypeScript sources, so tests need no build first.
export default defineConfig({
  resolve: { conditions: ['ticketflow-source', 'import', 'node', 'default'] },
  ssr: { resolve: { conditions: ['ticketflow-source', 'import', 'node', 'default'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.serial.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    typecheck: { enabled: true, include: ['packages/*/test/**/*.test-d.ts'] },
  },
});
