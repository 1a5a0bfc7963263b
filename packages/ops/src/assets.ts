import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A static file the operations server answers with. @internal */
export interface StaticAsset {
  /** Its absolute path. */
  readonly file: string;
  /** Its `content-type`. */
  readonly contentType: string;
}

/**
 * This package's folder, found from wherever its code runs: its `src` (the `ticketflow-source`
 * condition), its `dist` (installed), or an application bundle that includes it (then resolved as
 * the application's dependency).
 */
function packageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('@ticketflow/ops/package.json'));
  } catch {
    return dirname(dirname(fileURLToPath(import.meta.url)));
  }
}

/**
 * The dashboard's files by URL path: the page from this package's `dashboard/` folder, uPlot from the
 * installed `uplot` package (nothing is fetched from the internet). @internal
 */
export function dashboardAssets(): ReadonlyMap<string, StaticAsset> {
  const dir = packageDir();
  const dashboard = join(dir, 'dashboard');
  const uplot = (file: string) => createRequire(join(dir, 'package.json')).resolve(`uplot/dist/${file}`);
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map<string, StaticAsset>([
    ['/', { file: join(dashboard, 'index.html'), contentType: 'text/html; charset=utf-8' }],
    ['/index.html', { file: join(dashboard, 'index.html'), contentType: 'text/html; charset=utf-8' }],
    ['/dashboard.js', { file: join(dashboard, 'dashboard.js'), contentType: js }],
    ['/dashboard.css', { file: join(dashboard, 'dashboard.css'), contentType: css }],
    ['/vendor/uPlot.iife.min.js', { file: uplot('uPlot.iife.min.js'), contentType: js }],
    ['/vendor/uPlot.min.css', { file: uplot('uPlot.min.css'), contentType: css }],
  ]);
}

/** The file's bytes, or `undefined` when it does not exist. @internal */
export async function readAsset(asset: StaticAsset): Promise<Buffer | undefined> {
  try {
    return await readFile(asset.file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
