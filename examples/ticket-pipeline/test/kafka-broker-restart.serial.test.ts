import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBatches, recordsIn, startCli } from './support/cli';
import {
  bounceBroker,
  createTopic,
  ensureBroker,
  freshTopic,
  processArgs,
  produceTickets,
} from './support/kafka';
import { waitFor } from './support/wait';

// Stopping the broker would disturb every other Kafka test, so this file runs alone, after them
// (vitest.serial.config.ts).

let dir: string;
beforeAll(async () => {
  ensureBroker();
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-bounce-'));
});
afterAll(async () => {
  ensureBroker();
  await rm(dir, { recursive: true, force: true });
});

describe('Kafka broker restart', () => {
  it('recovers with nothing lost when the broker stops and starts again mid-run', async () => {
    const topic = freshTopic('bounce');
    await createTopic(topic, 3);
    const out = join(dir, 'metrics');
    await produceTickets(topic, 4000, 31);
    const processor = startCli(processArgs(topic, out, ['--window', '500ms', '--instance-id', `i-${topic}`]));
    await waitFor(async () => (await recordsIn(out)) >= 4000, 'the first records');
    await bounceBroker(3_000);
    await produceTickets(topic, 4000, 32);
    await waitFor(async () => (await recordsIn(out)) >= 8000, 'the records produced after the restart');
    processor.child.kill('SIGTERM');
    const result = await processor.done;
    expect(result.code).toBe(0);
    const batches = await readBatches(out);
    expect(batches.reduce((s, b) => s + (b.total_tickets as number), 0)).toBe(8000);
    expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
  });
});
