import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: false, // declarations and their maps come from tsc: scripts/build-declarations.mjs
  sourcemap: true,
  clean: true,
  target: 'node20',
});
