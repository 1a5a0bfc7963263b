import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatches } from '../support/cli';
import { healthz, listeningPort, scrape, spawnCli, waitFor } from './ops-support';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-ops-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * The output folder lies under a regular file, so creating it fails with ENOTDIR, even for root (tests
 * may run as root, for whom permissions do not stop a write). The checkpoint and the dead letters
 * are elsewhere and work.
 */
async function blockedOutput() {
  const blocker = join(dir, 'blocker');
  await writeFile(blocker, 'not a folder');
  return { blocker, out: join(blocker, 'metrics') };
}

function runArgs(out: string, retry: readonly string[]) {
  return [
    'run',
    '--rate',
    '400',
    '--window',
    '500ms',
    '--seed',
    '9',
    '--out',
    out,
    '--checkpoint',
    join(dir, 'checkpoint'),
    '--dead-letters',
    join(dir, 'dead-letters.jsonl'),
    '--http-port',
    '0',
    ...retry,
  ];
}

describe('processor health while its output fails', () => {
  it('answers 503 while batch writes fail and retries them, then 200 once the output works again', async () => {
    const { blocker, out } = await blockedOutput();
    const cli = spawnCli(runArgs(out, ['--sink-retry-for', '10m']));
    try {
      const port = await listeningPort(cli);
      const failing = await waitFor(async () => {
        const h = await healthz(port);
        return h.status === 503 && h.body.status === 'failing' ? h : undefined;
      }, '/healthz to answer 503');
      expect(failing.body.reasons.join(' ')).toMatch(/writing to the output fails: .*ENOTDIR/);
      expect(failing.body.sink).toMatchObject({ failing: true });
      const during = await scrape(port);
      expect(during.get('ticketflow_sink_write_failures_total')).toBeGreaterThanOrEqual(1);
      expect(during.get('ticketflow_batches_total')).toBe(0);
      expect(during.get('ticketflow_healthy')).toBe(0);
      expect(cli.output().stderr).toMatch(
        /WARN +cannot write batch 0: cannot write \S+batch_00000\.json: .*\(ENOTDIR\).* \(attempt 1\); retrying in 500 ms/,
      );

      await rm(blocker);
      const healthy = await waitFor(async () => {
        const h = await healthz(port);
        return h.status === 200 ? h : undefined;
      }, '/healthz to answer 200 again');
      expect(healthy.body).toMatchObject({ status: 'ok', sink: { failing: false, lastError: null } });
      const after = await waitFor(async () => {
        const m = await scrape(port);
        return (m.get('ticketflow_batches_total') ?? 0) >= 2 ? m : undefined;
      }, 'batches after the recovery');
      expect(after.get('ticketflow_healthy')).toBe(1);
      expect(cli.output().stderr).toMatch(/batch 0 written after \d+ attempts/);

      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect(result.code).toBe(0);
      const batches = await readBatches(out);
      expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
      expect(batches.length).toBeGreaterThanOrEqual(2);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('gives up on SIGTERM while a write is failing: exit 1 with a one-line error naming the batch', async () => {
    const { out } = await blockedOutput();
    const cli = spawnCli(runArgs(out, ['--sink-retry-for', '10m']));
    try {
      const port = await listeningPort(cli);
      await waitFor(
        async () => (await healthz(port)).status === 503 && cli.output().stderr.includes('attempt 1'),
        '503',
      );
      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect(result.code).toBe(1);
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^ticket-pipeline: cannot write batch 0: .*ENOTDIR/);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('exits 1 at the first failed write without --sink-retry-for', async () => {
    const { out } = await blockedOutput();
    const cli = spawnCli(runArgs(out, []));
    const result = await cli.done;
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('retrying');
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
    expect(errors).toEqual([expect.stringMatching(/^ticket-pipeline: cannot write batch 0: .*ENOTDIR/)]);
  });
});
