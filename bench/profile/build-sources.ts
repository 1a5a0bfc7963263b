/**
 * Rebuilds, in a folder of its own, the TypeScript sources a build of the launcher's binary was made
 * from, so that steps.ts can time the very code a profile of that build ran, after the sources have
 * moved on (to compare before and after an optimisation, for instance).
 *
 *   node --import tsx bench/profile/build-sources.ts --dist examples/ticket-pipeline/dist --out /tmp/base
 *   node --conditions=ticketflow-source --import tsx /tmp/base/bench/profile/steps.ts --file FILE
 *
 * Every source a `.js.map` of the build holds (tsup writes them with `sourcesContent`) is written as it
 * was. The other files of packages/core/src and examples/ticket-pipeline/src (type-only modules, code
 * the bundle left out, `index.ts`) are copied from the work tree when they are older than the build,
 * so unchanged since; a newer `packages/core/src/index.ts` is replaced by `export * from` each module
 * it names that the build had. The workspace packages resolve to the rebuilt ones (node_modules links), the
 * third-party ones to the work tree's. bench/profile/ is copied too. Other newer files are left out
 * and listed.
 */
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TREES = ['packages/core/src', 'examples/ticket-pipeline/src'] as const;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      dist: { type: 'string', default: join(ROOT, 'examples/ticket-pipeline/dist') },
      out: { type: 'string' },
    },
  });
  if (values.out === undefined) throw new Error('--out DIR is required');
  const dist = resolve(values.dist as string);
  const out = resolve(values.out);
  const builtAt = statSync(join(dist, 'cli.js')).mtimeMs;
  rmSync(out, { recursive: true, force: true });

  // The sources of the build, from its source maps.
  const fromMaps = new Set<string>();
  for (const name of readdirSync(dist).filter((n) => n.endsWith('.js.map'))) {
    const map = JSON.parse(readFileSync(join(dist, name), 'utf8')) as {
      sources: string[];
      sourcesContent?: (string | null)[];
    };
    map.sources.forEach((source, i) => {
      // Relative to where tsup wrote the map, whatever folder the build lies in now.
      const path = relative(ROOT, resolve(ROOT, 'examples/ticket-pipeline/dist', source));
      const text = map.sourcesContent?.[i];
      if (path.startsWith('..') || path.includes('node_modules') || typeof text !== 'string') return;
      write(join(out, path), text);
      fromMaps.add(path);
    });
  }

  // The rest of the two trees: unchanged files as they are, newer ones left out (index.ts trimmed).
  const leftOut: string[] = [];
  for (const tree of TREES) {
    for (const file of filesUnder(join(ROOT, tree))) {
      const path = relative(ROOT, file);
      if (fromMaps.has(path)) continue;
      if (statSync(file).mtimeMs <= builtAt) {
        mkdirSync(dirname(join(out, path)), { recursive: true });
        copyFileSync(file, join(out, path));
      } else if (path !== 'packages/core/src/index.ts') leftOut.push(path);
    }
  }
  const index = 'packages/core/src/index.ts';
  if (!existsSync(join(out, index))) {
    // A newer index may name exports the build's modules lack: re-export each module it names that the
    // build had, whole (`export *`).
    const modules = new Set<string>();
    for (const [, from] of readFileSync(join(ROOT, index), 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      if (existsSync(join(out, 'packages/core/src', `${from}.ts`))) modules.add(from as string);
      else leftOut.push(`${index}: the re-exports of ${from}`);
    }
    write(join(out, index), [...modules].map((m) => `export * from '${m}';\n`).join(''));
  }

  // Package manifests and module resolution: workspace packages to the rebuilt ones.
  write(join(out, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`);
  copyFileSync(join(ROOT, 'packages/core/package.json'), join(out, 'packages/core/package.json'));
  copyFileSync(
    join(ROOT, 'examples/ticket-pipeline/package.json'),
    join(out, 'examples/ticket-pipeline/package.json'),
  );
  link(join(ROOT, 'packages/core/node_modules'), join(out, 'packages/core/node_modules'));
  const exampleModules = join(ROOT, 'examples/ticket-pipeline/node_modules');
  for (const entry of readdirSync(exampleModules)) {
    if (entry === '@ticketflow') continue;
    link(join(exampleModules, entry), join(out, 'examples/ticket-pipeline/node_modules', entry));
  }
  link(join(out, 'packages/core'), join(out, 'examples/ticket-pipeline/node_modules/@ticketflow/core'));
  link(join(out, 'packages/core'), join(out, 'node_modules/@ticketflow/core'));
  cpSync(join(ROOT, 'bench/profile'), join(out, 'bench/profile'), { recursive: true });

  console.log(
    `${fromMaps.size} sources from the source maps of ${dist} (built ${new Date(builtAt).toISOString()}) → ${out}`,
  );
  if (leftOut.length > 0) console.log(`left out (newer than the build):\n  ${leftOut.join('\n  ')}`);
}

main();
