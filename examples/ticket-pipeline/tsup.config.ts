import { defineConfig, type Options } from 'tsup';

// The `ticket-pipeline` binary: ES modules with the workspace packages bundled from their sources (no
// package build needed first), so that it starts without a TypeScript loader. The packages it loads at
// every start are bundled too: Node would otherwise read hundreds of small files (rxjs alone, 223) and
// start 0.17 s later (docs/performance.md). The Kafka client, a native module, stays external.
const common: Options = {
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  noExternal: [/^@ticketflow\//, 'rxjs', 'zod', 'commander', 'cli-progress', 'prom-client', 'pino'],
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
    // Bundled CommonJS packages (commander, cli-progress) require Node's own modules: give them `require`.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __ticketflowRequire } from 'node:module';\nconst require = __ticketflowRequire(import.meta.url);",
    },
  },
  // The fold module each worker thread of `process --input --workers N` loads: a bundle of its own,
  // without code splitting, so that it holds only what folding needs and a thread starts fast.
  { ...common, entry: { 'ticket-fold': 'src/ticket-fold.ts' }, splitting: false },
]);
