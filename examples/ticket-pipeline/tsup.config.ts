import { defineConfig, type Options } from 'tsup';

// The `ticket-pipeline` binary: one ES module with the workspace packages bundled from their sources
// (no package build needed first), so that it starts without a TypeScript loader. Third-party packages
// stay external, the Kafka client's native module among them.
const common: Options = {
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  noExternal: [/^@ticketflow\//],
  external: ['@confluentinc/kafka-javascript'],
  esbuildOptions(options) {
    options.conditions = ['ticketflow-source'];
  },
};

export default defineConfig([
  // The two builds run at once: this one cleans dist/ but for the fold module's files.
  {
    ...common,
    entry: { cli: 'src/cli.ts' },
    clean: ['!ticket-fold.js', '!ticket-fold.js.map'],
    banner: { js: '#!/usr/bin/env node' },
  },
  // The fold module each worker thread of `process --input --workers N` loads: a bundle of its own,
  // without code splitting, so that it holds only what folding needs and a thread starts fast.
  { ...common, entry: { 'ticket-fold': 'src/ticket-fold.ts' }, splitting: false },
]);
