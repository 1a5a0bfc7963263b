import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectedTotals, sumRows } from './ticket-totals';

/** Every rollup file under `<out>/<name>/`, by path relative to `out`, as its text. */
export async function rollupFiles(out: string, name: 'hourly' | 'daily'): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const paths = await readdir(join(out, name), { recursive: true }).catch(() => [] as string[]);
  for (const path of paths.filter((p) => p.endsWith('metrics.json')).sort()) {
    files.set(`${name}/${path}`, await readFile(join(out, name, path), 'utf8'));
  }
  return files;
}

/** The sum of `total_tickets` over rollup files. */
export const totalOf = (files: Map<string, string>): number =>
  [...files.values()].reduce((n, text) => n + (JSON.parse(text).total_tickets as number), 0);

/** The plan of the last batch recorded in `<out>/_checkpoint/`. */
export async function lastPlan(out: string): Promise<Record<string, unknown>> {
  const folder = join(out, '_checkpoint', 'offsets');
  const ids = (await readdir(folder))
    .filter((n) => /^\d+\.json$/.test(n))
    .map((n) => Number(n.replace('.json', '')))
    .sort((a, b) => a - b);
  return JSON.parse(await readFile(join(folder, `${ids.at(-1)}.json`), 'utf8'));
}

/** Records in the open windows the last batch saved, per window name. */
export async function openInCheckpoint(out: string): Promise<Record<string, number>> {
  const plan = (await lastPlan(out)) as {
    eventTime: { windows: Record<string, { open: Array<[number, number, unknown]> }> };
  };
  const open: Record<string, number> = {};
  for (const [name, { open: windows }] of Object.entries(plan.eventTime.windows)) {
    open[name] = windows.reduce((n, [, records]) => n + records, 0);
  }
  return open;
}

/** Totals and breakdowns of batch files, to compare with {@link expectedBreakdown}. */
export function batchTotals(batches: Array<Record<string, unknown>>) {
  const sum = (field: string, key: string, value: string) => sumRows(batches, field, key, value);
  return {
    valid: batches.reduce((s, b) => s + (b.total_tickets as number), 0),
    invalid: batches.reduce((s, b) => s + (b.invalid_tickets as number), 0),
    byType: sum('by_type', 'request_type', 'count_by_request_type'),
    byPriority: sum('by_priority', 'priority', 'count_by_priority'),
    byTeam: sum('by_team', 'support_team', 'count_by_support_team'),
  };
}

/** The engine-free count of `lines` (hours left out: they depend on when the tickets were generated). */
export function expectedBreakdown(lines: readonly string[]) {
  const { valid, invalid, byType, byPriority, byTeam } = expectedTotals(lines);
  return { valid, invalid, byType, byPriority, byTeam };
}
