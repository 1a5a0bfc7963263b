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
    // The last batch is the one SIGTERM closed early: its window is shorter than a full one.
    const last = batches.at(-1) as { window_start: string; window_end: string };
    expect(Date.parse(last.window_end) - Date.parse(last.window_start)).toBeLessThanOrEqual(1_000);
  });
});
