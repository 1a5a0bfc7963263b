import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readBatches } from '../support/cli';
import { createTopic, ensureBroker, freshTopic, processArgs, produceTickets } from '../support/kafka';
import { expectedTotals, generatedTickets } from '../support/ticket-totals';
import { healthz, listeningPort, scrape, spawnCli, waitFor } from './ops-support';

let dir: string;
beforeAll(() => ensureBroker());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-ops-kafka-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A local TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('processor HTTP endpoints during a Kafka run', () => {
  it('counts every produced ticket in /metrics, reports lag per partition down to 0, and is healthy', async () => {
    const topic = freshTopic('ops-http');
    await createTopic(topic, 3);
    // The dead-letter topic must exist: the processor never creates it.
    await createTopic(`${topic}.dlq`, 1);
    const count = 3000;
    await produceTickets(topic, count, 77, { badFraction: 0.02 });
    const { invalid } = expectedTotals(generatedTickets(count, 77, 0.02));

    const out = join(dir, 'metrics');
    const cli = spawnCli(
      processArgs(topic, out, ['--window', '1s', '--http-port', '0', '--http-host', '127.0.0.1']),
    );
    try {
      const port = await listeningPort(cli);
      const metrics = await waitFor(async () => {
        const m = await scrape(port);
        const lags = [0, 1, 2].map((p) => m.get(`ticketflow_consumer_lag{partition="${p}"}`));
        return m.get('ticketflow_records_total') === count && lags.every((lag) => lag === 0) ? m : undefined;
      }, `records_total == ${count} and lag 0 on partitions 0-2`);
      expect([...metrics.keys()].filter((k) => k.startsWith('ticketflow_consumer_lag{'))).toHaveLength(3);
      expect(metrics.get('ticketflow_invalid_records_total')).toBe(invalid);
      expect(metrics.get('ticketflow_healthy')).toBe(1);

      const health = await healthz(port);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({
        status: 'ok',
        source: { name: `kafka:${topic}`, connected: true },
      });

      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect(result.code).toBe(0);
      const batches = await readBatches(out);
      const total = batches.reduce(
        (s, b) => s + (b.total_tickets as number) + (b.invalid_tickets as number),
        0,
      );
      expect(total).toBe(count);
      expect(batches.reduce((s, b) => s + (b.invalid_tickets as number), 0)).toBe(invalid);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('answers 503 while the brokers cannot be reached, then exits 1 with a one-line error', async () => {
    const brokers = `127.0.0.1:${await closedPort()}`;
    const cli = spawnCli(['process', '--brokers', brokers, '--out', join(dir, 'o'), '--http-port', '0']);
    try {
      const port = await listeningPort(cli);
      // Until the pipeline runs, the source has not said whether it reaches the brokers (`null`).
      const health = await waitFor(async () => {
        const h = await healthz(port);
        return (h.body.source as { connected: boolean | null }).connected === null ? undefined : h;
      }, 'the source to report its connection');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({
        healthy: false,
        source: { name: 'kafka:client_tickets', connected: false },
      });
      expect(['starting', 'failing']).toContain(health.body.status);
      expect((await scrape(port)).get('ticketflow_healthy')).toBe(0);
      const result = await cli.done;
      expect(result.code).toBe(1);
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
      expect(errors).toEqual([expect.stringContaining(`cannot reach the brokers at ${brokers}`)]);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });
});
