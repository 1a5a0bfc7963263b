import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRejection } from '@ticketflow/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { headerText, messageCount, readRaw } from '../../../packages/kafka-source/test/support/raw-kafka';
import { parseTicket } from '../src/domain/validate';
import { readBatches, recordsIn, runCli, startCli } from './support/cli';
import {
  CA_FILE,
  createTopic,
  ensureBroker,
  freshTopic,
  processArgs,
  produceTickets,
  SASL_BROKERS,
  SASL_PASSWORD,
  SASL_USER,
  TLS_BROKERS,
} from './support/kafka';
import { batchTotals, expectedBreakdown } from './support/outputs';
import { generatedTickets } from './support/ticket-totals';
import { waitFor } from './support/wait';

let dir: string;
beforeAll(() => ensureBroker());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-kafka-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterAll(() => ensureBroker());

/** What the batch files must add up to for `count` tickets of a seed, computed without the engine. */
const expected = (count: number, seed: number, badFraction: number) =>
  expectedBreakdown(generatedTickets(count, seed, badFraction));

describe('ticket pipeline on a real Kafka broker', () => {
  it.each([
    ['on its main thread', 1],
    ['with two worker threads', 2],
  ])(
    'processes every produced ticket into batch files whose totals and breakdowns match, %s',
    async (_, workers) => {
      const topic = freshTopic('tickets');
      await createTopic(topic, 3);
      // The dead-letter topic must exist: the processor never creates it.
      await createTopic(`${topic}.dlq`, 1);
      await produceTickets(topic, 6000, 11, { badFraction: 0.05 });
      const out = join(dir, 'metrics');
      const processor = startCli(processArgs(topic, out, ['--window', '1s', '--workers', String(workers)]));
      await waitFor(async () => (await recordsIn(out)) >= 6000, 'every record in a batch file');
      processor.child.kill('SIGTERM');
      const result = await processor.done;
      expect(result.code).toBe(0);
      expect(result.stderr).toContain('[✓] JSON metrics written →');

      const batches = await readBatches(out);
      expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
      const want = expected(6000, 11, 0.05);
      expect(batchTotals(batches)).toEqual(want);

      // Every invalid record of the topic, and nothing else, lands in the dead-letter topic once, as the
      // original value with its own reason and origin.
      const source = await readRaw(topic, 6000);
      expect(source).toHaveLength(6000);
      const refused = source.flatMap((m) => {
        const value = m.value?.toString('utf8') ?? '';
        const parsed = parseTicket(value, { lane: `${topic}/${m.partition}`, offset: m.offset });
        return isRejection(parsed)
          ? [{ partition: String(m.partition), offset: String(m.offset), value, reason: parsed.reason }]
          : [];
      });
      expect(refused).toHaveLength(want.invalid);
      const letters = await readRaw(`${topic}.dlq`, want.invalid);
      const byOrigin = (a: { partition: string; offset: string }, b: { partition: string; offset: string }) =>
        Number(a.partition) - Number(b.partition) || Number(a.offset) - Number(b.offset);
      expect(
        letters
          .map((letter) => {
            const headers = headerText(letter);
            expect(headers.original_topic).toBe(topic);
            return {
              partition: headers.original_partition as string,
              offset: headers.original_offset as string,
              value: letter.value?.toString('utf8') ?? '',
              reason: headers.reason as string,
            };
          })
          .sort(byOrigin),
      ).toEqual(refused);
      expect(await messageCount(`${topic}.dlq`)).toBe(want.invalid);
    },
  );

  it('keeps totals exact when the processor is killed with SIGKILL mid-run and restarted', async () => {
    const topic = freshTopic('crash');
    await createTopic(topic, 3);
    await createTopic(`${topic}.dlq`, 1);
    const out = join(dir, 'metrics');
    const total = 40_000;
    await produceTickets(topic, total, 21, { badFraction: 0.02 });
    // Small batches and static membership: each restart resumes at once from the checkpoint.
    const args = processArgs(topic, out, [
      '--window',
      '200ms',
      '--max-records',
      '200',
      '--instance-id',
      `i-${topic}`,
    ]);
    const kills: number[] = [];
    // The restarts alternate between the main thread alone and two worker threads.
    const withWorkers = (round: number) => [...args, '--workers', String(1 + (round % 2))];
    for (let round = 0; round < 3; round++) {
      const before = await recordsIn(out);
      const processor = startCli(withWorkers(round));
      await waitFor(async () => (await recordsIn(out)) > before, 'a new batch');
      processor.child.kill('SIGKILL');
      await processor.done;
      kills.push(await recordsIn(out));
    }
    expect(kills[kills.length - 1]).toBeLessThan(total);
    const processor = startCli(withWorkers(1));
    await waitFor(async () => (await recordsIn(out)) >= total, 'every record after the restarts');
    processor.child.kill('SIGTERM');
    expect((await processor.done).code).toBe(0);

    const batches = await readBatches(out);
    expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
    expect(batchTotals(batches)).toEqual(expected(total, 21, 0.02));
    const names = await readdir(out);
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('reads through SASL SCRAM and TLS listeners', async () => {
    const topic = freshTopic('secure');
    await createTopic(topic, 1);
    await produceTickets(topic, 200, 41);
    for (const [name, args] of [
      [
        'scram',
        [
          '--brokers',
          SASL_BROKERS,
          '--sasl-mechanism',
          'scram-sha-512',
          '--sasl-username',
          SASL_USER,
          '--sasl-password',
          SASL_PASSWORD,
        ],
      ],
      ['tls', ['--brokers', TLS_BROKERS, '--ssl', '--ssl-ca', CA_FILE]],
    ] as const) {
      const out = join(dir, name);
      const processor = startCli([
        'process',
        ...args,
        '--topic',
        topic,
        '--group',
        `g-${name}-${topic}`,
        '--out',
        out,
        '--window',
        '500ms',
        '--log-level',
        'debug',
      ]);
      await waitFor(async () => (await recordsIn(out)) >= 200, `records over ${name}`);
      processor.child.kill('SIGTERM');
      const result = await processor.done;
      expect(result.code).toBe(0);
      expect(result.stderr + result.stdout).not.toContain(SASL_PASSWORD);
    }
  });

  it('fails with a one-line error and a non-zero exit on a wrong SASL password, never printing it', async () => {
    const password = 'not-the-password-7f3a9c';
    const result = await runCli(
      [
        'process',
        '--brokers',
        SASL_BROKERS,
        '--topic',
        'client_tickets',
        '--out',
        join(dir, 'o'),
        '--log-level',
        'debug',
      ],
      {
        env: {
          KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
          KAFKA_SASL_USERNAME: SASL_USER,
          KAFKA_SASL_PASSWORD: password,
        },
      },
    );
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('ticket-pipeline:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/refused the SASL credentials/);
    expect(result.stderr + result.stdout).not.toContain(password);
  });

  it('fails with a clear one-line error when the topic does not exist', async () => {
    const result = await runCli(processArgs(freshTopic('missing'), join(dir, 'o')));
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((l) => l.startsWith('ticket-pipeline:'))).toEqual([
      expect.stringMatching(
        /^ticket-pipeline: topic "missing-[0-9a-f]+" does not exist on 127\.0\.0\.1:9092$/,
      ),
    ]);
  });

  it('fails with a one-line error when no broker answers, its repeated warnings collapsed with a count', async () => {
    const result = await runCli([
      'process',
      '--brokers',
      '127.0.0.1:1',
      '--topic',
      'client_tickets',
      '--out',
      join(dir, 'o'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((l) => l.startsWith('ticket-pipeline:'))).toEqual([
      expect.stringMatching(/cannot reach the brokers at 127\.0\.0\.1:1/),
    ]);
    // The client repeats its warning many times a second (about 290 lines in 15 s before they were
    // collapsed): the first is printed, then one line per interval with the count.
    const lines = result.stderr.trimEnd().split('\n');
    // A few distinct warnings, each printed once and then summarised with a count (the wrapper's own
    // tests check the summary): a bounded number of lines, none of them printed twice.
    expect(lines.length, lines.join('\n')).toBeLessThan(20);
    const warnings = lines.filter((l) => / WARN /.test(l)).map((l) => l.slice(l.indexOf(' WARN ')));
    expect(new Set(warnings).size, warnings.join('\n')).toBe(warnings.length);
    const checkpoint = await readFile(join(dir, 'o', '_checkpoint', 'offsets', '0.json'), 'utf8').catch(
      () => 'none',
    );
    expect(checkpoint).toBe('none');
  });
});
