import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatches, startCli } from './support/cli';
import { waitFor } from './support/wait';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-run-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ticket-pipeline run (embedded)', () => {
  it('writes a batch per window and, on SIGTERM, writes the open batch and exits 0', async () => {
    const out = join(dir, 'metrics');
    const run = startCli(['run', '--window', '1s', '--rate', '500', '--out', out, '--seed', '5']);
    await waitFor(() => run.output().stderr.includes('batch_00001.json'), 'two batches');
    // Let tickets arrive in the next window, so SIGTERM has an open batch to write.
    await new Promise((resolve) => setTimeout(resolve, 300));
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('SIGTERM received');
    const batches = await readBatches(out);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
    for (const b of batches) expect(b.total_tickets).toBeGreaterThan(0);
    // Each window opens where the one before closed (the exact bounds of a window closed by the clock or
    // by a stop are checked on virtual time in packages/core/test/pipeline.test.ts).
    expect(batches.slice(1).map((b) => b.window_start)).toEqual(
      batches.slice(0, -1).map((b) => b.window_end),
    );
    // The last batch is the open one SIGTERM closed: written after the signal was received.
    const lastFile = `batch_${String(batches.length - 1).padStart(5, '0')}.json`;
    const stopping = result.stderr.indexOf('SIGTERM received: writing the open batch, then exiting');
    expect(stopping).toBeGreaterThan(-1);
    expect(result.stderr.indexOf(lastFile)).toBeGreaterThan(stopping);
  });
});
