import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTopicWith,
  headerText,
  messageCount,
  produceRaw,
  readRaw,
  topicExists,
} from '../../../packages/kafka-source/test/support/raw-kafka';
import { readBatches, recordsIn, runCli, startCli } from './support/cli';
import { ensureBroker, freshTopic, processArgs } from './support/kafka';
import { generatedTickets } from './support/ticket-totals';
import { waitFor } from './support/wait';

let dir: string;
beforeAll(() => ensureBroker());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-dlq-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the processor until `records` are in batch files, then stops it; returns its result. */
async function processUntil(args: string[], out: string, records: number) {
  const processor = startCli(args);
  await waitFor(
    async () => (await recordsIn(out)) >= records || processor.child.exitCode !== null,
    `${records} records in batch files`,
  );
  processor.child.kill('SIGTERM');
  return processor.done;
}

async function totals(out: string) {
  const batches = await readBatches(out);
  return {
    valid: batches.reduce((s, b) => s + (b.total_tickets as number), 0),
    invalid: batches.reduce((s, b) => s + (b.invalid_tickets as number), 0),
  };
}

const noStackTrace = (text: string) => !/^\s+at /m.test(text);

describe('dead letters of the Kafka processor', () => {
  it('refuses a value that is not UTF-8 and keeps every dead letter as the original: bytes, empty, null, key, headers', async () => {
    const topic = freshTopic('dlq-bytes');
    await createTopicWith(topic, 1);
    await createTopicWith(`${topic}.dlq`, 1);
    const [first, last, after] = generatedTickets(3, 5) as [string, string, string];
    // A ticket whose request holds the byte 0xff inside a JSON string ("a\xffb"): not UTF-8.
    const [head, tail] = JSON.stringify({ ...JSON.parse(first), request: 'a@@b' }).split('@@') as [
      string,
      string,
    ];
    const notUtf8Ticket = Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(tail)]);
    const binary = Buffer.concat([Buffer.from([0xff, 0x00, 0xfe]), Buffer.alloc(2008, 0x81)]);
    await produceRaw(topic, [
      { value: Buffer.from(first), key: 'k0' },
      {
        value: binary,
        key: Buffer.from([0x00, 0xff]),
        headers: [
          { trace: Buffer.from([0x00, 0xfe]) },
          { trace: 'two' },
          { 'content-type': 'application/x-bin' },
        ],
      },
      { value: Buffer.alloc(1).subarray(0, 0), key: 'empty' },
      { value: null, key: 'tombstone' },
      { value: notUtf8Ticket, key: 'bad-utf8' },
      { value: Buffer.from(last) },
    ]);
    const out = join(dir, 'metrics');
    const args = processArgs(topic, out, ['--window', '500ms']);
    const result = await processUntil(args, out, 6);
    expect(result.code).toBe(0);
    expect(await totals(out)).toEqual({ valid: 2, invalid: 4 });

    const letters = await readRaw(`${topic}.dlq`, 4);
    expect(letters).toHaveLength(4);
    const byOffset = new Map(letters.map((m) => [headerText(m).original_offset, m]));

    const bin = byOffset.get('1');
    expect(bin?.value?.equals(binary)).toBe(true);
    expect(bin?.key?.equals(Buffer.from([0x00, 0xff]))).toBe(true);
    expect(bin?.headers.map(([k]) => k)).toEqual([
      'trace',
      'trace',
      'content-type',
      'reason',
      'original_topic',
      'original_partition',
      'original_offset',
    ]);
    expect(bin?.headers[0]?.[1].equals(Buffer.from([0x00, 0xfe]))).toBe(true);
    expect(bin && headerText(bin)).toMatchObject({
      reason: 'message value is not valid UTF-8',
      original_topic: topic,
      original_partition: '0',
    });

    const empty = byOffset.get('2');
    expect(empty?.value).not.toBeNull();
    expect(empty?.value?.length).toBe(0);
    expect(empty?.key?.toString()).toBe('empty');

    const tombstone = byOffset.get('3');
    expect(tombstone?.value).toBeNull();
    expect(tombstone && headerText(tombstone).reason).toBe('message has no value (null)');

    const bad = byOffset.get('4');
    expect(bad?.value?.equals(notUtf8Ticket)).toBe(true);
    expect(bad && headerText(bad).reason).toBe('message value is not valid UTF-8');
    expect(bad?.key?.toString()).toBe('bad-utf8');

    // A restart resumes after the refused records: nothing counted or dead-lettered twice.
    await produceRaw(topic, [{ value: Buffer.from(after) }]);
    const again = await processUntil(args, out, 7);
    expect(again.code).toBe(0);
    expect(await totals(out)).toEqual({ valid: 3, invalid: 4 });
    expect(await messageCount(`${topic}.dlq`)).toBe(4);
  });

  it('cuts a 3 MB invalid ticket to fit the dead-letter topic and counts the valid tickets after it', async () => {
    const topic = freshTopic('dlq-big');
    await createTopicWith(topic, 1, { 'max.message.bytes': '5242880' });
    await createTopicWith(`${topic}.dlq`, 1);
    const tickets = generatedTickets(6, 9);
    // 3 MB of text, with a priority no ticket has: invalid.
    const big = Buffer.from(
      JSON.stringify({
        ...JSON.parse(tickets[0] as string),
        priority: 'urgent',
        request: 'x'.repeat(3_000_000),
      }),
    );
    await produceRaw(
      topic,
      [...tickets.slice(0, 3), big, ...tickets.slice(3)].map((t) => ({ value: Buffer.from(t) })),
      { 'compression.type': 'zstd', 'message.max.bytes': 5_000_000 },
    );
    const out = join(dir, 'metrics');
    const result = await processUntil(processArgs(topic, out, ['--window', '500ms']), out, 7);
    expect(result.stderr).not.toContain('Message size too large');
    expect(noStackTrace(result.stderr)).toBe(true);
    expect(result.code).toBe(0);
    expect(await totals(out)).toEqual({ valid: 6, invalid: 1 });

    const [letter] = await readRaw(`${topic}.dlq`, 1);
    expect(letter && headerText(letter)).toMatchObject({
      truncated: 'value',
      original_size: String(big.length),
      original_offset: '3',
      original_topic: topic,
    });
    expect(letter && headerText(letter).reason).toMatch(/priority/);
    // Cut to the default limit of 1 000 000 bytes, less 512 bytes of framing and what the headers take
    // (name, value and 10 bytes each), to the byte: no more (refused), no less (value lost for nothing).
    const headerBytes = (letter?.headers ?? []).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + v.length + 10,
      0,
    );
    expect(letter?.key).toBeNull();
    expect(letter?.value?.length).toBe(1_000_000 - 512 - headerBytes);
    expect(letter?.value?.equals(big.subarray(0, letter.value.length))).toBe(true);
  });

  it('stops with one line when the dead-letter topic does not exist, never creating it, and resumes once it does', async () => {
    const topic = freshTopic('dlq-none');
    await createTopicWith(topic, 1);
    const tickets = generatedTickets(3, 13);
    await produceRaw(
      topic,
      [tickets[0], 'not json', tickets[1], tickets[2]].map((t) => ({ value: Buffer.from(t as string) })),
    );
    const out = join(dir, 'metrics');
    const args = processArgs(topic, out, ['--window', '500ms']);
    const failed = await runCli(args);
    expect(failed.code).toBe(1);
    const errors = failed.stderr.split('\n').filter((l) => l.startsWith('ticket-pipeline:'));
    expect(errors).toEqual([
      expect.stringMatching(
        new RegExp(`dead-letter topic "${topic}\\.dlq" does not exist on 127\\.0\\.0\\.1:9092`),
      ),
    ]);
    expect(noStackTrace(failed.stderr)).toBe(true);
    expect(await recordsIn(out)).toBe(0);
    expect(await topicExists(`${topic}.dlq`)).toBe(false);

    await createTopicWith(`${topic}.dlq`, 1);
    const resumed = await processUntil(args, out, 4);
    expect(resumed.code).toBe(0);
    expect(await totals(out)).toEqual({ valid: 3, invalid: 1 });
    const [letter] = await readRaw(`${topic}.dlq`, 1);
    expect(letter?.value?.toString()).toBe('not json');
  });
});
