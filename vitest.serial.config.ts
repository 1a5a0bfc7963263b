import { defineConfig } from 'vitest/config';
import base from './vitest.config';

// Tests that disturb shared services (they stop the Kafka broker) run alone, after the others.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/test/**/*.serial.test.ts', 'examples/*/test/**/*.serial.test.ts'],
    exclude: ['**/node_modules/**'],
    fileParallelism: false,
    typecheck: { enabled: false },
  },
});
