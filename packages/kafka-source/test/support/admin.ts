import { randomUUID } from 'node:crypto';
import type { Positions, RecordChunk } from '@ticketflow/core';
import { BehaviorSubject, type Subscription } from 'rxjs';
import { kafkaModule } from '../../src/client';
import type { KafkaRecord } from '../../src/kafka-record';
import type { KafkaSource } from '../../src/kafka-source';
import { BROKERS } from './broker';

function call<T>(fn: (cb: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

/** Produces `values` to one partition (or the default partitioner's), waiting until every one is stored. */
export async function produceTo(
  topic: string,
  partition: number | undefined,
  values: readonly string[],
): Promise<void> {
  const producer = new (kafkaModule().Producer)({ 'bootstrap.servers': BROKERS, 'linger.ms': 0 });
  await call((cb) => producer.connect({}, cb as never));
  try {
    for (const value of values) producer.produce(topic, partition ?? null, Buffer.from(value));
    await call<void>((cb) => producer.flush(15_000, cb as never));
  } finally {
    await call((cb) => producer.disconnect(cb as never));
  }
}

/** Produces `values` to partition 0 in one Kafka transaction, which adds a commit marker after them. */
export async function produceInTransaction(topic: string, values: readonly string[]): Promise<void> {
  const producer = new (kafkaModule().Producer)({
    'bootstrap.servers': BROKERS,
    'transactional.id': `test-${randomUUID()}`,
  });
  await call((cb) => producer.connect({}, cb as never));
  try {
    await call<void>((cb) => producer.initTransactions(15_000, cb as never));
    await call<void>((cb) => producer.beginTransaction(cb as never));
    for (const value of values) producer.produce(topic, 0, Buffer.from(value));
    await call<void>((cb) => producer.commitTransaction(15_000, cb as never));
  } finally {
    await call((cb) => producer.disconnect(cb as never));
  }
}

async function withAdmin<T>(
  fn: (admin: ReturnType<ReturnType<typeof kafkaModule>['AdminClient']['create']>) => Promise<T>,
): Promise<T> {
  const admin = kafkaModule().AdminClient.create({ 'bootstrap.servers': BROKERS });
  try {
    return await fn(admin);
  } finally {
    admin.disconnect();
  }
}

/** Deletes the records of a partition below `offset` (Kafka's DeleteRecords), as retention would. */
export function deleteRecordsBefore(topic: string, partition: number, offset: number): Promise<unknown> {
  return withAdmin((admin) =>
    call((cb) => admin.deleteRecords([{ topic, partition, offset }], { timeout: 15_000 }, cb as never)),
  );
}

/** Grows a topic to `total` partitions. */
export function addPartitions(topic: string, total: number): Promise<unknown> {
  return withAdmin((admin) => call((cb) => admin.createPartitions(topic, total, 15_000, cb as never)));
}

/** Deletes a topic. */
export function deleteTopic(topic: string): Promise<unknown> {
  return withAdmin((admin) => call((cb) => admin.deleteTopic(topic, 15_000, cb as never)));
}

/** Commits `offset` for a partition in a group that has no running member, as a past member would have. */
export async function commitGroupOffset(
  group: string,
  topic: string,
  partition: number,
  offset: number,
): Promise<void> {
  const consumer = new (kafkaModule().KafkaConsumer)(
    { 'bootstrap.servers': BROKERS, 'group.id': group, 'enable.auto.commit': false },
    {},
  );
  await call((cb) => consumer.connect({ timeout: 15_000 }, cb as never));
  try {
    consumer.commitSync([{ topic, partition, offset }]);
  } finally {
    await call((cb) => consumer.disconnect(cb as never));
  }
}

/** A source opened without an engine: every chunk it emits, and a way to stop it. */
export interface OpenedSource {
  /** Every chunk so far, including position-only chunks without values. */
  readonly chunks: Array<RecordChunk<KafkaRecord>>;
  /** The records' values so far, as text. */
  values(): string[];
  /** The error the source failed with, if it did. */
  error(): unknown;
  /** Stops reading and closes the source. */
  close(): Promise<void>;
}

/** Opens `source` as the engine would, with `startAt` positions, collecting what it emits. */
export function openSource(source: KafkaSource, startAt: Positions = {}): OpenedSource {
  const abort = new AbortController();
  const chunks: Array<RecordChunk<KafkaRecord>> = [];
  let failure: unknown;
  const subscription: Subscription = source
    .open({
      startAt,
      signal: abort.signal,
      pressure: new BehaviorSubject(false),
      flush: async () => {},
    })
    .subscribe({
      next: (chunk) => chunks.push(chunk),
      error: (error: unknown) => {
        failure = error;
      },
    });
  return {
    chunks,
    values: () => chunks.flatMap((c) => c.values.map((v) => String(v.value))),
    error: () => failure,
    async close() {
      abort.abort();
      subscription.unsubscribe();
      await source.close?.();
    },
  };
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
