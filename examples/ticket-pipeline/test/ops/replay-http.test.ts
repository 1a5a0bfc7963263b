import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRejection } from '@ticketflow/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateTickets } from '../../src/domain/generator';
import { parseTicket } from '../../src/domain/validate';
import { readBatches } from '../support/cli';
import { healthz, httpGet, listeningPort, scrape, spawnCli, waitFor } from './ops-support';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-ops-replay-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ticketLines(count: number, seed: number): string[] {
  const tickets = generateTickets({ seed, badFraction: 0.05 });
  return Array.from({ length: count }, () => tickets.next().value);
}

function invalidIn(lines: readonly string[]): number {
  return lines.filter((line, i) => isRejection(parseTicket(line, { lane: 'input', offset: i }))).length;
}

describe('processor HTTP endpoints during a replay', () => {
  it('serves /healthz and /metrics that match the batch files written so far, then closes on exit', async () => {
    const lines = ticketLines(6000, 21);
    const first = lines.slice(0, 3000);
    const out = join(dir, 'metrics');
    const started = Date.now() / 1000;
    // A window far longer than the test: only --max-records closes batches, so their contents are exact.
    const cli = spawnCli([
      'process',
      '--input',
      '-',
      '--out',
      out,
      '--max-records',
      '1000',
      '--window',
      '10m',
      '--http-port',
      '0',
    ]);
    try {
      const port = await listeningPort(cli);
      await cli.write(`${first.join('\n')}\n`);

      const metrics = await waitFor(async () => {
        const m = await scrape(port);
        return m.get('ticketflow_records_total') === 3000 ? m : undefined;
      }, 'three committed batches');
      expect(metrics.get('ticketflow_batches_total')).toBe(3);
      expect(metrics.get('ticketflow_invalid_records_total')).toBe(invalidIn(first));
      expect(metrics.get('ticketflow_batch_duration_seconds_count')).toBe(3);
      expect(metrics.get('ticketflow_batch_duration_seconds_bucket{le="+Inf"}')).toBe(3);
      expect(metrics.get('ticketflow_last_batch_id')).toBe(2);
      expect(metrics.get('ticketflow_last_batch_timestamp_seconds')).toBeGreaterThanOrEqual(
        Math.floor(started),
      );
      expect(metrics.get('ticketflow_last_batch_timestamp_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
      expect(metrics.get('ticketflow_sink_write_failures_total')).toBe(0);
      expect(metrics.get('ticketflow_healthy')).toBe(1);
      expect(metrics.has('process_resident_memory_bytes')).toBe(true);
      expect([...metrics.keys()].some((k) => k.startsWith('ticketflow_consumer_lag'))).toBe(false);

      // The scrape above saw batches 0-2 committed: their files hold exactly the counted records.
      const written = (await readBatches(out)).filter((b) => (b.batch_id as number) <= 2);
      expect(written.map((b) => b.batch_id)).toEqual([0, 1, 2]);
      expect(
        written.reduce((s, b) => s + (b.total_tickets as number) + (b.invalid_tickets as number), 0),
      ).toBe(3000);
      expect(written.reduce((s, b) => s + (b.invalid_tickets as number), 0)).toBe(invalidIn(first));

      const health = await healthz(port);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({
        status: 'ok',
        healthy: true,
        reasons: [],
        source: { name: 'stdin', connected: null },
        sink: { failing: false },
        lastBatch: { id: 2 },
      });
      const text = await httpGet(port, '/metrics');
      expect(text.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(text.body).toMatch(/^# TYPE ticketflow_batch_duration_seconds histogram$/m);
      expect(text.body).toMatch(/^# TYPE ticketflow_records_total counter$/m);
      const missing = await httpGet(port, '/nope');
      expect(missing.status).toBe(404);
      expect((await httpGet(port, '/healthz', 'POST')).status).toBe(405);

      await cli.write(`${lines.slice(3000).join('\n')}\n`);
      cli.endInput();
      const result = await cli.done;
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`http listening on :${port}`);
      const batches = await readBatches(out);
      expect(batches.map((b) => b.batch_id)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(
        batches.reduce((s, b) => s + (b.total_tickets as number) + (b.invalid_tickets as number), 0),
      ).toBe(6000);
      // The server closed with the pipeline.
      await expect(httpGet(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });
});
