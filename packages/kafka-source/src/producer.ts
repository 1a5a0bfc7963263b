import type { DeliveryReport, LibrdKafkaError, Producer } from '@confluentinc/kafka-javascript';
import { TicketflowError } from '@ticketflow/core';
import { call, connectClient, kafkaModule } from './client';
import { type KafkaConnectionOptions, librdkafkaConfig } from './connection';
import { dedupeMessages } from './dedupe-events';
import { fromClientError, isAuthenticationError, RDKAFKA } from './kafka-errors';
import type { KafkaHeader } from './kafka-record';

/** Where a produced message landed. */
export interface Delivery {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The message's offset. */
  readonly offset: number;
}

/** Options of {@link createKafkaProducer}. */
export interface KafkaProducerOptions extends KafkaConnectionOptions {
  /** How long messages wait to be batched, in ms. Default 5. */
  readonly lingerMs?: number;
  /**
   * Receives client warnings, one line each; repeats of a warning are collapsed into one line per
   * 10 s with their count (see {@link dedupeEvents}). Default: ignored.
   */
  readonly onWarning?: (message: string) => void;
  /** The compression of produced batches: `'none'`, `'gzip'`, `'snappy'`, `'lz4'` or `'zstd'`. Default `'lz4'`. */
  readonly compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /**
   * The largest message the client accepts, in bytes, before compression (librdkafka's
   * `message.max.bytes`); a larger one is refused by `send` with the client's "Message size too large".
   * Default 1 000 000, as librdkafka. The topic's `max.message.bytes` still applies on the broker.
   */
  readonly maxMessageBytes?: number;
  /**
   * Whether producing to a missing topic asks the brokers to create it (librdkafka's
   * `allow.auto.create.topics`; the brokers must allow it too). Default `true`.
   */
  readonly autoCreateTopics?: boolean;
}

/** What {@link KafkaProducer.send} takes besides the topic and value. */
export interface SendOptions {
  /** The message's key: text, bytes, or `null`/absent for none. */
  readonly key?: string | Buffer | null;
  /**
   * The message's headers: a name-to-text map, or a list of one-entry objects (`{ name: value }`) in
   * order, as the consumer gives them, whose values are bytes or text (a name may repeat).
   */
  readonly headers?: Readonly<Record<string, string>> | readonly KafkaHeader[];
  /** Called once with where the message landed, or with the error that made it fail. */
  readonly onDelivery?: (error: TicketflowError | undefined, delivery: Delivery | undefined) => void;
}

/** A connected producer with delivery reports. */
export interface KafkaProducer {
  /**
   * Queues one message; `onDelivery` is called with its partition and offset once the brokers have it,
   * or with an error. Waits (polling the client) while the client's queue is full. The value's bytes
   * are sent as given: an empty Buffer or string is an empty value, `null` a message without value (a
   * tombstone). Rejects with a {@link TicketflowError} when the client refuses the message at once (for
   * instance larger than `maxMessageBytes`: the client error is its `cause`, code 10).
   */
  send(topic: string, value: string | Buffer | null, options?: SendOptions): Promise<void>;
  /**
   * Whether the brokers know `topic` (a metadata request; with `autoCreateTopics: false` it never
   * creates the topic). Rejects with a {@link TicketflowError} when the brokers cannot be asked.
   */
  hasTopic(topic: string, timeoutMs?: number): Promise<boolean>;
  /** Resolves once every queued message is delivered; rejects on the first delivery failure since the last flush. */
  flush(timeoutMs?: number): Promise<void>;
  /**
   * Flushes (waiting at most `timeoutMs`, default 30 000 ms) and disconnects; rejects as `flush` does,
   * but disconnects in any case.
   */
  close(timeoutMs?: number): Promise<void>;
}

type OnDelivery = (error: TicketflowError | undefined, delivery: Delivery | undefined) => void;

const QUEUE_FULL = RDKAFKA.QUEUE_FULL;

/**
 * An empty value that stays empty: the client passes the data pointer of a Buffer on, and a zero-length
 * Buffer of its own has none, so librdkafka would write NULL (no value) instead of an empty value. A
 * zero-length view into a larger Buffer has a pointer.
 */
const EMPTY = Buffer.alloc(1).subarray(0, 0);
export const bytesOf = (b: Buffer): Buffer => (b.length === 0 ? EMPTY : b);

/** Headers in the client's form: a list of one-entry objects whose values are bytes. */
export function clientHeaders(headers: SendOptions['headers']): Array<Record<string, Buffer>> | undefined {
  if (headers === undefined) return undefined;
  const list: ReadonlyArray<Readonly<Record<string, unknown>>> = Array.isArray(headers)
    ? headers
    : Object.entries(headers as Record<string, string>).map(([name, v]) => ({ [name]: v }));
  const out: Array<Record<string, Buffer>> = [];
  for (const header of list) {
    for (const [name, v] of Object.entries(header)) {
      // The client cannot send a header without value: it travels as an empty one.
      out.push({ [name]: bytesOf(Buffer.isBuffer(v) ? v : Buffer.from(v == null ? '' : String(v))) });
    }
  }
  return out;
}

/**
 * Connects an idempotent producer (`acks=all`, no duplicates on retry) to Kafka or Redpanda.
 *
 * @example
 * ```ts
 * const producer = await createKafkaProducer({ brokers: '127.0.0.1:9092' });
 * await producer.send('client_tickets', JSON.stringify(ticket), {
 *   onDelivery: (error, d) => console.log(error ?? `Delivered to ${d!.topic} [${d!.partition}] @ offset ${d!.offset}`),
 * });
 * await producer.close();
 * ```
 */
export async function createKafkaProducer(options: KafkaProducerOptions): Promise<KafkaProducer> {
  const connection = librdkafkaConfig(options);
  const brokers = String(connection['bootstrap.servers']);
  const Kafka = kafkaModule();
  const producer: Producer = new Kafka.Producer({
    ...connection,
    dr_cb: true,
    'enable.idempotence': true,
    acks: 'all',
    'linger.ms': options.lingerMs ?? 5,
    'queue.buffering.max.messages': 500_000,
    'compression.type': options.compression ?? 'lz4',
    ...(options.maxMessageBytes !== undefined ? { 'message.max.bytes': options.maxMessageBytes } : {}),
    ...(options.autoCreateTopics === false ? { 'allow.auto.create.topics': false } : {}),
    ...options.librdkafka,
  } as never);
  const warn = options.onWarning ? dedupeMessages(options.onWarning) : undefined;
  let failure: TicketflowError | undefined;
  let authFailure: TicketflowError | undefined;
  let pending = 0;
  producer.on('delivery-report', (error: LibrdKafkaError, report: DeliveryReport) => {
    pending -= 1;
    const callback = report.opaque as OnDelivery | undefined;
    if (error) {
      const wrapped = fromClientError(error, `delivering to ${report.topic}`, brokers);
      failure ??= wrapped;
      callback?.(wrapped, undefined);
    } else {
      callback?.(undefined, { topic: report.topic, partition: report.partition, offset: report.offset });
    }
  });
  producer.on('event.error', (error: LibrdKafkaError) => {
    if (isAuthenticationError(error)) authFailure ??= fromClientError(error, 'producing', brokers);
    else warn?.(`kafka: ${error.message}`);
  });
  try {
    await connectClient(producer, brokers, options.connectTimeoutMs ?? 15_000, `connecting to ${brokers}`);
  } catch (error) {
    // The client keeps retrying in the background until told to stop; its disconnection waits for the
    // pending connection attempt (up to its timeout), so the failure is reported without waiting for it.
    try {
      producer.disconnect();
    } catch {
      // Never connected: nothing to stop.
    }
    warn?.flush();
    throw error;
  }
  producer.setPollInterval(20);

  const flush = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    await call<void>((cb) => producer.flush(timeoutMs, cb as never)).catch((error: unknown) => {
      throw fromClientError(error, 'flushing the producer', brokers);
    });
    // The brokers have every message once flush returns; their delivery reports still wait in the queue.
    while (pending > 0 && !authFailure) {
      if (Date.now() > deadline) {
        throw new TicketflowError(
          'SOURCE_FAILED',
          `${pending} messages still undelivered after ${timeoutMs} ms`,
          {
            retriable: true,
          },
        );
      }
      producer.poll();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const error = authFailure ?? failure;
    failure = undefined;
    if (error) throw error;
  };

  return {
    async send(topic, value, sendOptions = {}) {
      if (authFailure) throw authFailure;
      const headers = clientHeaders(sendOptions.headers);
      const payload = value === null ? null : bytesOf(typeof value === 'string' ? Buffer.from(value) : value);
      const key = Buffer.isBuffer(sendOptions.key) ? bytesOf(sendOptions.key) : (sendOptions.key ?? null);
      for (;;) {
        try {
          producer.produce(topic, null, payload, key, Date.now(), sendOptions.onDelivery, headers as never);
          pending += 1;
          return;
        } catch (error) {
          if ((error as LibrdKafkaError).code !== QUEUE_FULL)
            throw fromClientError(error, `producing to ${topic}`, brokers);
          producer.poll();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    },
    async hasTopic(topic, timeoutMs = 10_000) {
      const metadata = await call<{ topics: Array<{ name: string; partitions: unknown[] }> }>((cb) =>
        producer.getMetadata({ topic, timeout: timeoutMs }, cb as never),
      ).catch((error: unknown) => {
        throw fromClientError(error, `reading the metadata of ${topic}`, brokers);
      });
      const found = metadata.topics.find((t) => t.name === topic);
      return found !== undefined && found.partitions.length > 0;
    },
    flush,
    async close(timeoutMs) {
      try {
        await flush(timeoutMs);
      } finally {
        producer.setPollInterval(0);
        warn?.flush();
        await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
      }
    },
  };
}

/** True when a message failed for a reason the producer cannot retry. */
export function isFatalDelivery(error: TicketflowError): boolean {
  return error.fatal || error.code === 'AUTHENTICATION_FAILED';
}
