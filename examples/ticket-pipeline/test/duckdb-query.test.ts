import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli';
import { expectedTotals, sumRows, type TicketTotals } from './support/ticket-totals';

// DuckDB stands in for Athena: it reads the Hive-partitioned JSON Lines output the way Athena's
// JSON SerDe with partition projection does, partitions included.

let dir: string;
let lines: string[];
let input: string;
let expected: TicketTotals;
let duck: DuckDBConnection;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-duckdb-'));
  const generated = await runCli(['generate', '--count', '3000', '--seed', '21', '--bad-fraction', '0.05']);
  expect(generated.code).toBe(0);
  lines = generated.stdout.trimEnd().split('\n');
  input = join(dir, 'tickets.jsonl');
  await writeFile(input, generated.stdout);
  expected = expectedTotals(lines);
  duck = await (await DuckDBInstance.create(':memory:')).connect();
});
afterAll(async () => {
  duck?.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** Every batch file under a Hive-partitioned folder, parsed (gunzipped when `.gz`). */
async function batchFiles(root: string): Promise<Array<{ path: string; batch: Record<string, unknown> }>> {
  const paths = (await readdir(root, { recursive: true }))
    .filter((p) => /(^|\/)batch_\d+\.json(\.gz)?$/.test(p))
    .sort();
  return Promise.all(
    paths.map(async (path) => {
      const bytes = await readFile(join(root, path));
      const text = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      return { path, batch: JSON.parse(text) as Record<string, unknown> };
    }),
  );
}

async function query(sql: string): Promise<Array<Record<string, unknown>>> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>;
}

describe.each([
  ['JSON Lines', [] as string[], 'json'],
  ['gzip-compressed JSON Lines', ['--gzip'], 'json.gz'],
])('DuckDB over the Hive layout (%s)', (_, flags, extension) => {
  let out: string;
  let files: Awaited<ReturnType<typeof batchFiles>>;
  let table: string;

  beforeAll(async () => {
    out = join(dir, `hive-${extension}`);
    const result = await runCli([
      'process',
      '--input',
      input,
      '--out',
      out,
      '--layout',
      'hive',
      '--max-records',
      '400',
      ...flags,
    ]);
    expect(result.code).toBe(0);
    files = await batchFiles(out);
    table = `read_json_auto('${out}/dt=*/hour=*/*.${extension}', format = 'newline_delimited', hive_partitioning = true)`;
  });

  it('writes every batch under dt=YYYY-MM-DD/hour=HH/ taken from its window start in UTC', () => {
    expect(files.map((f) => f.batch.batch_id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const { path, batch } of files) {
      const start = batch.window_start as string;
      expect(path).toBe(
        `dt=${start.slice(0, 10)}/hour=${start.slice(11, 13)}/batch_${String(batch.batch_id).padStart(5, '0')}.${extension}`,
      );
    }
  });

  it('gets the total and invalid tickets of the batch files and of the input', async () => {
    const [row] = await query(
      `SELECT count(*) AS files, sum(total_tickets) AS valid, sum(invalid_tickets) AS invalid FROM ${table}`,
    );
    expect(row).toEqual({ files: '8', valid: String(expected.valid), invalid: String(expected.invalid) });
    expect(files.reduce((s, f) => s + (f.batch.total_tickets as number), 0)).toBe(expected.valid);
    expect(expected.invalid).toBeGreaterThan(100);
  });

  it('gets the per request type and per team totals through UNNEST', async () => {
    const byType = await query(
      `SELECT t.request_type AS key, sum(t.count_by_request_type) AS n
       FROM (SELECT unnest(by_type) AS t FROM ${table}) GROUP BY 1 ORDER BY 1`,
    );
    const byTeam = await query(
      `SELECT t.support_team AS key, sum(t.count_by_support_team) AS n
       FROM (SELECT unnest(by_team) AS t FROM ${table}) GROUP BY 1 ORDER BY 1`,
    );
    const asRecord = (rows: Array<Record<string, unknown>>) =>
      Object.fromEntries(rows.map((r) => [r.key as string, Number(r.n)]));
    expect(asRecord(byType)).toEqual(expected.byType);
    expect(asRecord(byTeam)).toEqual(expected.byTeam);
    const batches = files.map((f) => f.batch);
    expect(asRecord(byType)).toEqual(sumRows(batches, 'by_type', 'request_type', 'count_by_request_type'));
  });

  it('reads dt as a date and hour as an integer partition that match each window start', async () => {
    const rows = await query(
      `SELECT typeof(dt) AS dt_type, typeof(hour) AS hour_type,
              count(*) FILTER (WHERE strftime(window_start::TIMESTAMP, '%Y-%m-%d') <> dt::VARCHAR
                                  OR hour(window_start::TIMESTAMP) <> hour) AS mismatches
       FROM ${table} GROUP BY ALL`,
    );
    expect(rows).toEqual([{ dt_type: 'DATE', hour_type: 'BIGINT', mismatches: '0' }]);
  });
});
