import { randomUUID } from 'node:crypto';
import type { Message } from '@confluentinc/kafka-javascript';
import { kafkaModule } from '../../src/client';
import { BROKERS } from './broker';

/** A message as written or read, bytes untouched. */
export interface RawMessage {
  readonly value: Buffer | null;
  readonly key?: Buffer | string | null;
  readonly headers?: ReadonlyArray<Record<string, Buffer | string>>;
}

/** A message read back, with where it was. */
export interface ReadMessage {
  readonly value: Buffer | null;
  readonly key: Buffer | null;
  /** Header names and values in order. */
  readonly headers: Array<[string, Buffer]>;
  readonly partition: number;
  readonly offset: number;
}

function call<T>(fn: (cb: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

/** Creates a topic with topic-level settings, such as `{ 'max.message.bytes': '5242880' }`. */
export async function createTopicWith(
  topic: string,
  partitions: number,
  config: Record<string, string> = {},
): Promise<void> {
  const admin = kafkaModule().AdminClient.create({ 'bootstrap.servers': BROKERS });
  try {
    await call<void>((cb) =>
      admin.createTopic(
        { topic, num_partitions: partitions, replication_factor: 1, config },
        15_000,
        cb as never,
      ),
    );
  } finally {
    admin.disconnect();
  }
}

/** Produces messages in order to partition 0, exactly as given, and waits for every delivery. */
export async function produceRaw(
  topic: string,
  messages: readonly RawMessage[],
  settings: Record<string, string | number | boolean> = {},
): Promise<void> {
  const Kafka = kafkaModule();
  const producer = new Kafka.Producer({
    'bootstrap.servers': BROKERS,
    dr_cb: true,
    'enable.idempotence': true,
    ...settings,
  } as never);
  await call<unknown>((cb) => producer.connect({ timeout: 15_000 }, cb as never));
  producer.setPollInterval(10);
  let delivered = 0;
  let failure: unknown;
  producer.on('delivery-report', (error) => {
    if (error) failure ??= error;
    delivered += 1;
  });
  try {
    for (const m of messages) {
      producer.produce(topic, 0, m.value, m.key ?? null, Date.now(), undefined, m.headers as never);
    }
    await call<void>((cb) => producer.flush(30_000, cb as never));
    while (delivered < messages.length) await new Promise((r) => setTimeout(r, 10));
    if (failure) throw failure;
  } finally {
    producer.setPollInterval(0);
    await call<unknown>((cb) => producer.disconnect(cb as never));
  }
}

/**
 * Reads `count` messages of a topic from its start (or fewer once `timeoutMs` passed), bytes untouched;
 * `settings` are extra librdkafka properties, such as `{ 'isolation.level': 'read_uncommitted' }`.
 */
export async function readRaw(
  topic: string,
  count: number,
  timeoutMs = 30_000,
  settings: Record<string, string | number | boolean> = {},
): Promise<ReadMessage[]> {
  const Kafka = kafkaModule();
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': BROKERS,
      'group.id': `raw-reader-${randomUUID()}`,
      'enable.auto.commit': false,
      'fetch.message.max.bytes': 10_000_000,
      ...settings,
    } as never,
    { 'auto.offset.reset': 'earliest' },
  );
  await call<unknown>((cb) => consumer.connect({ timeout: 15_000 }, cb as never));
  consumer.subscribe([topic]);
  consumer.setDefaultConsumeTimeout(200);
  const out: ReadMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < count && Date.now() < deadline) {
      const messages = await call<Message[]>((cb) => consumer.consume(100, cb as never));
      for (const m of messages) {
        const headers: Array<[string, Buffer]> = [];
        for (const h of m.headers ?? [])
          for (const [k, v] of Object.entries(h)) headers.push([k, Buffer.from(v as Buffer)]);
        out.push({
          value: m.value,
          key: m.key == null ? null : Buffer.from(m.key as Buffer),
          headers,
          partition: m.partition,
          offset: m.offset,
        });
      }
    }
  } finally {
    await call<unknown>((cb) => consumer.disconnect(cb as never));
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** The number of messages in partition 0 of a topic (its high watermark; no transactions involved). */
export async function messageCount(topic: string, partition = 0): Promise<number> {
  const Kafka = kafkaModule();
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': BROKERS, 'group.id': `raw-count-${randomUUID()}` },
    {},
  );
  await call<unknown>((cb) => consumer.connect({ timeout: 15_000 }, cb as never));
  try {
    const offsets = await call<{ highOffset: number; lowOffset: number }>((cb) =>
      consumer.queryWatermarkOffsets(topic, partition, 10_000, cb as never),
    );
    return offsets.highOffset - offsets.lowOffset;
  } finally {
    await call<unknown>((cb) => consumer.disconnect(cb as never));
  }
}

/** Whether the brokers know a topic (asked without creating it). */
export async function topicExists(topic: string): Promise<boolean> {
  const Kafka = kafkaModule();
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': BROKERS });
  try {
    const topics = await call<string[]>((cb) => admin.listTopics({ timeout: 10_000 }, cb as never));
    return topics.includes(topic);
  } finally {
    admin.disconnect();
  }
}

/** Header values by name (the last one of each name), as text. */
export function headerText(message: ReadMessage): Record<string, string> {
  return Object.fromEntries(message.headers.map(([k, v]) => [k, v.toString('utf8')]));
}
