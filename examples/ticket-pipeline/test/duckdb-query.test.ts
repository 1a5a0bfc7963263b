import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { isRejection } from '@ticketflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrichTicket } from '../src/domain/enrich';
import type { EnrichedTicket } from '../src/domain/ticket';
import { parseTicket } from '../src/domain/validate';
import { ROOT, readBatches, runCli } from './support/cli';
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
    // The partition types are given, as the Athena table declares them: DuckDB's own guess reads an hour
    // written with a leading zero (every file in hour=00..09) as text.
    table = `read_json_auto('${out}/dt=*/hour=*/*.${extension}', format = 'newline_delimited', hive_partitioning = true, hive_types = {'dt': DATE, 'hour': BIGINT})`;
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

// ---------------------------------------------------------------------------------------------------
// Event-time rollups: the hourly and daily tables of docs/athena.md, read with the columns and types of
// its CREATE EXTERNAL TABLE statements, against totals computed here from the input and the definitions
// of "Event-time rollups" in the design: after batch k the watermark W(k) (recorded in the batch file) is
// the newest created_at read so far minus the allowed lateness, or less when the far-future guard holds
// it back; a valid ticket of batch k is late for its hour (day) when that hour (day) ended at or before
// W(k-1); an hour (day) is final in the first batch whose watermark reaches its end, or in the last
// batch, when the input ends.

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const LATENESS_MS = 10 * 60_000;
const MAX_RECORDS = 1000;

/** The end of the UTC hour (day) holding an instant. */
const endOf = (ms: number, span: number) => Math.floor(ms / span) * span + span;

/** A Hive type of a DDL column as a DuckDB type: `array<struct<a:string>>` is `STRUCT("a" VARCHAR)[]`. */
function duckType(hive: string): string {
  const type = hive.trim();
  const scalar: Record<string, string> = {
    string: 'VARCHAR',
    bigint: 'BIGINT',
    int: 'INTEGER',
    double: 'DOUBLE',
    boolean: 'BOOLEAN',
  };
  if (scalar[type]) return scalar[type];
  const array = /^array<(.*)>$/.exec(type);
  if (array) return `${duckType(array[1] as string)}[]`;
  const struct = /^struct<(.*)>$/.exec(type);
  if (!struct) throw new Error(`unknown type in the DDL: ${type}`);
  const fields: string[] = [];
  let depth = 0;
  let start = 0;
  const body = struct[1] as string;
  for (let i = 0; i <= body.length; i++) {
    const c = body[i];
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if ((c === ',' && depth === 0) || i === body.length) {
      const field = body.slice(start, i);
      const colon = field.indexOf(':');
      fields.push(`"${field.slice(0, colon).trim()}" ${duckType(field.slice(colon + 1))}`);
      start = i + 1;
    }
  }
  return `STRUCT(${fields.join(', ')})`;
}

/** The columns (name to Hive type) and partition columns of a table of docs/athena.md. */
async function ddl(
  table: string,
): Promise<{ columns: Map<string, string>; partitions: Map<string, string> }> {
  const doc = await readFile(join(ROOT, 'docs/athena.md'), 'utf8');
  const match = new RegExp(
    `CREATE EXTERNAL TABLE ${table} \\(\\n([\\s\\S]*?)\\n\\)\\nPARTITIONED BY \\(([^)]*)\\)`,
  ).exec(doc);
  if (!match) throw new Error(`docs/athena.md has no CREATE EXTERNAL TABLE ${table}`);
  const pairs = (text: string, separator: RegExp) =>
    new Map(
      text
        .split(separator)
        .map((line) => /^\s*`?(\w+)`?\s+(.+?),?\s*$/.exec(line))
        .filter((m) => m !== null)
        .map((m) => [m[1] as string, m[2] as string]),
    );
  return { columns: pairs(match[1] as string, /\n/), partitions: pairs(match[2] as string, /,/) };
}

/** `read_json` of files with the DDL's columns and partition types, as Athena's JSON SerDe reads them. */
async function tableOf(glob: string, table: string, partitioned = true): Promise<string> {
  const { columns, partitions } = await ddl(table);
  const struct = (entries: Map<string, string>) =>
    `{${[...entries].map(([name, type]) => `'${name}': '${duckType(type).replaceAll("'", "''")}'`).join(', ')}}`;
  const hive = partitioned ? `, hive_partitioning = true, hive_types = ${struct(partitions)}` : '';
  return `read_json('${glob}', format = 'newline_delimited', columns = ${struct(columns)}${hive})`;
}

/** One base64 `sla_tdigest`, decoded as the design's "Mergeable sketches" lays it out. */
function tdigest(base64: string) {
  const bytes = Buffer.from(base64, 'base64');
  const n = bytes.readInt32LE(33);
  const means = Array.from({ length: n }, (_, i) => bytes.readDoubleLE(37 + 8 * i));
  const weights = Array.from({ length: n }, (_, i) => bytes.readDoubleLE(37 + 8 * n + 8 * i));
  return {
    format: bytes[0],
    length: bytes.length,
    expectedLength: 1 + 4 * 8 + 4 + 16 * n,
    min: bytes.readDoubleLE(1),
    max: bytes.readDoubleLE(9),
    totalWeight: bytes.readDoubleLE(25),
    weightSum: weights.reduce((s, w) => s + w, 0),
    means,
  };
}

/** Adds one to a counter. */
const bump = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

describe('DuckDB over the hourly and daily rollups (--rollups hour,day)', () => {
  let out: string;
  let lines: string[];
  let tickets: Array<{ batch: number; ticket: EnrichedTicket }>;
  let batches: Array<Record<string, unknown>>;
  /** The newest created_at of the input up to each batch, minus the allowed lateness. */
  let newestLessLateness: number[];
  /** The watermark recorded in each batch file, in ms. */
  let watermarks: number[];
  let hourly: string;
  let daily: string;
  let batchTable: string;
  let hourLate: Array<{ batch: number; ticket: EnrichedTicket }>;
  let dayLate: Array<{ batch: number; ticket: EnrichedTicket }>;

  beforeAll(async () => {
    // Not a multiple of --max-records: the last batch is the one the end of the input closes.
    const generated = await runCli(['generate', '--count', '3500', '--seed', '34', '--bad-fraction', '0.05']);
    expect(generated.code).toBe(0);
    lines = generated.stdout.trimEnd().split('\n');
    const file = join(dir, 'rollup-tickets.jsonl');
    await writeFile(file, generated.stdout);
    out = join(dir, 'rollups');
    const result = await runCli([
      'process',
      '--input',
      file,
      '--max-records',
      String(MAX_RECORDS),
      '--rollups',
      'hour,day',
      '--allowed-lateness',
      '10m',
      '--out',
      out,
    ]);
    expect(result.stderr).not.toMatch(/^ticket-pipeline:/m);
    expect(result.code).toBe(0);
    batches = await readBatches(out);

    tickets = [];
    for (const [i, line] of lines.entries()) {
      const parsed = parseTicket(line, { lane: 'input', offset: i });
      if (!isRejection(parsed))
        tickets.push({ batch: Math.floor(i / MAX_RECORDS), ticket: enrichTicket(parsed) });
    }
    newestLessLateness = [];
    let newest = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < Math.ceil(lines.length / MAX_RECORDS); k++) {
      for (const t of tickets) if (t.batch === k) newest = Math.max(newest, t.ticket.created_at_ms);
      newestLessLateness.push(newest - LATENESS_MS);
    }
    watermarks = batches.map((b) => Date.parse(b.watermark as string));
    const lateFor = (span: number) =>
      tickets.filter(({ batch, ticket }) => {
        const previous = watermarks[batch - 1];
        return previous !== undefined && endOf(ticket.created_at_ms, span) <= previous;
      });
    hourLate = lateFor(HOUR_MS);
    dayLate = lateFor(DAY_MS);

    hourly = await tableOf(`${out}/hourly/dt=*/hour=*/metrics.json`, 'ticket_metrics_hourly');
    daily = await tableOf(`${out}/daily/dt=*/metrics.json`, 'ticket_metrics_daily');
    batchTable = await tableOf(`${out}/batch_*.json`, 'ticket_metrics', false);
  });

  it('cuts the input into batches of 1000 records, with late tickets of every kind to count', () => {
    expect(batches.map((b) => b.batch_id)).toEqual([0, 1, 2, 3]);
    expect(batches.map((b) => (b.total_tickets as number) + (b.invalid_tickets as number))).toEqual([
      1000, 1000, 1000, 500,
    ]);
    // The generated tickets are spread over the 48 hours before `generate` ran, in random order: after
    // the first batch most hours and at least one day are final, so the later batches hold many late
    // tickets. (How many are late for their hour only depends on the time of day: few when the tests
    // run in the first hours after midnight UTC.)
    expect(new Set(tickets.map((t) => t.ticket.event_date)).size).toBeGreaterThanOrEqual(2);
    expect(hourLate.length).toBeGreaterThan(1000);
    expect(dayLate.length).toBeGreaterThan(500);
    expect(tickets.length - hourLate.length).toBeGreaterThan(900);
  });

  it('records the watermark after every batch: at most the newest created_at so far minus 10 minutes', () => {
    // A far-future guard may hold the watermark back, never ahead; on this input (thousands of tickets
    // over 48 hours, none in the future) by far less than an hour. It never moves back.
    const last = batches.length - 1;
    for (const [k, w] of watermarks.entries()) {
      expect(w, `batch ${k}`).toBeLessThanOrEqual(newestLessLateness[k] as number);
      if (k < last) expect(w, `batch ${k}`).toBeGreaterThan((newestLessLateness[k] as number) - HOUR_MS);
      if (k > 0) expect(w, `batch ${k}`).toBeGreaterThanOrEqual(watermarks[k - 1] as number);
    }
  });

  it('counts in each batch the valid tickets whose hour was final after the previous batch', () => {
    const late = batches.map((_, k) => hourLate.filter((t) => t.batch === k).length);
    expect(batches.map((b) => b.late_tickets)).toEqual(late);
    expect(late[0]).toBe(0);
  });

  it('adds up: the hourly totals plus the late tickets are every valid ticket', async () => {
    const [row] = await query(
      `SELECT (SELECT sum(total_tickets) FROM ${hourly}) AS on_time,
              (SELECT sum(late_tickets) FROM ${batchTable}) AS late,
              (SELECT sum(total_tickets) FROM ${batchTable}) AS valid`,
    );
    expect(row).toEqual({
      on_time: String(tickets.length - hourLate.length),
      late: String(hourLate.length),
      valid: String(tickets.length),
    });
    expect(Number(row?.on_time) + Number(row?.late)).toBe(tickets.length);
  });

  it('writes one hourly file per hour with an on-time ticket, with its tickets, in the batch that closed it', async () => {
    const onTime = new Map<string, number>();
    for (const t of tickets) if (!hourLate.includes(t)) bump(onTime, t.ticket.created_at.slice(0, 13));
    const rows = await query(
      `SELECT strftime(dt::DATE, '%Y-%m-%d') || 'T' || lpad(hour::VARCHAR, 2, '0') AS hour, total_tickets,
              final_batch_id, window_start, window_end
       FROM ${hourly} ORDER BY 1`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.hour, Number(r.total_tickets)]))).toEqual(
      Object.fromEntries([...onTime].sort()),
    );
    const lastBatch = batches.length - 1;
    for (const r of rows) {
      const start = Date.parse(`${r.hour}:00:00Z`);
      expect(Date.parse(r.window_start as string)).toBe(start);
      expect(Date.parse(r.window_end as string)).toBe(start + HOUR_MS);
      const closing = watermarks.findIndex((w, k) => k < lastBatch && w >= start + HOUR_MS);
      expect(Number(r.final_batch_id), r.hour as string).toBe(closing === -1 ? lastBatch : closing);
    }
  });

  it('counts in each day the tickets on time for their day: its hourly totals plus the tickets late only for their hour', async () => {
    const expectedDaily = new Map<string, number>();
    const lateForHourOnly = new Map<string, number>();
    for (const t of tickets) {
      if (!dayLate.includes(t)) bump(expectedDaily, t.ticket.event_date);
      if (hourLate.includes(t) && !dayLate.includes(t)) bump(lateForHourOnly, t.ticket.event_date);
    }
    const rows = await query(
      `SELECT d.dt, d.total_tickets AS daily,
              coalesce((SELECT sum(h.total_tickets) FROM ${hourly} h WHERE h.dt = d.dt), 0) AS hourly
       FROM ${daily} d ORDER BY d.dt`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.dt, Number(r.daily)]))).toEqual(
      Object.fromEntries([...expectedDaily].sort()),
    );
    for (const r of rows) {
      expect(Number(r.daily) - Number(r.hourly), r.dt as string).toBe(
        lateForHourOnly.get(r.dt as string) ?? 0,
      );
    }
    const [sums] = await query(`SELECT sum(total_tickets) AS n FROM ${daily}`);
    expect(Number(sums?.n)).toBe(tickets.length - dayLate.length);
  });

  it("lists each day's tickets per hour of creation in tickets_per_hour", async () => {
    const expected = new Map<string, number>();
    for (const t of tickets) {
      if (!dayLate.includes(t)) bump(expected, `${t.ticket.event_date} ${t.ticket.event_hour}`);
    }
    const rows = await query(
      `SELECT dt || ' ' || p.hour AS key, p.tickets_per_hour AS n
       FROM (SELECT dt, unnest(tickets_per_hour) AS p FROM ${daily}) ORDER BY dt, p.hour`,
    );
    expect(new Map(rows.map((r) => [r.key as string, Number(r.n)]))).toEqual(expected);
  });

  it('reads the lists as arrays of structs: per team, per type and the SLA sums of the on-time tickets', async () => {
    const byTeam = new Map<string, number>();
    const byType = new Map<string, number>();
    let slaSum = 0;
    for (const t of tickets) {
      if (hourLate.includes(t)) continue;
      bump(byTeam, t.ticket.support_team);
      slaSum += t.ticket.sla_hours;
    }
    for (const t of tickets) if (!dayLate.includes(t)) bump(byType, t.ticket.request_type);
    const teams = await query(
      `SELECT t.support_team AS key, sum(t.count_by_support_team) AS n
       FROM (SELECT unnest(by_team) AS t FROM ${hourly}) GROUP BY 1 ORDER BY 1`,
    );
    const types = await query(
      `SELECT t.request_type AS key, sum(t.count_by_request_type) AS n
       FROM (SELECT unnest(by_type) AS t FROM ${daily}) GROUP BY 1 ORDER BY 1`,
    );
    expect(new Map(teams.map((r) => [r.key as string, Number(r.n)]))).toEqual(new Map([...byTeam].sort()));
    expect(new Map(types.map((r) => [r.key as string, Number(r.n)]))).toEqual(new Map([...byType].sort()));
    const [sla] = await query(`SELECT sum(sla_mean * total_tickets) AS s FROM ${hourly}`);
    expect(Number(sla?.s)).toBeCloseTo(slaSum, 6);
  });

  it("reads every field with the DDL's columns and types, and the DDL has a column for every field", async () => {
    const files = async (sub: string) =>
      Promise.all(
        (await readdir(join(out, sub), { recursive: true }))
          .filter((p) => p.endsWith('metrics.json'))
          .map(async (p) => JSON.parse(await readFile(join(out, sub, p), 'utf8')) as Record<string, unknown>),
      );
    for (const [objects, table] of [
      [await files('hourly'), 'ticket_metrics_hourly'],
      [await files('daily'), 'ticket_metrics_daily'],
      [batches, 'ticket_metrics'],
    ] as const) {
      const { columns } = await ddl(table);
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) expect(Object.keys(o).sort(), table).toEqual([...columns.keys()].sort());
    }
    const [types] = await query(
      `SELECT typeof(by_team) AS by_team, typeof(sla_mean_by_team) AS sla_mean_by_team,
              typeof(total_tickets) AS total_tickets, typeof(sla_tdigest) AS sla_tdigest,
              typeof(dt) AS dt, typeof(hour) AS hour,
              count(*) FILTER (WHERE strftime(window_start::TIMESTAMP, '%Y-%m-%d') <> dt
                                  OR hour(window_start::TIMESTAMP) <> hour) AS mismatches,
              count(*) FILTER (WHERE sla_median IS NULL OR final_batch_id IS NULL OR len(by_team) = 0
                                  OR total_tickets < 1) AS incomplete,
              count(*) FILTER (WHERE sla_tdigest IS NULL) AS without_tdigest
       FROM ${hourly} GROUP BY ALL`,
    );
    expect(types).toEqual({
      by_team: 'STRUCT(support_team VARCHAR, count_by_support_team BIGINT)[]',
      sla_mean_by_team: 'STRUCT(support_team VARCHAR, sla_mean DOUBLE)[]',
      total_tickets: 'BIGINT',
      sla_tdigest: 'VARCHAR',
      dt: 'VARCHAR',
      hour: 'INTEGER',
      mismatches: '0',
      incomplete: '0',
      without_tdigest: '0',
    });
    const dayRows = await query(
      `SELECT typeof(tickets_per_hour) AS tph,
              count(*) FILTER (WHERE strftime(window_start::TIMESTAMP, '%Y-%m-%d') <> dt
                                  OR window_end::TIMESTAMP - window_start::TIMESTAMP <> INTERVAL 1 DAY) AS mismatches
       FROM ${daily} GROUP BY ALL`,
    );
    expect(dayRows).toEqual([{ tph: 'STRUCT("hour" INTEGER, tickets_per_hour BIGINT)[]', mismatches: '0' }]);
    const [batchRow] = await query(
      `SELECT typeof(late_tickets) AS late, typeof(watermark) AS watermark, typeof(sla_tdigest) AS tdigest,
              count(*) FILTER (WHERE sla_tdigest IS NULL OR watermark IS NULL) AS missing
       FROM ${batchTable} GROUP BY ALL`,
    );
    expect(batchRow).toEqual({ late: 'BIGINT', watermark: 'VARCHAR', tdigest: 'VARCHAR', missing: '0' });
  });

  it('carries in each rollup file its SLA t-digest, weighing as many tickets as the file counts', async () => {
    const rows = await query(
      `SELECT total_tickets, sla_tdigest FROM ${hourly} UNION ALL SELECT total_tickets, sla_tdigest FROM ${daily}`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(typeof row.sla_tdigest, 'sla_tdigest').toBe('string');
      const digest = tdigest(row.sla_tdigest as string);
      expect(digest.format).toBe(0);
      expect(digest.length).toBe(digest.expectedLength);
      expect(digest.totalWeight).toBe(Number(row.total_tickets));
      expect(digest.weightSum).toBeCloseTo(digest.totalWeight, 9);
      expect([1, 4, 24, 72]).toContain(digest.min);
      expect([1, 4, 24, 72]).toContain(digest.max);
      expect(digest.means).toEqual([...digest.means].sort((a, b) => a - b));
    }
  });
});
