import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readBatches, recordsIn, runCli, startCli } from './support/cli';
import { createTopic, ensureBroker, freshTopic, processArgs, produceTickets } from './support/kafka';
import { openInCheckpoint, rollupFiles, totalOf } from './support/outputs';
import { expectedTotals, generatedTickets } from './support/ticket-totals';
import { waitFor } from './support/wait';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-rollups-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('event-time rollups from a file', () => {
  it('writes every hour and day once, final, with late tickets counted, and the same bytes on every run', async () => {
    const lines = generatedTickets(3000, 7, 0.03);
    const input = join(dir, 'tickets.jsonl');
    await writeFile(input, `${lines.join('\n')}\n`);
    const { valid, invalid } = expectedTotals(lines);
    const args = (out: string) => [
      'process',
      '--input',
      input,
      '--max-records',
      '1000',
      '--rollups',
      'hour,day',
      '--allowed-lateness',
      '10m',
      '--out',
      out,
      '--quiet',
    ];
    const runs: Array<{ hourly: Map<string, string>; daily: Map<string, string> }> = [];
    for (const name of ['first', 'second']) {
      const out = join(dir, name);
      const result = await runCli(args(out));
      expect(result.code, result.stderr).toBe(0);
      const batches = await readBatches(out);
      expect(batches.map((b) => b.batch_id)).toEqual([0, 1, 2]);
      expect(batches.reduce((n, b) => n + (b.total_tickets as number), 0)).toBe(valid);
      expect(batches.reduce((n, b) => n + (b.invalid_tickets as number), 0)).toBe(invalid);
      const late = batches.reduce((n, b) => n + (b.late_tickets as number), 0);
      const watermarks = batches.map((b) => Date.parse(b.watermark as string));
      expect(watermarks).toEqual([...watermarks].sort((a, b) => a - b));
      // The first batch has nothing final before it: nothing is late yet.
      expect(batches[0]?.late_tickets).toBe(0);
      expect(late).toBeGreaterThan(0);
      const hourly = await rollupFiles(out, 'hourly');
      const daily = await rollupFiles(out, 'daily');
      // The input ended: every window is final, and every valid ticket is in one hour or late for it.
      expect(totalOf(hourly) + late).toBe(valid);
      expect(totalOf(daily)).toBeLessThanOrEqual(valid);
      expect(totalOf(daily)).toBeGreaterThanOrEqual(totalOf(hourly));
      for (const [path, text] of hourly) {
        const row = JSON.parse(text);
        const start = row.window_start as string;
        expect(path).toBe(`hourly/dt=${start.slice(0, 10)}/hour=${start.slice(11, 13)}/metrics.json`);
        expect(Date.parse(row.window_end) - Date.parse(start)).toBe(3_600_000);
        expect(Object.keys(row)).toEqual([
          'window_start',
          'window_end',
          'total_tickets',
          'by_type',
          'by_priority',
          'by_team',
          'sla_mean',
          'sla_median',
          'priority_score_mean',
          'sla_p90',
          'sla_p99',
          'sla_mean_by_team',
          'sla_tdigest',
          'final_batch_id',
        ]);
        expect(
          row.by_team.reduce(
            (n: number, r: { count_by_support_team: number }) => n + r.count_by_support_team,
            0,
          ),
        ).toBe(row.total_tickets);
      }
      for (const text of daily.values()) {
        const row = JSON.parse(text);
        const perHour = row.tickets_per_hour.reduce(
          (n: number, r: { tickets_per_hour: number }) => n + r.tickets_per_hour,
          0,
        );
        expect(perHour).toBe(row.total_tickets);
      }
      runs.push({ hourly, daily });
    }
    expect(runs[1]?.hourly).toEqual(runs[0]?.hourly);
    expect(runs[1]?.daily).toEqual(runs[0]?.daily);
  });
});

describe('rollups on an existing output', () => {
  it('refuses, with one line, to turn rollups on or off, or to add one, on an output that has batches', async () => {
    const input = join(dir, 'tickets.jsonl');
    await writeFile(input, `${generatedTickets(300, 8).join('\n')}\n`);
    const processOnce = (out: string, rollups: string[]) =>
      runCli(['process', '--input', input, '--max-records', '100', '--out', out, '--quiet', ...rollups]);
    const cases: Array<[string, string[], string[], RegExp]> = [
      ['on', [], ['--rollups', 'hour,day'], /has 3 committed batch\(es\) made without event-time windows/],
      ['off', ['--rollups', 'hour'], [], /keeps event-time windows \(hourly\): without them/],
      [
        'added',
        ['--rollups', 'hour'],
        ['--rollups', 'hour,day'],
        /saved: hourly \(1h\); now: hourly \(1h\), daily \(24h\)/,
      ],
    ];
    for (const [name, first, second, reason] of cases) {
      const out = join(dir, name);
      expect((await processOnce(out, first)).code).toBe(0);
      const again = await processOnce(out, second);
      expect(again.code, name).toBe(1);
      const errors = again.stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
      expect(errors, name).toEqual([expect.stringMatching(reason)]);
    }
  });
});

describe('event-time rollups on a real Kafka broker', () => {
  beforeAll(() => ensureBroker());
  afterAll(() => ensureBroker());

  it('keeps every hour exact and written once when the processor is killed with SIGKILL mid-run', async () => {
    const topic = freshTopic('rollups');
    await createTopic(topic, 3);
    await createTopic(`${topic}.dlq`, 1);
    const out = join(dir, 'metrics');
    const total = 30_000;
    await produceTickets(topic, total, 33, { badFraction: 0.02 });
    const { valid } = expectedTotals(generatedTickets(total, 33, 0.02));
    const args = processArgs(topic, out, [
      '--window',
      '200ms',
      '--max-records',
      '300',
      '--instance-id',
      `i-${topic}`,
      '--rollups',
      'hour,day',
    ]);
    // Files seen before each kill: a final file may be rewritten by a replay, only with the same bytes.
    const seen = new Map<string, string>();
    const remember = async () => {
      for (const name of ['hourly', 'daily'] as const) {
        for (const [path, text] of await rollupFiles(out, name)) {
          const before = seen.get(path);
          if (before !== undefined) expect(text, `${path} changed after it was written`).toBe(before);
          seen.set(path, text);
        }
      }
    };
    for (let round = 0; round < 4; round++) {
      const before = await recordsIn(out);
      const processor = startCli(args);
      await waitFor(async () => (await recordsIn(out)) > before + 600, 'new batches');
      processor.child.kill('SIGKILL');
      await processor.done;
      await remember();
    }
    expect(await recordsIn(out)).toBeLessThan(total);
    const processor = startCli(args);
    await waitFor(async () => (await recordsIn(out)) >= total, 'every record after the restarts');
    processor.child.kill('SIGTERM');
    expect((await processor.done).code).toBe(0);
    await remember();

    const batches = await readBatches(out);
    expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
    expect(batches.reduce((n, b) => n + (b.total_tickets as number), 0)).toBe(valid);
    const late = batches.reduce((n, b) => n + (b.late_tickets as number), 0);
    const hourly = await rollupFiles(out, 'hourly');
    // Stopped, not ended: the hours the watermark has not passed are saved with the last batch.
    const open = await openInCheckpoint(out);
    expect(hourly.size).toBeGreaterThan(0);
    expect(totalOf(hourly) + late + (open.hourly ?? 0)).toBe(valid);
    for (const text of hourly.values()) expect(() => JSON.parse(text)).not.toThrow();
    const leftovers = (await readdir(out, { recursive: true })).filter((n) => n.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  });
});
