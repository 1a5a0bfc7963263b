import { randomUUID } from 'node:crypto';
import type { Batch, BatchPlan, DeadLetter } from '@ticketflow/core';
import { TicketflowError } from '@ticketflow/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kafkaModule } from '../src/client';
import {
  type KafkaPartials,
  type KafkaRecord,
  type KafkaSource,
  kafkaPartials,
  kafkaSource,
} from '../src/index';
import { type OpenedSource, openSource, produceTo, waitUntil } from './support/admin';
import { BROKERS, createTopic, ensureBroker } from './support/broker';
import { headerText, readRaw } from './support/raw-kafka';

beforeAll(() => ensureBroker());

const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const numbers = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ n: from + i }));
const UNCOMMITTED = { 'isolation.level': 'read_uncommitted' };

function call<T>(fn: (cb: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

/** The group's committed offset of a partition, asked by a client outside the group; undefined when none. */
async function groupOffset(group: string, topic: string, partition = 0): Promise<number | undefined> {
  const consumer = new (kafkaModule().KafkaConsumer)(
    { 'bootstrap.servers': BROKERS, 'group.id': group, 'enable.auto.commit': false },
    {},
  );
  await call((cb) => consumer.connect({ timeout: 15_000 }, cb as never));
  try {
    const [tp] = await call<Array<{ offset?: number }>>((cb) =>
      consumer.committed([{ topic, partition }], 10_000, cb as never),
    );
    return typeof tp?.offset === 'number' && tp.offset >= 0 ? tp.offset : undefined;
  } finally {
    await call((cb) => consumer.disconnect(cb as never));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A source topic with `count` records, read by a transaction-mode source in a fresh group. */
interface Setup {
  readonly topic: string;
  readonly group: string;
  readonly partialsTopic: string;
  readonly deadLetterTopic: string;
  readonly source: KafkaSource;
  readonly opened: OpenedSource;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setUp(count: number): Promise<Setup> {
  const topic = fresh('txn-src');
  const group = `g-${topic}`;
  const partialsTopic = `${topic}.partials`;
  const deadLetterTopic = `${topic}.dlq`;
  await Promise.all([createTopic(topic, 1), createTopic(partialsTopic, 1), createTopic(deadLetterTopic, 1)]);
  await produceTo(topic, 0, numbers(0, count));
  const source = kafkaSource({ brokers: BROKERS, topic, groupId: group, offsets: 'transaction' });
  const opened = openSource(source);
  cleanups.push(() => opened.close());
  await waitUntil(() => opened.values().length === count, `the ${count} records`);
  return { topic, group, partialsTopic, deadLetterTopic, source, opened };
}

function partialsOf(s: Setup, transactionalId = fresh('txn')): KafkaPartials {
  const partials = kafkaPartials({
    brokers: BROKERS,
    partialsTopic: s.partialsTopic,
    deadLetterTopic: s.deadLetterTopic,
    transactionalId,
    source: s.source,
    transactionTimeoutMs: 20_000,
  });
  cleanups.push(() => partials.close());
  return partials;
}

function planOf(s: Setup, batchId: number, from: number, to: number): BatchPlan {
  const lane = `${s.topic}/0`;
  return {
    batchId,
    windowStart: 1_000,
    windowEnd: 2_000,
    range: { [lane]: { from, to } },
    positions: { [lane]: to + 1 },
  };
}

function batchOf(plan: BatchPlan, partial: unknown): Batch<unknown> {
  return {
    batchId: plan.batchId,
    windowStart: new Date(plan.windowStart),
    windowEnd: new Date(plan.windowEnd),
    records: 0,
    invalidRecords: 0,
    metrics: {},
    range: plan.range,
    ...(partial === undefined ? {} : { partial }),
  } as Batch<unknown>;
}

function letter(s: Setup, offset: number, reason = 'not JSON'): DeadLetter<KafkaRecord> {
  return {
    value: { value: Buffer.from(`bad ${offset}`), key: 'k', headers: [{ trace: 'x' }] },
    reason,
    lane: `${s.topic}/0`,
    offset,
  };
}

describe('kafkaPartials on a real broker', () => {
  it('makes the partial, the dead letters and the group offsets visible together when the transaction commits', async () => {
    const s = await setUp(5);
    const transactionalId = fresh('txn-commit');
    const partials = partialsOf(s, transactionalId);
    expect(partials.checkpoint.location).toBe(`kafka-transaction:${transactionalId}`);
    expect(await partials.checkpoint.load()).toEqual({ nextBatchId: 0, positions: {} });

    const plan = planOf(s, 0, 0, 4);
    const partial = { format: 'ticketflow.partial/1', records: 4, invalidRecords: 1 };
    await partials.checkpoint.begin(plan);
    partials.deadLetters.write(letter(s, 2));
    await partials.deadLetters.flush();
    await partials.sink.write(batchOf(plan, partial));
    expect(partials.sink.describe(0)).toBe(`kafka:${s.partialsTopic} (partial of batch 0)`);

    // Produced but not committed: a read_uncommitted reader sees it, a read_committed one and the group do not.
    expect(await readRaw(s.partialsTopic, 1, 10_000, UNCOMMITTED)).toHaveLength(1);
    expect(await readRaw(s.partialsTopic, 1, 2_000)).toHaveLength(0);
    expect(await readRaw(s.deadLetterTopic, 1, 2_000)).toHaveLength(0);
    expect(await groupOffset(s.group, s.topic)).toBeUndefined();

    await partials.checkpoint.commit(plan);
    const [message] = await readRaw(s.partialsTopic, 1, 10_000);
    expect(JSON.parse(String(message?.value))).toEqual(partial);
    expect(message?.key?.toString()).toBe(transactionalId);
    const [dead] = await readRaw(s.deadLetterTopic, 1, 10_000);
    expect(dead?.value?.toString()).toBe('bad 2');
    expect(dead?.key?.toString()).toBe('k');
    expect(dead && headerText(dead)).toEqual({
      trace: 'x',
      reason: 'not JSON',
      original_topic: s.topic,
      original_partition: '0',
      original_offset: '2',
    });
    expect(await groupOffset(s.group, s.topic)).toBe(5);

    // With offsets: 'transaction', acknowledge commits nothing itself.
    await s.source.acknowledge(plan.range, { [`${s.topic}/0`]: 3 });
    expect(await groupOffset(s.group, s.topic)).toBe(5);
    expect(s.source.transactionConsumer()).toBeDefined();
  });

  it('leaves nothing visible and the group offsets unchanged when the transaction aborts, and commits the next one', async () => {
    const s = await setUp(6);
    const partials = partialsOf(s);
    await partials.checkpoint.load();

    // Batch 0 fails in the sink (no partial): its dead letters are aborted with it.
    const first = planOf(s, 0, 0, 2);
    await partials.checkpoint.begin(first);
    partials.deadLetters.write(letter(s, 1, 'first'));
    // A letter of the next batch's records waits for that batch's transaction.
    partials.deadLetters.write(letter(s, 4, 'second'));
    await partials.deadLetters.flush();
    const error = await rejection(partials.sink.write(batchOf(first, undefined)));
    expect(error).toBeInstanceOf(TicketflowError);
    expect((error as TicketflowError).code).toBe('SINK_FAILED');
    expect((error as TicketflowError).retriable).toBe(false);
    expect((error as Error).message).not.toContain('\n');
    expect(await readRaw(s.deadLetterTopic, 1, 10_000, UNCOMMITTED)).toHaveLength(1);
    expect(await readRaw(s.deadLetterTopic, 1, 2_000)).toHaveLength(0);
    expect(await readRaw(s.partialsTopic, 1, 2_000, UNCOMMITTED)).toHaveLength(0);
    expect(await groupOffset(s.group, s.topic)).toBeUndefined();

    // The replay of batch 0 commits; then batch 1 is aborted by closing with its transaction open.
    await partials.checkpoint.begin(first);
    partials.deadLetters.write(letter(s, 1, 'first'));
    await partials.deadLetters.flush();
    await partials.sink.write(batchOf(first, { n: 0 }));
    await partials.checkpoint.commit(first);
    const second = planOf(s, 1, 3, 5);
    await partials.checkpoint.begin(second);
    partials.deadLetters.write(letter(s, 4, 'second'));
    await partials.deadLetters.flush();
    await partials.sink.write(batchOf(second, { n: 1 }));
    await partials.close();

    const letters = await readRaw(s.deadLetterTopic, 3, 5_000);
    expect(letters.map((m) => headerText(m).reason)).toEqual(['first']);
    const written = await readRaw(s.partialsTopic, 2, 5_000);
    expect(written.map((m) => JSON.parse(String(m.value)))).toEqual([{ n: 0 }]);
    expect(await groupOffset(s.group, s.topic)).toBe(3);
    // Aborted messages are there for a read_uncommitted reader only.
    expect(await readRaw(s.partialsTopic, 2, 10_000, UNCOMMITTED)).toHaveLength(2);
  });

  it('stops a processor fenced by another one with the same transactional id (CHECKPOINT_CONFLICT, one line)', async () => {
    const s = await setUp(4);
    const transactionalId = fresh('txn-fenced');
    const first = partialsOf(s, transactionalId);
    await first.checkpoint.load();
    const plan = planOf(s, 0, 0, 3);
    await first.checkpoint.begin(plan);
    await first.sink.write(batchOf(plan, { by: 'first' }));

    const second = partialsOf(s, transactionalId);
    await second.checkpoint.load();

    const error = await rejection(first.checkpoint.commit(plan));
    expect(error).toBeInstanceOf(TicketflowError);
    expect((error as TicketflowError).code).toBe('CHECKPOINT_CONFLICT');
    expect((error as Error).message).toBe(
      `another processor with transactional id "${transactionalId}" took over; this one stops`,
    );
    expect((error as TicketflowError).retriable).toBe(false);

    // The new one commits; the fenced one's message never becomes visible.
    await second.checkpoint.begin(plan);
    await second.sink.write(batchOf(plan, { by: 'second' }));
    await second.checkpoint.commit(plan);
    const messages = await readRaw(s.partialsTopic, 2, 5_000);
    expect(messages.map((m) => JSON.parse(String(m.value)))).toEqual([{ by: 'second' }]);
    expect(await groupOffset(s.group, s.topic)).toBe(4);
    await first.close();
  });

  it('refuses a missing partials topic or dead-letter topic with TOPIC_NOT_FOUND naming it', async () => {
    const topic = fresh('txn-missing');
    await createTopic(topic, 1);
    const source = kafkaSource({ brokers: BROKERS, topic, offsets: 'transaction' });
    for (const [partialsTopic, deadLetterTopic, missing] of [
      [`${topic}.partials`, topic, `${topic}.partials`],
      [topic, `${topic}.dlq`, `${topic}.dlq`],
    ] as const) {
      const partials = kafkaPartials({
        brokers: BROKERS,
        partialsTopic,
        deadLetterTopic,
        transactionalId: fresh('txn-missing'),
        source,
      });
      const error = await rejection(partials.checkpoint.load());
      await partials.close();
      expect(error).toBeInstanceOf(TicketflowError);
      expect((error as TicketflowError).code).toBe('TOPIC_NOT_FOUND');
      expect((error as Error).message).toContain(JSON.stringify(missing));
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('has no transaction consumer before it is open', () => {
    const source = kafkaSource({ brokers: BROKERS, topic: 'client_tickets', offsets: 'transaction' });
    expect(() => source.transactionConsumer()).toThrow(/not open/);
    expect(source.transactionOffsets({ 'client_tickets/0': 3 })).toEqual([]);
    expect(() => kafkaSource({ brokers: BROKERS, topic: 't', offsets: 'x' as never })).toThrow(
      /offsets must be/,
    );
  });

  it('reads the messages of aborted transactions with isolationLevel read_uncommitted only', async () => {
    const topic = fresh('txn-isolation');
    await createTopic(topic, 1);
    const producer = new (kafkaModule().Producer)({
      'bootstrap.servers': BROKERS,
      'transactional.id': fresh('txn-aborted'),
    });
    await call((cb) => producer.connect({}, cb as never));
    try {
      await call<void>((cb) => producer.initTransactions(15_000, cb as never));
      await call<void>((cb) => producer.beginTransaction(cb as never));
      producer.produce(topic, 0, Buffer.from('aborted'));
      await call<void>((cb) => producer.flush(15_000, cb as never));
      await call<void>((cb) => producer.abortTransaction(15_000, cb as never));
    } finally {
      await call((cb) => producer.disconnect(cb as never));
    }
    await produceTo(topic, 0, ['committed']);
    const read = async (isolationLevel?: 'read_committed' | 'read_uncommitted') => {
      const opened = openSource(
        kafkaSource({
          brokers: BROKERS,
          topic,
          groupId: fresh('g'),
          ...(isolationLevel ? { isolationLevel } : {}),
        }),
      );
      try {
        await waitUntil(() => opened.values().includes('committed'), 'the committed record');
        return opened.values();
      } finally {
        await opened.close();
      }
    };
    expect(await read('read_uncommitted')).toEqual(['aborted', 'committed']);
    expect(await read('read_committed')).toEqual(['committed']);
    expect(await read()).toEqual(['committed']);
  });
});
