import { defineConfig, type Options } from 'tsup';

/**
 * The build of every published package: ESM for Node.js 20 with source maps; declarations and their
 * maps come from tsc (scripts/build-declarations.mjs).
 */
export function packageConfig(entry: Options['entry']) {
  return defineConfig({ entry, format: ['esm'], dts: false, sourcemap: true, clean: true, target: 'node20' });
}
