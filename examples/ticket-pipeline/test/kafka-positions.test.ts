import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deleteRecordsBefore, deleteTopic } from '../../../packages/kafka-source/test/support/admin';
import { generateTickets } from '../src/domain/generator';
import { type CliResult, type RunningCli, readBatches, recordsIn, runCli, startCli } from './support/cli';
import { BROKERS, createTopic, ensureBroker, freshTopic, processArgs, produceTickets } from './support/kafka';
import { waitFor } from './support/wait';

type KafkaModule = typeof import('@confluentinc/kafka-javascript');
const Kafka = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as KafkaModule;

function call<T>(fn: (cb: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

let dir: string;
beforeAll(() => ensureBroker());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-kafka-positions-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const failures = (result: CliResult) =>
  result.stderr.split('\n').filter((l) => l.startsWith('ticket-pipeline:'));

/** The port the processor's HTTP server listens on, once it logged it. */
function httpPort(cli: RunningCli): Promise<number> {
  return waitFor(() => {
    const match = /http listening on :(\d+)/.exec(cli.output().stderr);
    return match ? Number(match[1]) : undefined;
  }, 'the HTTP port');
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Produces generated tickets at about `rate` a second until stopped; `stop` resolves with how many were stored. */
function produceContinuously(topic: string, rate: number): { stop(): Promise<number> } {
  const tickets = generateTickets({ seed: 7, badFraction: 0 });
  let stopping = false;
  const done = (async () => {
    const producer = new Kafka.Producer({ 'bootstrap.servers': BROKERS, 'linger.ms': 5 });
    await call((cb) => producer.connect({}, cb as never));
    let sent = 0;
    try {
      while (!stopping) {
        for (let i = 0; i < rate / 10; i++) producer.produce(topic, null, Buffer.from(tickets.next().value));
        sent += rate / 10;
        await call<void>((cb) => producer.flush(10_000, cb as never));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await call((cb) => producer.disconnect(cb as never));
    }
    return sent;
  })();
  return {
    stop() {
      stopping = true;
      return done;
    },
  };
}

/** Stops a processor with SIGTERM; it must exit 0 after writing its open batch. */
async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGTERM');
  const result = await cli.done;
  expect(failures(result)).toEqual([]);
  expect(result.code).toBe(0);
}

describe('Kafka positions on a real broker', () => {
  it('stops at records deleted before they were read, or records the loss with --on-data-loss continue', async () => {
    const topic = freshTopic('loss');
    await createTopic(topic, 1);
    const out = join(dir, 'metrics');
    await produceTickets(topic, 5, 1);
    const first = startCli(processArgs(topic, out, ['--window', '500ms']));
    await waitFor(async () => (await recordsIn(out)) === 5, 'the first five records in batch files');
    await stop(first);
    const before = await readBatches(out);

    // The checkpoint says offset 5; records 5 to 14 arrive, and 5 to 7 are deleted before they are read.
    await produceTickets(topic, 10, 2);
    await deleteRecordsBefore(topic, 0, 8);

    const refused = await runCli(processArgs(topic, out, ['--window', '500ms']));
    expect(failures(refused)).toEqual([
      `ticket-pipeline: data loss on ${topic} partition 0: expected offset 5, first available offset 8: 3 records were deleted (retention or DeleteRecords) before they were read; stopped before reading past the gap: accept the loss with --on-data-loss continue (onDataLoss: 'continue')`,
    ]);
    expect(refused.code).toBe(1);
    expect(await readBatches(out)).toEqual(before);

    const accepting = startCli(
      processArgs(topic, out, ['--window', '500ms', '--on-data-loss', 'continue', '--http-port', '0']),
    );
    const port = await httpPort(accepting);
    await waitFor(async () => (await recordsIn(out)) === 12, 'the seven records after the gap');
    const recorded = (await readBatches(out)).filter((b) => b.data_loss !== undefined);
    expect(recorded.map((b) => b.data_loss)).toEqual([
      [{ lane: `${topic}/0`, expected_offset: 5, first_available_offset: 8, lost: 3 }],
    ]);
    expect(Object.keys(recorded[0] ?? {}).at(-1)).toBe('data_loss');
    expect(await scrape(port)).toMatch(/^ticketflow_data_loss_records_total 3$/m);
    expect(accepting.output().stderr).toMatch(
      new RegExp(
        `WARN +data loss on ${topic} partition 0: expected offset 5, first available offset 8: 3 records`,
      ),
    );
    await stop(accepting);
    expect(await recordsIn(out)).toBe(12);
  });

  it('stops with one line naming a topic deleted while it is read, after writing what it read', async () => {
    const topic = freshTopic('gone');
    await createTopic(topic, 2);
    await produceTickets(topic, 30, 3);
    const out = join(dir, 'metrics');
    // A window far longer than the test: only the deletion makes the processor write its batch.
    const cli = startCli(processArgs(topic, out, ['--window', '10m', '--http-port', '0']));
    const port = await httpPort(cli);
    await waitFor(async () => {
      const lags = (await scrape(port)).match(/^ticketflow_consumer_lag\{partition="\d+"\} \d+$/gm) ?? [];
      return lags.length === 2 && lags.every((l) => l.endsWith(' 0'));
    }, 'every record read');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(await recordsIn(out)).toBe(0);

    await deleteTopic(topic);
    const result = await Promise.race([
      cli.done,
      new Promise<undefined>((resolve) => setTimeout(resolve, 40_000, undefined)),
    ]);
    if (result === undefined) cli.child.kill('SIGKILL');
    expect(result, 'the processor stopped after the topic was deleted').toBeDefined();
    expect(failures(result as CliResult)).toEqual([
      `ticket-pipeline: topic "${topic}" was deleted from ${BROKERS} while it was being read (missing for 5 s); the batches written so far are committed: recreate the topic and start with a new output and group, or stop this processor`,
    ]);
    expect(result?.code).toBe(1);
    expect(await recordsIn(out)).toBe(30);
  });

  it('keeps two processors of one group with their own outputs exact when one stops and comes back', async () => {
    const topic = freshTopic('shared');
    await createTopic(topic, 4);
    const producer = produceContinuously(topic, 250);
    const outA = join(dir, 'a');
    const outB = join(dir, 'b');
    const args = (out: string) => processArgs(topic, out, ['--window', '1s']);
    const assignedAll = (cli: RunningCli) =>
      cli.output().stderr.includes(`assigned ${topic} partitions [0, 1, 2, 3]`);
    const counted = async () => (await recordsIn(outA)) + (await recordsIn(outB));
    const running: RunningCli[] = [];
    let total = 0;
    try {
      const a = startCli(args(outA));
      const b = startCli(args(outB));
      running.push(a, b);
      await waitFor(
        async () => (await recordsIn(outA)) > 0 && (await recordsIn(outB)) > 0,
        'both processors writing',
      );
      // A stops; B takes its partitions over and counts past A's checkpoint.
      await stop(a);
      await waitFor(() => assignedAll(b), 'B reading every partition');
      const bAfterA = await recordsIn(outB);
      await waitFor(async () => (await recordsIn(outB)) > bAfterA + 500, 'B counting past where A stopped');
      // A comes back, then B stops: A reads every partition again, its own old ones included.
      const again = startCli(args(outA));
      running.push(again);
      await waitFor(
        () => again.output().stderr.includes(`assigned ${topic} partitions`),
        'A back in the group',
      );
      await stop(b);
      await waitFor(() => assignedAll(again), 'A reading every partition');
      total = await producer.stop();
      await waitFor(async () => (await counted()) >= total, 'every record counted');
      await stop(again);
      // A's old partitions resumed from the group's offsets, past its own checkpoint.
      expect(again.output().stderr).toMatch(
        new RegExp(
          `INFO +${topic} partition \\d: group g-${topic} committed offset \\d+, ahead of this processor's checkpoint at \\d+`,
        ),
      );
    } finally {
      await producer.stop();
      for (const cli of running) cli.child.kill('SIGKILL');
    }
    expect(total).toBeGreaterThan(500);
    expect(await counted()).toBe(total);
  });
});
