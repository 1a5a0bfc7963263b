import { defineConfig } from 'tsup';

// The `ticket-pipeline` binary: one ES module with the workspace packages bundled from their sources
// (no package build needed first), so that it starts without a TypeScript loader. Third-party packages
// stay external, the Kafka client's native module among them.
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  noExternal: [/^@ticketflow\//],
  external: ['@confluentinc/kafka-javascript'],
  esbuildOptions(options) {
    options.conditions = ['ticketflow-source'];
  },
  banner: { js: '#!/usr/bin/env node' },
});
